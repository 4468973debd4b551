import type { IndexedSession, SessionPatch, SessionStore } from '../store.js';
import { patchJsonText } from './patch-text.js';
import { entryProblem } from './index-entry.js';
import { describe, expiryIndexName, intervalOf, quoteIdentifier, ttlOf } from './sql-common.js';
import { Sweeper } from './sweeper.js';
import { connect, openFile, type Connection, type SqliteDatabase, type Statement, type ValueStatement } from './sqlite-driver.js';
import { entryOf, exactText } from './sqlite-index.js';
import { sqliteDerivedName, sqliteStatementsSql, sqliteTableSql, type SqliteNames } from './sqlite-sql.js';

export type { SqliteDatabase } from './sqlite-driver.js';

interface SqliteStoreCommonOptions {
  /**
   * Name of the table holding one row per session (`sid`, `data`, `expires_at`);
   * created with an index on `expires_at` when missing, beside `<table>_users`,
   * the users' index of sessions (option `indexBy`). Letters, digits and `_`.
   * @default 'sessions'
   */
  table?: string;
  /**
   * Milliseconds between sweeps that delete expired rows (expired rows are
   * never loaded in the meantime), and the users' index rows of sessions that
   * expired or are gone. `0` turns the sweep off. The timer is `unref()`ed, so
   * it never keeps the process alive.
   * @default 300000
   */
  sweepInterval?: number;
}

/** Options of {@link SqliteStore}: exactly one of `path` and `db`. */
export type SqliteStoreOptions = SqliteStoreCommonOptions &
  (
    | {
        /**
         * Path of the database file, created when missing. The store opens it
         * (loading `better-sqlite3` then), switches it to WAL mode and closes it on `close()`.
         */
        path: string;
        db?: never;
      }
    | {
        /**
         * A database you opened, with `better-sqlite3` (`new Database(path)`)
         * or with Node's built-in `node:sqlite` (`new DatabaseSync(path)`,
         * Node 22.5+, no native build). The store uses it as it is (its journal
         * mode and busy timeout included) and never closes it.
         */
        db: SqliteDatabase;
        path?: never;
      }
  );

/** Reads the live row, applies the patch and writes it back; false when there was no live row. */
type PatchTransaction = (sid: string, patch: SessionPatch, expiresAt: number | null) => boolean;
/** Upserts a user's entry of a live session; false, having written nothing, when the session is missing or expired. */
type IndexTransaction = (user: string | Uint8Array, entry: IndexedSession) => boolean;

interface Prepared {
  readonly db: Connection;
  readonly load: ValueStatement;
  readonly save: Statement;
  readonly remove: Statement;
  readonly touch: Statement;
  readonly patch: PatchTransaction;
  readonly sweep: Statement;
  readonly index: IndexTransaction;
  readonly unindex: Statement;
  readonly list: Statement;
  readonly sweepIndexUpTo: ValueStatement;
  readonly sweepIndex: Statement;
}

const STORE = 'SqliteStore';
const DEFAULTS = { table: 'sessions', sweepInterval: 300_000 } as const;
/** Rows deleted per sweep statement; the sweep yields to the event loop between batches. */
const SWEEP_BATCH = 1000;

/**
 * Keeps sessions in an SQLite database through `better-sqlite3` (12.x; install
 * it yourself) or, for a database you pass as `db`, Node's built-in
 * `node:sqlite`: one row per session in a table (default `sessions`) with the
 * exact JSON string and `expires_at` (ms since the epoch, NULL for never),
 * indexed. Durable on one machine: sessions survive a restart. Expired rows
 * are invisible to `load` and deleted by a periodic sweep. `patch` reads and
 * rewrites the row in one IMMEDIATE transaction, so concurrent requests of one
 * session keep each other's writes, even across processes sharing the file.
 *
 * For the `indexBy` option it keeps a second table, `<table>_users`, created
 * with the first when missing (table names too long for 63 characters are
 * shortened with a hash, as the expiry index's are):
 *
 * ```sql
 * CREATE TABLE IF NOT EXISTS "sessions_users" (
 *   user_id TEXT NOT NULL,        -- a BLOB of the id's JSON when it has a lone surrogate or U+0000
 *   sid TEXT NOT NULL,
 *   created_at INTEGER NOT NULL,
 *   last_active_at INTEGER NOT NULL,
 *   expires_at INTEGER,           -- NULL: never
 *   user_agent TEXT NOT NULL,     -- as user_id
 *   PRIMARY KEY (user_id, sid)
 * );
 * CREATE INDEX IF NOT EXISTS "sessions_users_sid" ON "sessions_users" (sid);
 * ```
 *
 * @example
 * ```ts
 * import { SqliteStore } from 'koa-session-store/sqlite';
 *
 * const store = new SqliteStore({ path: './sessions.db' });
 * ```
 *
 * @example With a database you opened
 * ```ts
 * import Database from 'better-sqlite3';
 *
 * const db = new Database('./app.db');
 * db.pragma('journal_mode = WAL');
 * const store = new SqliteStore({ db, table: 'web_sessions' });
 * ```
 *
 * @example With Node's built-in SQLite (Node 22.5+; 22.5 to 22.12 need `--experimental-sqlite`)
 * ```ts
 * import { DatabaseSync } from 'node:sqlite';
 *
 * const db = new DatabaseSync('./sessions.db');
 * // What the store sets on a file it opens itself; a database you pass is used as it is.
 * db.exec('PRAGMA journal_mode = WAL; PRAGMA busy_timeout = 5000');
 * const store = new SqliteStore({ db });
 * ```
 */
