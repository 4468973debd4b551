import { setTimeout as sleep } from 'node:timers/promises';
import { debug } from '../debug.js';
import type { IndexedSession, SessionPatch, SessionStore } from '../store.js';
import { codeOf, isConnectionLost, isPgPool, isPostgresJs, pgDriver, postgresJsDriver, TIMEOUT_MESSAGE } from './postgres-driver.js';
import type { Driver, PgPool, PostgresJsSql, Query } from './postgres-driver.js';
import { INDEX_SWEEP_BATCH, postgresCreateSql, postgresNames, postgresStatementsSql } from './postgres-sql.js';
import type { PostgresNames } from './postgres-sql.js';
import { describe, fromStorableText, intervalOf, millisRead, patchMembers, storedEntry, storedUserId, ttlOf } from './sql-common.js';
import { Sweeper } from './sweeper.js';

/**
 * Options of {@link PostgresStore}. Give it a connection pool of one of the two
 * drivers: `pool` (node-postgres) or `sql` (postgres.js), not both.
 */
export interface PostgresStoreOptions {
  /**
   * A `pg.Pool` (node-postgres, `pg` 8). The store borrows a client per
   * operation and never ends the pool: end it yourself on shutdown. Give it an
   * `'error'` listener, as `pg` asks, so a connection dropped while idle does
   * not crash the process.
   */
  pool?: PgPool;
  /**
   * A postgres.js client (`postgres` 3): `sql` as `postgres(url)` returns it.
   * Statements go to its pool one at a time, prepared unless the client was
   * created with `prepare: false`; the store never ends the client: call
   * `sql.end()` yourself on shutdown. A column transform of the client
   * (`transform: postgres.camel`) does not change what the store reads.
   */
  sql?: PostgresJsSql;
  /**
   * Name of the table holding one row per session. Letters, digits and `_`.
   * The users' index of sessions (option `indexBy` of the middleware) is the
   * table `<table>_users` beside it.
   * @default 'sessions'
   */
  table?: string;
  /**
   * Schema of the tables. Letters, digits and `_`.
   * @default 'public'
   */
  schema?: string;
  /**
   * Whether the store creates the schema, the tables and their indexes when
   * they are missing, on its first operation. Turn it off when migrations
   * create them (see `postgresTableSql()`) or the database role may not run
   * DDL.
   * @default true
   */
  createTable?: boolean;
  /**
   * Milliseconds between sweeps that delete expired rows (expired rows are
   * never loaded in the meantime), and then the users' index entries of
   * sessions that are gone or expired. `0` turns the sweep off, for example
   * when a cron job or one designated process calls `sweep()`. The timer is
   * `unref()`ed, so it never keeps the process alive.
   * @default 0
   */
  sweepInterval?: number;
  /**
   * How long, in milliseconds, each operation may take in all (waiting for a
   * connection included) before it rejects, so a dead or unreachable server
   * fails the request instead of hanging it. A statement still running then
   * (waiting for a row lock, say) is cancelled on the server, so a write
   * reported as failed does not land later. `0` turns the limit off.
   * @default 2000
   */
  queryTimeout?: number;
}

const STORE = 'PostgresStore';
const DEFAULTS = { table: 'sessions', schema: 'public', createTable: true, sweepInterval: 0, queryTimeout: 2000 } as const;

/** SQLSTATEs of errors raised when two sessions create the same object at the same moment. */
const ALREADY_CREATED = new Set(['23505', '42P06', '42P07', '42710']);
/** SQLSTATEs of JSON text that jsonb cannot hold (\u0000; lone surrogates; NUL in a key). */
const NOT_JSONB = new Set(['22P05', '22P02', '22021']);
/** SQLSTATEs that mean the table or its schema is not there. */
const MISSING_TABLE = new Set(['42P01', '3F000']);
/** The role may not create a table. */
const INSUFFICIENT_PRIVILEGE = '42501';
/** PostgreSQL rolled the whole statement back to break a deadlock: nothing of it was written. */
const DEADLOCK = '40P01';
/** Tries of an operation PostgreSQL keeps choosing as a deadlock's victim. */
const DEADLOCK_ATTEMPTS = 3;
/** Milliseconds to wait before trying an operation again on another connection after its connection broke. */
const RETRY_PAUSE = 10;
/** What a patch's first statement answers when the data needs the fallback. */
const NEEDS_FALLBACK = Symbol('jsonb cannot hold it');

