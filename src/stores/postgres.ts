import type { Pool, PoolClient, QueryResult, QueryResultRow } from 'pg';
import { withDeadline } from '../deadline.js';
import { debug } from '../debug.js';
import type { SessionPatch, SessionStore } from '../store.js';
import { postgresCreateSql, postgresNames, postgresStatementsSql } from './postgres-sql.js';
import type { PostgresNames } from './postgres-sql.js';
import { describe, intervalOf, patchMembers, ttlOf } from './sql-common.js';

/** Options of {@link PostgresStore}. */
export interface PostgresStoreOptions {
  /**
   * A `pg.Pool`. The store borrows a client per operation and never ends the
   * pool: end it yourself on shutdown. Give it an `'error'` listener, as `pg`
   * asks, so a connection dropped while idle does not crash the process.
   */
  pool: Pool;
  /**
   * Name of the table holding one row per session. Letters, digits and `_`.
   * @default 'sessions'
   */
  table?: string;
  /**
   * Schema of the table. Letters, digits and `_`.
   * @default 'public'
   */
  schema?: string;
  /**
   * Whether the store creates the schema, table and expiry index when they are
   * missing, on its first operation. Turn it off when migrations create the
   * table (see `postgresTableSql()`) or the database role may not run DDL.
   * @default true
   */
  createTable?: boolean;
  /**
   * Milliseconds between sweeps that delete expired rows (expired rows are
   * never loaded in the meantime). `0` turns the sweep off, for example when a
   * cron job or one designated process runs `DELETE … WHERE expires_at <= now()`.
   * The timer is `unref()`ed, so it never keeps the process alive.
   * @default 0
   */
  sweepInterval?: number;
  /**
   * How long, in milliseconds, each operation may take in all (waiting for a
   * pool client included) before it rejects, so a dead or unreachable server
   * fails the request instead of hanging it. `0` turns the limit off.
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

type Statements = ReturnType<typeof postgresStatementsSql>;

/**
 * Keeps sessions in PostgreSQL through a `pg.Pool` (install `pg` yourself):
 * one row per session with the exact JSON text and `expires_at timestamptz`
 * (NULL: never), indexed. Expiry times come from the server's clock. Expired
 * rows are invisible to `load`; the optional sweep deletes them. `patch` is one
 * `UPDATE` on `jsonb`, so concurrent requests of one session keep each other's
 * writes, across any number of app servers.
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
 */
export class PostgresStore implements SessionStore {
  /** The schema name, unquoted. */
  readonly schema: string;
  /** The table name, unquoted. */
  readonly table: string;
  readonly #pool: Pool;
  readonly #names: PostgresNames;
  readonly #sql: Statements;
  readonly #createTable: boolean;
  readonly #queryTimeout: number;
  /** The one table check/creation every operation waits for; reset on failure, so the next call tries again. */
  #tableReady: Promise<void> | undefined;
  #timer: NodeJS.Timeout | undefined;
  #sweeping = false;
  #closed = false;

