import type BetterSqlite3 from 'better-sqlite3';
import { debug } from '../debug.js';
import type { SessionPatch, SessionStore } from '../store.js';
import { patchJsonText } from './patch-text.js';
import { describe, expiryIndexName, intervalOf, quoteIdentifier, ttlOf } from './sql-common.js';
import { sqliteStatementsSql, sqliteTableSql } from './sqlite-sql.js';

/** An open better-sqlite3 database. */
export type SqliteDatabase = BetterSqlite3.Database;

interface SqliteStoreCommonOptions {
  /**
   * Name of the table holding one row per session (`sid`, `data`, `expires_at`);
   * created with an index on `expires_at` when missing. Letters, digits and `_`.
   * @default 'sessions'
   */
  table?: string;
  /**
   * Milliseconds between sweeps that delete expired rows (expired rows are
   * never loaded in the meantime). `0` turns the sweep off. The timer is
   * `unref()`ed, so it never keeps the process alive.
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
         * A database you opened with `better-sqlite3`. The store uses it as it
         * is (its journal mode included) and never closes it.
         */
        db: SqliteDatabase;
        path?: never;
      }
  );

type Params = Record<string, string | number | null>;
type Statement = BetterSqlite3.Statement<[Params]>;
/** Reads the live row, applies the patch and writes it back; false when there was no live row. */
type PatchTransaction = (sid: string, patch: SessionPatch, expiresAt: number | null) => boolean;

interface Prepared {
  readonly db: SqliteDatabase;
  readonly load: Statement;
  readonly save: Statement;
  readonly remove: Statement;
  readonly touch: Statement;
  readonly patch: PatchTransaction;
  readonly sweep: Statement;
}

const STORE = 'SqliteStore';
const DEFAULTS = { table: 'sessions', sweepInterval: 300_000 } as const;
/** Rows deleted per sweep statement; the sweep yields to the event loop between batches. */
const SWEEP_BATCH = 1000;