type Statements = ReturnType<typeof postgresStatementsSql>;

/** How an operation runs: in a transaction, and which table its errors name when it is missing. */
interface RunOptions {
  readonly transaction?: boolean;
  readonly table?: string;
}

/**
 * Keeps sessions in PostgreSQL through a `pg.Pool` or a postgres.js client
 * (install `pg` or `postgres` yourself): one row per session with the exact
 * JSON text and `expires_at timestamptz` (NULL: never), indexed. Expiry times
 * come from the server's clock. Expired rows are invisible to `load`; the
 * optional sweep deletes them. `patch` is one `UPDATE` on `jsonb`, so
 * concurrent requests of one session keep each other's writes, across any
 * number of app servers. With the middleware's `indexBy` option, each user's
 * sessions are listed in the table `<table>_users`.
 *
 * @example
 * ```ts
 * import pg from 'pg';
 * import { PostgresStore } from 'koa-session-store/postgres';
 *
 * const pool = new pg.Pool({ connectionString: process.env.DATABASE_URL });
 * pool.on('error', (error) => log.warn(error)); // idle connections can drop
 * const store = new PostgresStore({ pool, sweepInterval: 15 * 60_000 });
 * ```
 *
 * @example
 * ```ts
 * import postgres from 'postgres';
 * import { PostgresStore } from 'koa-session-store/postgres';
 *
 * const sql = postgres(process.env.DATABASE_URL);
 * const store = new PostgresStore({ sql, sweepInterval: 15 * 60_000 });
 * ```
 */
export class PostgresStore implements SessionStore {
  /** The schema name, unquoted. */
  readonly schema: string;
  /** The table name, unquoted. */
  readonly table: string;
  readonly #driver: Driver;
  readonly #names: PostgresNames;
  readonly #sql: Statements;
  readonly #createTable: boolean;
  readonly #queryTimeout: number;
  /** The one table check/creation every operation waits for; reset on failure, so the next call tries again. */
  #tableReady: Promise<void> | undefined;
  readonly #sweeper: Sweeper;
  #closed = false;

  constructor(options: PostgresStoreOptions) {
    if (options === null || typeof options !== 'object') {
      throw new TypeError('koa-session-store: PostgresStore needs an options object such as { pool: new pg.Pool() } or { sql: postgres(url) }');
    }
    this.#driver = driverOf(options);
    this.schema = options.schema ?? DEFAULTS.schema;
    this.table = options.table ?? DEFAULTS.table;
    this.#names = postgresNames(this.schema, this.table);
    const createTable = options.createTable ?? DEFAULTS.createTable;
    if (typeof createTable !== 'boolean') {
      throw new TypeError(`koa-session-store: option createTable of PostgresStore must be true or false, got ${describe(createTable)}`);
    }
    this.#queryTimeout = intervalOf(STORE, 'queryTimeout', options.queryTimeout, DEFAULTS.queryTimeout);
    const sweepInterval = intervalOf(STORE, 'sweepInterval', options.sweepInterval, DEFAULTS.sweepInterval);
    this.#sql = postgresStatementsSql(this.#names);
    this.#createTable = createTable;
    this.#sweeper = new Sweeper(STORE, sweepInterval, () => this.#sweepOnce());
  }

  /** Resolves to the stored JSON text, or null when the row is missing or expired. */
  async load(sid: string): Promise<string | null> {
    const id = idOf(sid);
    const result = await this.#run('load', (query) => query<{ data: string }>(this.#sql.load, [id]));
    return result.rows[0]?.data ?? null;
  }

  /** Inserts or replaces the row (`INSERT … ON CONFLICT (sid) DO UPDATE`); without `ttlMs` it never expires. */
  async save(sid: string, json: string, ttlMs?: number): Promise<void> {
    const id = idOf(sid);
    if (typeof json !== 'string') {
      throw new TypeError(`koa-session-store: PostgresStore.save needs the session as a JSON string, got ${describe(json)}`);
    }
    const ttl = ttlOf(ttlMs);
    await this.#run('save', (query) => query(this.#sql.save, [id, json, ttl]));
  }

  /** Deletes the row; a missing one is fine. */
  async remove(sid: string): Promise<void> {
    const id = idOf(sid);
    await this.#run('remove', (query) => query(this.#sql.remove, [id]));
  }