  constructor(options: PostgresStoreOptions) {
    if (options === null || typeof options !== 'object') {
      throw new TypeError('koa-session-store: PostgresStore needs an options object such as { pool: new pg.Pool() }');
    }
    const { pool } = options;
    if (pool === null || typeof pool !== 'object' || typeof pool.connect !== 'function') {
      throw new TypeError(`koa-session-store: option pool of PostgresStore must be a pg.Pool, got ${describe(pool)}`);
    }
    this.schema = options.schema ?? DEFAULTS.schema;
    this.table = options.table ?? DEFAULTS.table;
    this.#names = postgresNames(this.schema, this.table);
    const createTable = options.createTable ?? DEFAULTS.createTable;
    if (typeof createTable !== 'boolean') {
      throw new TypeError(`koa-session-store: option createTable of PostgresStore must be true or false, got ${describe(createTable)}`);
    }
    this.#queryTimeout = intervalOf(STORE, 'queryTimeout', options.queryTimeout, DEFAULTS.queryTimeout);
    const sweepInterval = intervalOf(STORE, 'sweepInterval', options.sweepInterval, DEFAULTS.sweepInterval);
    this.#pool = pool;
    this.#sql = postgresStatementsSql(this.#names);
    this.#createTable = createTable;
    if (sweepInterval > 0) {
      this.#timer = setInterval(() => {
        this.sweep().catch((error: unknown) => debug('PostgresStore sweep failed: %s', error instanceof Error ? error.message : String(error)));
      }, sweepInterval);
      this.#timer.unref();
    }
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
    return this.#run('patch', async (query) => {
      try {
        const result = await query(this.#sql.patch, [id, JSON.stringify(drop), additions, ttl]);
        return (result.rowCount ?? 0) > 0;
      } catch (error) {
        if (!NOT_JSONB.has(codeOf(error))) throw error;
      }
      // The data or the patch holds JSON that jsonb rejects (it has no \u0000 and no lone surrogates), which
      // JSON.stringify writes for some strings. Rare, so the same change is made here under the row's lock:
      // a concurrent jsonb UPDATE waits for the lock and then applies to this result, and the other way round.
      await query('BEGIN');
      const locked = await query<{ data: string }>(this.#sql.lockForPatch, [id]);
      const current = locked.rows[0]?.data;
      if (current !== undefined) {
        await query(this.#sql.writePatched, [id, patchedJson(current, drop, pairs), ttl]);
      }
      await query('COMMIT');
      return current !== undefined;
    });
  }