/**
 * Keeps sessions in an SQLite database through `better-sqlite3` (12.x; install
 * it yourself): one row per session in a table (default `sessions`) with the
 * exact JSON string and `expires_at` (ms since the epoch, NULL for never),
 * indexed. Durable on one machine: sessions survive a restart. Expired rows
 * are invisible to `load` and deleted by a periodic sweep. `patch` reads and
 * rewrites the row in one IMMEDIATE transaction, so concurrent requests of one
 * session keep each other's writes, even across processes sharing the file.
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
  #timer: NodeJS.Timeout | undefined;
  #sweeping = false;
  #closed = false;

  constructor(options: SqliteStoreOptions) {
    if (options === null || typeof options !== 'object') {
      throw new TypeError("koa-session-store: SqliteStore needs an options object such as { path: './sessions.db' } or { db }");
    }
    const { path, db } = options as { path?: unknown; db?: unknown };
    if ((path === undefined) === (db === undefined)) {
      throw new TypeError(
        'koa-session-store: SqliteStore needs exactly one of the options path (a file to open) and db (a better-sqlite3 database you opened)',
      );
    }
    const table = quoteIdentifier(STORE, 'table', options.table ?? DEFAULTS.table);
    const index = expiryIndexName(options.table ?? DEFAULTS.table);
    const sweepInterval = intervalOf(STORE, 'sweepInterval', options.sweepInterval, DEFAULTS.sweepInterval);
    this.table = options.table ?? DEFAULTS.table;

    if (db !== undefined) {
      if (db === null || typeof db !== 'object' || typeof (db as { prepare?: unknown }).prepare !== 'function') {
        throw new TypeError(`koa-session-store: option db of SqliteStore must be an open better-sqlite3 Database, got ${describe(db)}`);
      }
      this.#owned = false;
      // Synchronous, so a closed or read-only database fails right here, where the store is made.
      this.#prepared = prepare(db as SqliteDatabase, table, index);
      this.#ready = Promise.resolve(this.#prepared);
    } else {
      if (typeof path !== 'string' || path === '') {
        throw new TypeError(`koa-session-store: option path of SqliteStore must be a file path, got ${describe(path)}`);
      }
      this.#owned = true;
      this.#ready = openFile(path).then((opened) => {
        try {
          if (this.#closed) throw new Error('koa-session-store: this SqliteStore was closed before its database opened');
          this.#prepared = prepare(opened, table, index);
          return this.#prepared;
        } catch (error) {
          opened.close();
          throw error;
        }
      });
      // A failure to open is reported by every call; this only keeps it from being an unhandled rejection meanwhile.
      this.#ready.catch(() => {});
    }

    if (sweepInterval > 0) {
      this.#timer = setInterval(() => {
        this.sweep().catch((error: unknown) => debug('SqliteStore sweep failed: %s', error instanceof Error ? error.message : String(error)));
      }, sweepInterval);
      this.#timer.unref();
    }
  }

  /** The stored JSON string, or null when the row is missing or expired. */
  load(sid: string): string | null | Promise<string | null> {
    return this.#call((prepared) => {
      const data = prepared.load.get({ sid: idOf(sid), now: Date.now() });
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
   * Deletes every expired row now, in batches, and resolves to how many went.
   * The periodic sweep calls this; call it yourself when `sweepInterval` is 0.
   */
  async sweep(): Promise<number> {
    if (this.#sweeping) return 0;
    this.#sweeping = true;
    try {
      const prepared = await this.#open();
      let deleted = 0;
      for (;;) {
        if (this.#closed) break;
        const { changes } = prepared.sweep.run({ now: Date.now(), limit: SWEEP_BATCH });
        deleted += changes;
        if (changes < SWEEP_BATCH) break;
        await new Promise((resolve) => setImmediate(resolve));
      }
      return deleted;
    } finally {
      this.#sweeping = false;
    }
  }

  /**
   * Stops the sweep; closes the database if the store opened it (from `path`).
   * A database passed as `db` stays open: close it yourself. Later calls reject.
   */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    if (this.#timer) clearInterval(this.#timer);
    this.#timer = undefined;
    if (!this.#owned) return;
    let prepared: Prepared;
    try {
      prepared = await this.#ready;
    } catch {
      return; // Never opened: nothing to close.
    }
    if (prepared.db.open) prepared.db.close();
  }

  /**
   * Runs `work` on the prepared statements. better-sqlite3 is synchronous, so
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

/** Loads better-sqlite3 only now, so that nobody who does not use SQLite needs it installed. */
async function openFile(path: string): Promise<SqliteDatabase> {
  let Database: typeof BetterSqlite3;
  try {
    // A dynamic import resolves from this file in the ES module build and becomes require() in the CommonJS one.
    Database = (await import('better-sqlite3')).default;
  } catch (error) {
    throw new Error('koa-session-store: SqliteStore needs the better-sqlite3 package; install it with `npm install better-sqlite3@12`', {
      cause: error,
    });
  }
  let db: SqliteDatabase;
  try {
    db = new Database(path);
  } catch (error) {
    const reason = error instanceof Error ? error.message : String(error);
    throw new Error(`koa-session-store: SqliteStore could not open the database file ${JSON.stringify(path)} (${reason}); check the path and its permissions`, {
      cause: error,
    });
  }
  try {
    // WAL lets readers go on while a write commits, and survives a crash with every committed write.
    db.pragma('journal_mode = WAL');
  } catch (error) {
    db.close();
    throw error;
  }
  return db;
}

/** Creates the table if missing and prepares every statement once. */
function prepare(db: SqliteDatabase, table: string, index: string): Prepared {
  db.exec(sqliteTableSql(table, index));
  const sql = sqliteStatementsSql(table);
  // pluck: load answers the data column's value itself, not a row object.
  const load = db.prepare<[Params]>(sql.load).pluck();
  const rewrite = db.prepare<[Params]>(sql.rewrite);
  // The patch is computed in JavaScript, not with SQLite's JSON functions: they decode a key such as "\ud800"
  // to bytes that are not UTF-8, so "\ud800" and "\ud801" came back as one key. IMMEDIATE takes the write
  // lock before the read, so no other connection (another process on the file) writes the row in between;
  // a deferred transaction could instead fail to upgrade its lock after the read.
  const patch = db.transaction((sid: string, change: SessionPatch, expiresAt: number | null): boolean => {
    const current: unknown = load.get({ sid, now: Date.now() });
    if (typeof current !== 'string') return false;
    // Unchanged since the middleware loaded it: the whole new text is the patched text, no scan needed.
    const data = typeof change.result === 'string' && change.base === current ? change.result : patchJsonText(STORE, current, change);
    rewrite.run({ sid, data, expiresAt });
    return true;
  }).immediate;
  return {
    db,
    load,
    save: db.prepare<[Params]>(sql.save),
    remove: db.prepare<[Params]>(sql.remove),
    touch: db.prepare<[Params]>(sql.touch),
    patch,
    sweep: db.prepare<[Params]>(sql.sweep),
  };
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