  /** Sets a live row's expiry to `ttlMs` from now (never, without `ttlMs`); a missing or expired row stays gone. */
  async touch(sid: string, ttlMs?: number): Promise<void> {
    const id = idOf(sid);
    const ttl = ttlOf(ttlMs);
    await this.#run('touch', (query) => query(this.#sql.touch, [id, ttl]));
  }

  /**
   * Applies `patch` to a live row in one `UPDATE` on `jsonb` and resets its
   * expiry to `ttlMs` from now. The stored text is then jsonb's rendering of
   * the object (key order and spacing change; values do not). Resolves to
   * false, having written nothing, when the row is missing or expired.
   */
  async patch(sid: string, patch: SessionPatch, ttlMs?: number): Promise<boolean> {
    const id = idOf(sid);
    const ttl = ttlOf(ttlMs);
    const setKeys = Object.keys(patch.set);
    const pairs = patchMembers('PostgresStore', patch.set);
    const drop = [...patch.unset, ...setKeys];
    const additions = `{${pairs.join(',')}}`;
    const patched = await this.#run('patch', async (query) => {
      try {
        const result = await query(this.#sql.patch, [id, JSON.stringify(drop), additions, ttl]);
        return result.count > 0;
      } catch (error) {
        if (NOT_JSONB.has(codeOf(error))) return NEEDS_FALLBACK;
        throw error;
      }
    });
    if (patched !== NEEDS_FALLBACK) return patched;
    // The data or the patch holds JSON that jsonb rejects (it has no \u0000 and no lone surrogates), which
    // JSON.stringify writes for some strings. Rare, so the same change is made here under the row's lock:
    // a concurrent jsonb UPDATE waits for the lock and then applies to this result, and the other way round.
    return this.#run(
      'patch',
      async (query) => {
        const locked = await query<{ data: string }>(this.#sql.lockForPatch, [id]);
        const current = locked.rows[0]?.data;
        if (current === undefined) return false;
        await query(this.#sql.writePatched, [id, patchedJson(current, drop, pairs), ttl]);
        return true;
      },
      { transaction: true },
    );
  }