  /**
   * Deletes every expired row now and resolves to how many went. The periodic
   * sweep (option `sweepInterval`) calls this.
   */
  async sweep(): Promise<number> {
    if (this.#sweeping) return 0;
    this.#sweeping = true;
    try {
      const result = await this.#run('sweep', (query) => query(this.#sql.sweep));
      return result.rowCount ?? 0;
    } finally {
      this.#sweeping = false;
    }
  }

  /** Stops the sweep. The pool is yours and stays open. Later calls reject. */
  async close(): Promise<void> {
    this.#closed = true;
    if (this.#timer) clearInterval(this.#timer);
    this.#timer = undefined;
  }

  /**
   * Runs `work` with one pool client under the `queryTimeout` deadline, after
   * making sure the table exists, and turns any failure into an Error that
   * says what failed, with the original as its cause.
   */
  async #run<T>(operation: string, work: (query: QueryFunction) => Promise<T>): Promise<T> {
    if (this.#closed) {
      throw new Error('koa-session-store: this PostgresStore is closed; create a new PostgresStore to use the database again');
    }
    if (!this.#createTable) return this.#withClient(operation, work);
    await this.#ensureTable();
    try {
      return await this.#withClient(operation, work);
    } catch (error) {
      // The table went away after the store made sure of it (dropped by hand, a test reset): make it again next time.
      if (MISSING_TABLE.has(codeOf((error as Error).cause))) this.#tableReady = undefined;
      throw error;
    }
  }

  #ensureTable(): Promise<void> {
    this.#tableReady ??= this.#withClient('table creation', async (query) => {
      const { rows } = await query<{ table_exists: boolean; schema_exists: boolean }>(this.#sql.exists, [
        this.#names.table,
        this.#names.schema,
      ]);
      if (rows[0]?.table_exists) return;
      try {
        await query(postgresCreateSql(this.#names, rows[0]?.schema_exists === true));
        debug('PostgresStore created table %s', this.#names.table);
      } catch (error) {
        // Someone without the lock (another tool, an older version) created the same thing at the same moment: fine.
        if (!ALREADY_CREATED.has(codeOf(error))) throw error;
      }
    }).catch((error: unknown) => {
      this.#tableReady = undefined;
      throw error;
    });
    return this.#tableReady;
  }

  async #withClient<T>(operation: string, work: (query: QueryFunction) => Promise<T>): Promise<T> {
    const limit = this.#queryTimeout;
    const deadline = limit > 0 ? Date.now() + limit : Infinity;
    for (let attempt = 1; ; attempt += 1) {
      let client: PoolClient;
      try {
        client = await checkout(this.#pool, deadline === Infinity ? 0 : Math.max(1, deadline - Date.now()));
      } catch (error) {
        throw failure(operation, error, this.#names, limit);
      }
      // pg's pool only listens for errors on idle clients. A connection terminated while this one is
      // checked out (its last reply and the server's FATAL can share a packet) would emit an 'error'
      // nobody hears, which crashes the process; keep it, and throw the client away on release.
      let lostWith: Error | undefined;
      const onError = (error: Error): void => {
        lostWith ??= error;
      };
      client.on('error', onError);
      const release = (error?: Error | boolean): void => {
        client.off('error', onError);
        client.release(error);
      };
      const query: QueryFunction = (text, values) => {
        const remaining = deadline - Date.now();
        if (remaining <= 0) return Promise.reject(new Error('Query read timeout'));
        return client.query({ text, ...(values ? { values } : {}), ...(limit > 0 ? { query_timeout: remaining } : {}) });
      };
      try {
        const result = await work(query);
        release(lostWith ?? undefined);
        return result;
      } catch (error) {
        // Destroyed, not reused: after a timeout or inside a failed transaction the connection is in an unknown state.
        release(error instanceof Error ? error : true);
        // A pool hands out idle connections the server has dropped (restart, failover, pg_terminate_backend)
        // before it notices. Every operation here is idempotent (an upsert, a delete, a patch that sets given
        // values), so one more try on a fresh connection is safe, and spares the request a failure.
        if (attempt === 1 && isConnectionLost(error) && Date.now() < deadline) {
          debug('PostgresStore %s: connection lost, retrying once', operation);
          continue;
        }
        throw failure(operation, error, this.#names, limit);
      }
    }
  }
}

type QueryFunction = <R extends QueryResultRow = QueryResultRow>(text: string, values?: unknown[]) => Promise<QueryResult<R>>;

/**
 * `pool.connect()` bounded by `limit` ms. A client that arrives after the
 * limit is handed straight back, so an operation that was reported as failed
 * never runs later.
 */
function checkout(pool: Pool, limit: number): Promise<PoolClient> {
  if (limit === 0) return pool.connect();
  let abandoned = false;
  const connecting = pool.connect().then((client) => {
    if (abandoned) client.release();
    return client;
  });
  return withDeadline(connecting, limit, () => {
    abandoned = true;
    return new Error('Query read timeout');
  });
}

/** The Error an operation rejects with: what failed and how to fix it, with the driver's error as its cause. */
function failure(operation: string, error: unknown, names: PostgresNames, limit: number): Error {
  if (error instanceof Error && error.message.startsWith('koa-session-store:')) return error;
  const message = error instanceof Error ? error.message : String(error);
  if (message === 'Query read timeout') {
    return new Error(
      `koa-session-store: PostgreSQL did not answer the ${operation} within ${limit} ms; check that PostgreSQL is reachable and the pool not exhausted, or raise the queryTimeout option of PostgresStore`,
      { cause: error },
    );
  }
  if (MISSING_TABLE.has(codeOf(error))) {
    return new Error(
      `koa-session-store: PostgreSQL ${operation} failed: the table ${names.table} does not exist (${message}); create it with the SQL from postgresTableSql(), or let the store create it (option createTable of PostgresStore, on by default)`,
      { cause: error },
    );
  }
  return new Error(`koa-session-store: PostgreSQL ${operation} failed (${message}); check that PostgreSQL is reachable and the table usable`, {
    cause: error,
  });
}

/** SQLSTATE classes 08 (connection exception) and 57P0x (server shutting down, backend terminated). */
const CONNECTION_LOST_CODE = /^(08|57P0)/;

/** Whether the connection broke (rather than the statement failing on a healthy one). */
function isConnectionLost(error: unknown): boolean {
  if (CONNECTION_LOST_CODE.test(codeOf(error))) return true;
  const message = error instanceof Error ? error.message : '';
  return /Connection terminated|not queryable|ECONNRESET|EPIPE/.test(message);
}

function codeOf(error: unknown): string {
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === 'string' ? code : '';
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