export class SqliteStore implements SessionStore {
  /** The table name, unquoted. */
  readonly table: string;
  /** Set once the database is open and the statements prepared. */
  #prepared: Prepared | undefined;
  /** Settles when the database is open; with `db` it is settled from the start. */
  readonly #ready: Promise<Prepared>;
  /** Whether `close()` closes the database: only one the store opened itself. */
  readonly #owned: boolean;
  readonly #sweeper: Sweeper;
  #closed = false;

  constructor(options: SqliteStoreOptions) {
    if (options === null || typeof options !== 'object') {
      throw new TypeError("koa-session-store: SqliteStore needs an options object such as { path: './sessions.db' } or { db }");
    }
    const { path, db } = options as { path?: unknown; db?: unknown };
    if ((path === undefined) === (db === undefined)) {
      throw new TypeError(
        'koa-session-store: SqliteStore needs exactly one of the options path (a file to open) and db (a better-sqlite3 or node:sqlite database you opened)',
      );
    }
    const tableName = options.table ?? DEFAULTS.table;
    const names: SqliteNames = {
      table: quoteIdentifier(STORE, 'table', tableName),
      index: expiryIndexName(tableName),
      users: sqliteDerivedName(tableName, '_users'),
      usersSid: sqliteDerivedName(tableName, '_users_sid'),
    };
    const sweepInterval = intervalOf(STORE, 'sweepInterval', options.sweepInterval, DEFAULTS.sweepInterval);
    this.table = tableName;

    if (db !== undefined) {
      const connection = connect(db);
      if (connection === undefined) {
        throw new TypeError(
          `koa-session-store: option db of SqliteStore must be an open better-sqlite3 Database or node:sqlite DatabaseSync, got ${describe(db)}`,
        );
      }
      this.#owned = false;
      // Synchronous, so a closed or read-only database fails right here, where the store is made.
      try {
        this.#prepared = prepare(connection, names);
      } catch (error) {
        connection.retire();
        throw error;
      }
      this.#ready = Promise.resolve(this.#prepared);
    } else {
      if (typeof path !== 'string' || path === '') {
        throw new TypeError(`koa-session-store: option path of SqliteStore must be a file path, got ${describe(path)}`);
      }
      this.#owned = true;
      this.#ready = openFile(path).then((opened) => {
        try {
          if (this.#closed) throw new Error('koa-session-store: this SqliteStore was closed before its database opened');
          this.#prepared = prepare(opened, names);
          return this.#prepared;
        } catch (error) {
          opened.close();
          opened.retire();
          throw error;
        }
      });
      // A failure to open is reported by every call; this only keeps it from being an unhandled rejection meanwhile.
      this.#ready.catch(() => {});
    }