  /**
   * Records that session `entry.sid` belongs to `userId` (option `indexBy` of
   * the middleware), in one statement on `<table>_users`: inserted, or for a
   * known entry `lastActiveAt` and `expiresAt` replaced (`createdAt` and
   * `userAgent` kept), but only while the session's row is alive; the user's
   * entries whose session is gone or expired are deleted on the way. Resolves
   * to false, having written nothing, when the session is missing or expired.
   * Times are kept to the millisecond.
   */
  async indexSession(userId: string, entry: IndexedSession): Promise<boolean> {
    const user = storedUserId(STORE, 'indexSession', userId);
    const stored = storedEntry(STORE, entry);
    const id = idOf(stored.sid);
    const result = await this.#run(
      'indexSession',
      (query) => query(this.#sql.index, [user, id, stored.createdAt, stored.lastActiveAt, stored.expiresAt, stored.userAgent]),
      { table: this.#names.users },
    );
    return result.count > 0;
  }

  /** Deletes `sid` from `userId`'s index; a missing entry is fine. */
  async unindexSession(userId: string, sid: string): Promise<void> {
    const user = storedUserId(STORE, 'unindexSession', userId);
    const id = idOf(sid);
    await this.#run('unindexSession', (query) => query(this.#sql.unindex, [user, id]), { table: this.#names.users });
  }

  /** The entries of `userId`'s index. Entries of sessions that expired or were removed may be among them. */
  async listIndexed(userId: string): Promise<IndexedSession[]> {
    const user = storedUserId(STORE, 'listIndexed', userId);
    const result = await this.#run('listIndexed', (query) => query<IndexRow>(this.#sql.list, [user]), { table: this.#names.users });
    return result.rows.map((row) => ({
      sid: row.sid,
      createdAt: millisRead(row.created) ?? 0,
      lastActiveAt: millisRead(row.active) ?? 0,
      expiresAt: millisRead(row.expires),
      userAgent: fromStorableText(row.agent),
    }));
  }

  /**
   * Deletes every expired row now and resolves to how many went; then deletes
   * the users' index entries of sessions that are gone or expired, 1000 per
   * statement (not counted). The periodic sweep (option `sweepInterval`)
   * calls this.
   */
  async sweep(): Promise<number> {
    if (this.#closed) throw closedError();
    return this.#sweeper.run();
  }

  /** Stops the sweep, waiting for one that runs. The pool or client is yours and stays open. Later calls reject. */
  async close(): Promise<void> {
    this.#closed = true;
    await this.#sweeper.stop();
  }

  async #sweepOnce(): Promise<number> {
    // A sweep queued behind another when close() came: nothing is due any more.
    if (this.#closed) return 0;
    const result = await this.#run('sweep', (query) => query(this.#sql.sweep));
    await this.#sweepIndex();
    return result.count;
  }

  async #sweepIndex(): Promise<void> {
    let deleted = 0;
    try {
      while (!this.#closed) {
        const now = Date.now();
        const batch = await this.#run('sweep', (query) => query(this.#sql.sweepIndex, [now]), { table: this.#names.users });
        deleted += batch.count;
        if (batch.count < INDEX_SWEEP_BATCH) break;
      }
    } catch (error) {
      // Made by migrations without the users' table, the sessions still work: so does their sweep.
      if (!MISSING_TABLE.has(codeOf((error as Error).cause))) throw error;
      debug('PostgresStore sweep: no table %s, no index entries to sweep', this.#names.users);
    }
    if (deleted > 0) debug('PostgresStore sweep deleted %d index entries of sessions that are gone', deleted);
  }

  /**
   * Runs `work` under the `queryTimeout` deadline, after making sure the
   * tables exist, and turns any failure into an Error that says what failed,
   * with the original as its cause.
   */
  async #run<T>(operation: string, work: (query: Query) => Promise<T>, options: RunOptions = {}): Promise<T> {
    if (this.#closed) throw closedError();
    if (!this.#createTable) return this.#attempt(operation, work, options);
    await this.#ensureTable();
    try {
      return await this.#attempt(operation, work, options);
    } catch (error) {
      // A table went away after the store made sure of it (dropped by hand, a test reset): make it again next time.
      if (MISSING_TABLE.has(codeOf((error as Error).cause))) this.#tableReady = undefined;
      throw error;
    }
  }

  #ensureTable(): Promise<void> {
    this.#tableReady ??= this.#attempt('table creation', async (query): Promise<void> => {
      const { rows } = await query<{ tablefound: boolean; usersfound: boolean; schemafound: boolean }>(this.#sql.exists, [
        this.#names.table,
        this.#names.users,
        this.#names.schema,
      ]);
      const [found] = rows;
      if (found?.tablefound && found.usersfound) return;
      try {
        await query(postgresCreateSql(this.#names, found?.schemafound === true));
        debug('PostgresStore created table %s or %s', this.#names.table, this.#names.users);
      } catch (error) {
        // Someone without the lock (another tool, an older version) created the same thing at the same moment: fine.
        if (ALREADY_CREATED.has(codeOf(error))) return;
        // The sessions' table is there and only the users' index is missing (a store upgraded under a role that may
        // not create tables): sessions work as before, and the indexBy methods say which table to create.
        if (found?.tablefound && codeOf(error) === INSUFFICIENT_PRIVILEGE) {
          debug('PostgresStore may not create table %s; the indexBy methods need it (see postgresTableSql())', this.#names.users);
          return;
        }
        throw error;
      }
    }, {}).catch((error: unknown) => {
      this.#tableReady = undefined;
      throw error;
    });
    return this.#tableReady;
  }

  async #attempt<T>(operation: string, work: (query: Query) => Promise<T>, options: RunOptions): Promise<T> {
    const limit = this.#queryTimeout;
    const deadline = limit > 0 ? Date.now() + limit : Infinity;
    let lostRetries = 0;
    for (let attempt = 1; ; attempt += 1) {
      try {
        return await this.#driver.run(deadline, work, options.transaction === true);
      } catch (error) {
        // A pool hands out idle connections the server has dropped (restart, failover, pg_terminate_backend)
        // before it notices, and a connection can break under a statement. Every operation here is idempotent
        // (an upsert, a delete, a patch that sets given values, an index entry replaced), so one more try on a
        // fresh connection is safe, and spares the request a failure. A deadlock victim was rolled back whole.
        const lost = isConnectionLost(error);
        const deadlock = codeOf(error) === DEADLOCK;
        const retry = lost ? lostRetries < this.#driver.retriesAfterLoss : deadlock && attempt < DEADLOCK_ATTEMPTS;
        if (retry && Date.now() + (lost ? RETRY_PAUSE : 0) < deadline) {
          if (lost) lostRetries += 1;
          debug('PostgresStore %s: %s, trying again', operation, lost ? 'connection lost' : 'deadlock');
          // Connections rarely break alone (a restart, a failover, terminated backends): the pause lets the driver
          // learn of its other broken ones before the retry is handed one. postgres.js 3.4 never answers a
          // statement it queued on a connection between the connection's error and its close.
          if (lost) await sleep(RETRY_PAUSE);
          continue;
        }
        throw failure(operation, error, options.table ?? this.#names.table, limit);
      }
    }
  }
}

/** A row of the users' index as `list` reads it; times are whatever the driver makes of a bigint. */
interface IndexRow {
  readonly sid: string;
  readonly created: unknown;
  readonly active: unknown;
  readonly expires: unknown;
  readonly agent: string;
}

/** The driver for the `pool` or `sql` option, or a TypeError naming the option. */
function driverOf(options: PostgresStoreOptions): Driver {
  const { pool, sql } = options;
  if (pool !== undefined && sql !== undefined) {
    throw new TypeError('koa-session-store: PostgresStore takes either option pool (a pg.Pool) or option sql (a postgres.js client), not both');
  }
  if (sql !== undefined) {
    if (!isPostgresJs(sql)) {
      throw new TypeError(`koa-session-store: option sql of PostgresStore must be a postgres.js client (postgres(url) of the postgres package), got ${describe(sql)}`);
    }
    return postgresJsDriver(sql);
  }
  if (isPostgresJs(pool)) {
    throw new TypeError('koa-session-store: option pool of PostgresStore got a postgres.js client; pass it as option sql instead: new PostgresStore({ sql })');
  }
  if (!isPgPool(pool)) {
    throw new TypeError(`koa-session-store: option pool of PostgresStore must be a pg.Pool (or give option sql, a postgres.js client), got ${describe(pool)}`);
  }
  return pgDriver(pool);
}

/** The Error an operation rejects with: what failed and how to fix it, with the driver's error as its cause. */
function failure(operation: string, error: unknown, table: string, limit: number): Error {
  if (error instanceof Error && error.message.startsWith('koa-session-store:')) return error;
  const message = error instanceof Error ? error.message : String(error);
  if (message === TIMEOUT_MESSAGE) {
    return new Error(
      `koa-session-store: PostgreSQL did not answer the ${operation} within ${limit} ms; check that PostgreSQL is reachable and the pool not exhausted, or raise the queryTimeout option of PostgresStore`,
      { cause: error },
    );
  }
  if (MISSING_TABLE.has(codeOf(error))) {
    return new Error(
      `koa-session-store: PostgreSQL ${operation} failed: the table ${table} does not exist (${message}); create it with the SQL from postgresTableSql(), or let the store create it (option createTable of PostgresStore, on by default)`,
      { cause: error },
    );
  }
  return new Error(`koa-session-store: PostgreSQL ${operation} failed (${message}); check that PostgreSQL is reachable and the table usable`, {
    cause: error,
  });
}

/**
 * The patched object as JSON text, computed in JavaScript for the rare data
 * jsonb cannot hold. Kept values are written back by JSON.stringify (same
 * values); new ones are the caller's JSON text, checked to be valid first.
 */
function patchedJson(current: string, drop: readonly string[], pairs: readonly string[]): string {
  // JSON.parse's messages quote the text around the error, which is session data: never let them out.
  const parsed = parseOrNull(current);
  if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) {
    throw new TypeError('koa-session-store: PostgresStore.patch found a stored session that is not a JSON object; it was left as it is');
  }
  const data = parsed as Record<string, unknown>;
  const dropped = new Set(drop);
  const parts: string[] = [];
  for (const key of Object.keys(data)) {
    if (!dropped.has(key)) parts.push(`${JSON.stringify(key)}:${JSON.stringify(data[key])}`);
  }
  for (const pair of pairs) parts.push(pair);
  const text = `{${parts.join(',')}}`;
  // A malformed value in the patch must fail here, not be stored.
  if (parseOrNull(text) === null) {
    throw new TypeError('koa-session-store: PostgresStore.patch got a value in set that is not valid JSON text; nothing was written');
  }
  return text;
}

function parseOrNull(text: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return null;
  }
}

function idOf(sid: string): string {
  if (typeof sid !== 'string') {
    throw new TypeError(`koa-session-store: a session id must be a string, got ${describe(sid)}`);
  }
  return sid;
}

function closedError(): Error {
  return new Error('koa-session-store: this PostgresStore is closed; create a new PostgresStore to use the database again');
}