    this.#sweeper = new Sweeper(STORE, sweepInterval, () => this.#sweepOnce());
  }

  /** Once the database is open and until close: then `load` answers with a plain value (see `#call`). */
  loadsSynchronously(): boolean {
    return this.#prepared !== undefined && !this.#closed;
  }

  /** The stored JSON string, or null when the row is missing or expired. */
  load(sid: string): string | null | Promise<string | null> {
    return this.#call((prepared) => {
      const data = prepared.load.value({ sid: idOf(sid), now: Date.now() });
      return typeof data === 'string' ? data : null;
    });
  }

  /** Inserts or replaces the row; without `ttlMs` it never expires. */
  save(sid: string, json: string, ttlMs?: number): void | Promise<void> {
    return this.#call((prepared) => {
      if (typeof json !== 'string') {
        throw new TypeError(`koa-session-store: SqliteStore.save needs the session as a JSON string, got ${describe(json)}`);
      }
      prepared.save.run({ sid: idOf(sid), data: json, expiresAt: expiresAt(ttlMs) });
    });
  }

  /** Deletes the row; a missing one is fine. */
  remove(sid: string): void | Promise<void> {
    return this.#call((prepared) => {
      prepared.remove.run({ sid: idOf(sid) });
    });
  }

  /** Sets a live row's expiry to `ttlMs` from now (never, without `ttlMs`); a missing or expired row stays gone. */
  touch(sid: string, ttlMs?: number): void | Promise<void> {
    return this.#call((prepared) => {
      prepared.touch.run({ sid: idOf(sid), now: Date.now(), expiresAt: expiresAt(ttlMs) });
    });
  }

  /**
   * Applies `patch` to a live row and resets its expiry to `ttlMs` from now,
   * reading and writing the row in one IMMEDIATE transaction. Keys not named
   * by the patch keep their exact text. When the row is still exactly
   * `patch.base`, `patch.result` is written whole. False, having written
   * nothing, when the row is missing or expired.
   */
  patch(sid: string, patch: SessionPatch, ttlMs?: number): boolean | Promise<boolean> {
    return this.#call((prepared) => prepared.patch(idOf(sid), patch, expiresAt(ttlMs)));
  }

  /**
   * Upserts `entry` into `userId`'s rows of `<table>_users` in one IMMEDIATE
   * transaction: a known session keeps its `createdAt` and `userAgent`, the
   * user's expired entries are deleted, and so is the session's entry under
   * another user. False, having written nothing, when the session is missing
   * or expired, so a session removed meanwhile is never indexed.
   */
  indexSession(userId: string, entry: IndexedSession): boolean | Promise<boolean> {
    return this.#call((prepared) => {
      const problem = entryProblem(entry);
      if (problem !== undefined) throw new TypeError(`koa-session-store: SqliteStore.indexSession: ${problem}`);
      return prepared.index(userKey(userId), entry);
    });
  }

  /** Deletes `sid`'s row from `userId`'s entries; a missing one is fine. */
  unindexSession(userId: string, sid: string): void | Promise<void> {
    return this.#call((prepared) => {
      prepared.unindex.run({ user: userKey(userId), sid: idOf(sid) });
    });
  }

  /** `userId`'s entries, in no order; entries of sessions that expired or were removed may be among them. */
  listIndexed(userId: string): IndexedSession[] | Promise<IndexedSession[]> {
    return this.#call((prepared) => {
      const entries: IndexedSession[] = [];
      for (const row of prepared.list.all({ user: userKey(userId) })) {
        const entry = entryOf(row);
        if (entry !== undefined) entries.push(entry);
      }
      return entries;
    });
  }

  /**
   * Deletes every expired row now, in batches, and resolves to how many went;
   * then deletes the users' index rows of sessions that expired or are gone
   * (a process that stopped between removing a session and unindexing it),
   * walking the index in batches. The periodic sweep calls this; call it
   * yourself when `sweepInterval` is 0.
   */
  async sweep(): Promise<number> {
    if (this.#closed) throw closedError();
    return this.#sweeper.run();
  }

  async #sweepOnce(): Promise<number> {
    const prepared = await this.#open();
    let deleted = 0;
    for (;;) {
      if (this.#closed) return deleted;
      const changes = prepared.sweep.run({ now: Date.now(), limit: SWEEP_BATCH });
      deleted += changes;
      if (changes < SWEEP_BATCH) break;
      await yieldToEventLoop();
    }
    let after = 0;
    for (;;) {
      if (this.#closed) return deleted;
      const upTo = prepared.sweepIndexUpTo.value({ after, limit: SWEEP_BATCH });
      if (typeof upTo !== 'number') break;
      prepared.sweepIndex.run({ after, upTo, now: Date.now() });
      after = upTo;
      await yieldToEventLoop();
    }
    return deleted;
  }

  /**
   * Stops the sweep (waiting for one that runs); closes the database if the
   * store opened it (from `path`). A database passed as `db` stays open:
   * close it yourself. Later calls reject.
   */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await this.#sweeper.stop();
    let prepared: Prepared;
    try {
      prepared = await this.#ready;
    } catch {
      return; // Never opened: nothing to close.
    }
    // The statements are never left to the garbage collector: see retired in sqlite-driver.ts.
    if (this.#owned) prepared.db.close();
    prepared.db.retire();
  }

  /**
   * Runs `work` on the prepared statements. Both drivers are synchronous, so
   * once the database is open the answer is a plain value (or a thrown error),
   * which the middleware uses without a promise or a timer; only calls made
   * while a `path` is still opening get a promise.
   */
  #call<T>(work: (prepared: Prepared) => T): T | Promise<T> {
    if (this.#closed) return Promise.reject(closedError());
    if (this.#prepared) return work(this.#prepared);
    return this.#ready.then((prepared) => {
      if (this.#closed) throw closedError();
      return work(prepared);
    });
  }

  async #open(): Promise<Prepared> {
    if (this.#closed) throw closedError();
    return this.#prepared ?? (await this.#ready);
  }
}

function closedError(): Error {
  return new Error('koa-session-store: this SqliteStore is closed; create a new SqliteStore to use the database again');
}

/** Creates the tables if missing and prepares every statement once. */
function prepare(db: Connection, names: SqliteNames): Prepared {
  db.exec(sqliteTableSql(names));
  const sql = sqliteStatementsSql(names);
  const load = db.prepareValue(sql.load);
  const rewrite = db.prepare(sql.rewrite);
  // The patch is computed in JavaScript, not with SQLite's JSON functions: they decode a key such as "\ud800"
  // to bytes that are not UTF-8, so "\ud800" and "\ud801" came back as one key. IMMEDIATE takes the write
  // lock before the read, so no other connection (another process on the file) writes the row in between;
  // a deferred transaction could instead fail to upgrade its lock after the read.
  const patch = db.immediate((sid: string, change: SessionPatch, expiresAt: number | null): boolean => {
    const current = load.value({ sid, now: Date.now() });
    if (typeof current !== 'string') return false;
    // Unchanged since the middleware loaded it: the whole new text is the patched text, no scan needed.
    const data = typeof change.result === 'string' && change.base === current ? change.result : patchJsonText(STORE, current, change);
    rewrite.run({ sid, data, expiresAt });
    return true;
  });
  const alive = db.prepareValue(sql.alive);
  const dropExpired = db.prepare(sql.dropExpired);
  const dropForeign = db.prepare(sql.dropForeign);
  const upsert = db.prepare(sql.upsert);
  // One transaction, so a session removed by another process between the check and the write stays out.
  const index = db.immediate((user: string | Uint8Array, entry: IndexedSession): boolean => {
    const now = Date.now();
    if (alive.value({ sid: entry.sid, now }) === undefined) return false;
    dropExpired.run({ user, now });
    dropForeign.run({ user, sid: entry.sid });
    upsert.run({
      user,
      sid: entry.sid,
      createdAt: entry.createdAt,
      lastActiveAt: entry.lastActiveAt,
      expiresAt: entry.expiresAt,
      userAgent: exactText(entry.userAgent),
    });
    return true;
  });
  return {
    db,
    load,
    save: db.prepare(sql.save),
    remove: db.prepare(sql.remove),
    touch: db.prepare(sql.touch),
    patch,
    sweep: db.prepare(sql.sweep),
    index,
    unindex: db.prepare(sql.unindex),
    list: db.prepare(sql.list),
    sweepIndexUpTo: db.prepareValue(sql.sweepIndexUpTo),
    sweepIndex: db.prepare(sql.sweepIndex),
  };
}

function yieldToEventLoop(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

/** A user id as the index's user_id column keeps it exactly. */
function userKey(userId: string): string | Uint8Array {
  if (typeof userId !== 'string') {
    throw new TypeError(`koa-session-store: a user id must be a string, got ${describe(userId)}`);
  }
  return exactText(userId);
}

function idOf(sid: string): string {
  if (typeof sid !== 'string') {
    throw new TypeError(`koa-session-store: a session id must be a string, got ${describe(sid)}`);
  }
  return sid;
}

function expiresAt(ttlMs: number | undefined): number | null {
  const ttl = ttlOf(ttlMs);
  return ttl === null ? null : Date.now() + ttl;
}
