import type { Pool as CallbackPool } from 'mysql2';
import type { Pool, PoolConnection, QueryOptions, ResultSetHeader, RowDataPacket } from 'mysql2/promise';
import { withDeadline } from '../deadline.js';
import { debug } from '../debug.js';
import type { IndexedSession, SessionPatch, SessionStore } from '../store.js';
import { applyPatch, checkSetValues } from './mysql-patch.js';
import { mysqlCreateSql, mysqlNames, mysqlStatementsSql, mysqlUsersCreateSql, SWEEP_BATCH } from './mysql-sql.js';
import type { MysqlNames } from './mysql-sql.js';
import { describe, fromStorableText, intervalOf, millisRead, storedEntry, storedUserId, ttlOf } from './sql-common.js';
import { Sweeper } from './sweeper.js';

/** Options of {@link MysqlStore}. */
export interface MysqlStoreOptions {
  /**
   * A mysql2 pool: `createPool()` of `mysql2/promise`, or of `mysql2` (its
   * `.promise()` side is used). The store borrows a connection per operation
   * and never ends the pool: end it yourself on shutdown. Its connections must
   * use a utf8mb4 charset, which is mysql2's default.
   */
  pool: Pool | CallbackPool;
  /**
   * Name of the table holding one row per session. Letters, digits and `_`.
   * The users' index of sessions (option `indexBy` of the middleware) is the
   * table `<table>_users` beside it.
   * @default 'sessions'
   */
  table?: string;
  /**
   * Database of the tables. Letters, digits and `_`.
   * @default the pool's database (its `database` option)
   */
  database?: string;
  /**
   * Whether the store creates the tables (with their expiry indexes) when
   * they are missing, on its first operation. Turn it off when migrations
   * create them (see `mysqlTableSql()`) or the database user may not run DDL.
   * @default true
   */
  createTable?: boolean;
  /**
   * Milliseconds between sweeps that delete expired rows, 500 per statement,
   * by primary key (expired rows are never loaded in the meantime), and then
   * the users' index entries of sessions that are gone or expired, likewise.
   * `0` turns the sweep off, for example when a cron job or one designated
   * process runs `sweep()`. Sweeps from several processes at once are
   * harmless. The timer is `unref()`ed, so it never keeps the process alive.
   * @default 900000
   */
  sweepInterval?: number;
  /**
   * How long, in milliseconds, each operation may take in all (waiting for a
   * pool connection included) before it rejects, so a dead or unreachable
   * server fails the request instead of hanging it. A statement still running
   * then (waiting for a row lock, say) is stopped on the server with
   * `KILL QUERY`, so a write reported as failed does not land later. `0` turns
   * the limit off.
   * @default 2000
   */
  queryTimeout?: number;
}

const STORE = 'MysqlStore';
const DEFAULTS = { table: 'sessions', createTable: true, sweepInterval: 900_000, queryTimeout: 2000 } as const;

/** DATETIME ends with the year 9999, and an overflowing expiry is an error: longer ttls are cut to this (100 years). */
const MAX_TTL_MS = 3_155_760_000_000;
/** The longest id `sid VARBINARY(255)` holds, in UTF-8 bytes. */
const MAX_SID_BYTES = 255;
const LONE_SURROGATE_IN_SET =
  'koa-session-store: MysqlStore.patch got a value in set with a lone surrogate (JSON.stringify never writes one); nothing was written';
/** Sent once per store and expected back unchanged: text with 2-, 3- and 4-byte UTF-8 characters. */
const PROBE = 'é€😀';

const ER_NO_SUCH_TABLE = 1146;
/** CREATE (or another command) denied to the user on a table. */
const ER_TABLEACCESS_DENIED = 1142;
const ER_NO_DB_ERROR = 1046;
const ER_BAD_DB_ERROR = 1049;
/** InnoDB rolled the whole transaction back to break a deadlock: nothing of it was written. */
const ER_LOCK_DEADLOCK = 1213;
/** Server errors that end the connection: shutdown, KILL (MariaDB), idle timeout (MySQL 8.0.24+). */
const CONNECTION_ENDED = new Set([1053, 1927, 4031]);
/** Tries of an operation InnoDB keeps choosing as a deadlock's victim. */
const DEADLOCK_ATTEMPTS = 3;
/** Dead connections a retry throws away, at most, before it gives up on finding a live one in the pool. */
const MAX_PINGS = 10;
/** mysql2's codes for a connection that broke under it. */
const CONNECTION_LOST = new Set(['PROTOCOL_CONNECTION_LOST', 'ECONNRESET', 'EPIPE']);
/** Server errors whose message quotes a value, which may be a session id or session data. */
const QUOTES_A_VALUE = new Set([1062, 1292, 1300, 1366, 1411, 1525, 1586, 1859]);

type Statements = ReturnType<typeof mysqlStatementsSql>;

/**
 * Options of every statement when the pool has settings under which rows
 * would not read as `{ data: '…' }`: rows as arrays, nested by table, or
 * passed through the caller's typeCast (mysql2 applies a pool's typeCast
 * function unless the statement brings its own). Not given otherwise: they
 * cost a third of mysql2's CPU time per statement.
 */
const READ_AS_IS: Omit<QueryOptions, 'sql'> = { rowsAsArray: false, nestTables: false, typeCast: (_field, next) => next() };

/** What the statements bind: ids and text as utf8mb4 strings (ids read back as bytes), microseconds as numbers, NULL. */
type Parameter = string | number | Buffer | null;

/** The statements of one operation, on one pool connection, under the operation's deadline. */
interface Connection {
  rows(sql: string, values: Parameter[]): Promise<RowDataPacket[]>;
  change(sql: string, values: Parameter[]): Promise<ResultSetHeader>;
  /** A statement without parameters, over the text protocol (transaction control, DDL). */
  query(sql: string): Promise<void>;
}

/** The deadline of an operation passed: its outcome on the server is unknown. */
class Timeout extends Error {
  constructor() {
    super('the deadline passed before the answer came');
  }
}

/**
 * Keeps sessions in MySQL 8 or MariaDB through a mysql2 pool (install `mysql2`
 * yourself): one row per session with the exact JSON text and
 * `expires_at DATETIME(3)` in UTC (NULL: never), indexed. Expiry times come
 * from the server's clock. Expired rows are invisible to `load`; the periodic
 * sweep deletes them. `patch` writes the middleware's whole result when the
 * row still holds exactly the text it was computed against (one `UPDATE`),
 * and otherwise applies the keys under the row's lock in one transaction, so
 * concurrent requests of one session keep each other's writes, across any
 * number of app servers. With the middleware's `indexBy` option, each user's
 * sessions are listed in the table `<table>_users`.
 *
 * @example
 * ```ts
 * import mysql from 'mysql2/promise';
 * import { MysqlStore } from 'koa-session-store/mysql';
 *
 * const pool = mysql.createPool({ uri: process.env.MYSQL_URL, connectionLimit: 10 });
 * const store = new MysqlStore({ pool });
 * ```
 */
export class MysqlStore implements SessionStore {
  /** The table name, unquoted. */
  readonly table: string;
  /** The database name, unquoted; undefined: the pool's. */
  readonly database: string | undefined;
  readonly #pool: Pool;
  readonly #names: MysqlNames;
  readonly #sql: Statements;
  readonly #createTable: boolean;
  readonly #queryTimeout: number;
  /** Whether statements must bring READ_AS_IS. */
  readonly #readAsIs: boolean;
  /** The one start-up check every operation waits for; reset on failure, so the next call tries again. */
  #ready: Promise<void> | undefined;
  readonly #sweeper: Sweeper;
  #closed = false;

  constructor(options: MysqlStoreOptions) {
    if (options === null || typeof options !== 'object') {
      throw new TypeError("koa-session-store: MysqlStore needs an options object such as { pool: mysql.createPool({ … }) } (mysql2/promise)");
    }
    this.#pool = poolOf(options.pool);
    this.#readAsIs = changesRows(this.#pool);
    this.table = options.table ?? DEFAULTS.table;
    this.database = options.database;
    this.#names = mysqlNames(this.table, this.database);
    const createTable = options.createTable ?? DEFAULTS.createTable;
    if (typeof createTable !== 'boolean') {
      throw new TypeError(`koa-session-store: option createTable of MysqlStore must be true or false, got ${describe(createTable)}`);
    }
    this.#createTable = createTable;
    this.#queryTimeout = intervalOf(STORE, 'queryTimeout', options.queryTimeout, DEFAULTS.queryTimeout);
    const sweepInterval = intervalOf(STORE, 'sweepInterval', options.sweepInterval, DEFAULTS.sweepInterval);
    this.#sql = mysqlStatementsSql(this.#names);
    this.#sweeper = new Sweeper(STORE, sweepInterval, () => this.#sweepOnce());
  }

  /** Resolves to the stored JSON text, or null when the row is missing or expired. */
  async load(sid: string): Promise<string | null> {
    const id = idOf(sid);
    const rows = await this.#run('load', (connection) => connection.rows(this.#sql.load, [id]));
    const data: unknown = rows[0]?.['data'];
    return typeof data === 'string' ? data : null;
  }

  /** Inserts or replaces the row (`INSERT … ON DUPLICATE KEY UPDATE`); without `ttlMs` it never expires. */
  async save(sid: string, json: string, ttlMs?: number): Promise<void> {
    const id = idOf(sid);
    if (typeof json !== 'string' || !isWellFormed(json)) {
      throw new TypeError(
        `koa-session-store: MysqlStore.save needs the session as JSON text (as JSON.stringify writes it, without lone surrogates), got ${typeof json === 'string' ? 'a string with a lone surrogate' : describe(json)}`,
      );
    }
    const micros = microsOf(ttlMs);
    await this.#run('save', (connection) => connection.change(this.#sql.save, [id, json, micros]));
  }

  /** Deletes the row; a missing one is fine. */
  async remove(sid: string): Promise<void> {
    const id = idOf(sid);
    await this.#run('remove', (connection) => connection.change(this.#sql.remove, [id]));
  }

  /** Sets a live row's expiry to `ttlMs` from now (never, without `ttlMs`); a missing or expired row stays gone. */
  async touch(sid: string, ttlMs?: number): Promise<void> {
    const id = idOf(sid);
    const micros = microsOf(ttlMs);
    await this.#run('touch', (connection) => connection.change(this.#sql.touch, [micros, id]));
  }

  /**
   * Applies `patch` to a live row and resets its expiry to `ttlMs` from now.
   * When the row still holds exactly `patch.base`, `patch.result` replaces it
   * in one `UPDATE` that checks that; otherwise the row is locked
   * (`SELECT … FOR UPDATE` in a transaction), the keys are applied to its
   * JSON and it is written back. Resolves to false, having written nothing,
   * when the row is missing or expired.
   */
  async patch(sid: string, patch: SessionPatch, ttlMs?: number): Promise<boolean> {
    const id = idOf(sid);
    if (patch === null || typeof patch !== 'object' || patch.set === null || typeof patch.set !== 'object' || !Array.isArray(patch.unset)) {
      throw new TypeError(`koa-session-store: MysqlStore.patch needs a patch { set, unset }, got ${describe(patch)}`);
    }
    const micros = microsOf(ttlMs);
    const { base, result } = patch;
    const whole = typeof base === 'string' && typeof result === 'string' && base !== result && isWellFormed(result);
    const outcome = await this.#run('patch', async (connection): Promise<boolean | TypeError> => {
      // The common case: nobody wrote the session since this request loaded it.
      if (whole) {
        const replaced = await connection.change(this.#sql.replace, [result, micros, id, base]);
        if (replaced.affectedRows > 0) return true;
      }
      const invalid = checkSetValues(STORE, patch.set);
      if (invalid) return invalid;
      await connection.query('START TRANSACTION');
      const locked = await connection.rows(this.#sql.lock, [id]);
      const current: unknown = locked[0]?.['data'];
      const text = typeof current === 'string' ? applyPatch(STORE, current, patch) : undefined;
      if (typeof text !== 'string' || !isWellFormed(text)) {
        // Nothing to write (the row is gone or expired) or nothing that may be written: end the transaction cleanly.
        await connection.query('ROLLBACK');
        if (text === undefined) return false;
        return text instanceof TypeError ? text : new TypeError(LONE_SURROGATE_IN_SET);
      }
      await connection.change(this.#sql.write, [text, micros, id]);
      await connection.query('COMMIT');
      return true;
    });
    if (outcome instanceof TypeError) throw outcome;
    return outcome;
  }

  /**
   * Records that session `entry.sid` belongs to `userId` (option `indexBy` of
   * the middleware), in `<table>_users`: inserted, or for a known entry
   * `lastActiveAt` and `expiresAt` replaced (`createdAt` and `userAgent`
   * kept), but only while the session's row is alive. When the entry is new,
   * the user's entries whose session is gone or expired are deleted too.
   * Resolves to false, having written nothing, when the session is missing or
   * expired. Times are kept to the millisecond.
   */
  async indexSession(userId: string, entry: IndexedSession): Promise<boolean> {
    const user = storedUserId(STORE, 'indexSession', userId);
    const stored = storedEntry(STORE, entry);
    const id = idOf(stored.sid);
    const values = [user, stored.createdAt, stored.lastActiveAt, stored.expiresAt, stored.userAgent, id];
    return this.#run(
      'indexSession',
      async (connection) => {
        const written = await connection.change(this.#sql.index, values);
        // 1: inserted (or, with mysql2's default FOUND_ROWS flag, updated to the values it had); 2: updated. Only a
        // new entry grows the index, so that is when the user's dead ones go: the index stays as small as the
        // user's live sessions, at one more statement per sign-in rather than per request.
        if (written.affectedRows === 1) {
          const dead = await connection.rows(this.#sql.deadOfUser, [user]);
          if (dead.length > 0) await this.#deleteDead(connection, dead);
        }
        return written.affectedRows > 0;
      },
      this.#names.users,
    );
  }

  /** Deletes `sid` from `userId`'s index; a missing entry is fine. */
  async unindexSession(userId: string, sid: string): Promise<void> {
    const user = storedUserId(STORE, 'unindexSession', userId);
    const id = idOf(sid);
    await this.#run('unindexSession', (connection) => connection.change(this.#sql.unindex, [user, id]), this.#names.users);
  }

  /** The entries of `userId`'s index. Entries of sessions that expired or were removed may be among them. */
  async listIndexed(userId: string): Promise<IndexedSession[]> {
    const user = storedUserId(STORE, 'listIndexed', userId);
    const rows = await this.#run('listIndexed', (connection) => connection.rows(this.#sql.list, [user]), this.#names.users);
    return rows.map((row) => ({
      sid: textOf(row['sid']),
      createdAt: millisRead(row['created']) ?? 0,
      lastActiveAt: millisRead(row['active']) ?? 0,
      expiresAt: millisRead(row['expires']),
      userAgent: fromStorableText(textOf(row['agent'])),
    }));
  }

  /**
   * Deletes every expired row now, in batches of 500, and resolves to how
   * many went; then deletes the users' index entries of sessions that are
   * gone or expired, likewise (not counted). The periodic sweep (option
   * `sweepInterval`) calls this.
   */
  async sweep(): Promise<number> {
    if (this.#closed) throw closedError();
    return this.#sweeper.run();
  }

  /** Stops the sweep, waiting for one that runs. The pool is yours and stays open. Later calls reject. */
  async close(): Promise<void> {
    this.#closed = true;
    await this.#sweeper.stop();
  }

  async #sweepOnce(): Promise<number> {
    let deleted = 0;
    for (;;) {
      // close() stops a long sweep between batches; what went so far is the answer.
      if (this.#closed) return deleted;
      const found = await this.#run('sweep', async (connection) => {
        const expired = await connection.rows(this.#sql.expired, []);
        if (expired.length === 0) return 0;
        const ids: Parameter[] = expired.map((row) => row['sid'] as Buffer);
        while (ids.length < SWEEP_BATCH) ids.push(null);
        deleted += (await connection.change(this.#sql.sweep, ids)).affectedRows;
        return expired.length;
      });
      if (found < SWEEP_BATCH) break;
    }
    await this.#sweepIndex();
    return deleted;
  }

  async #sweepIndex(): Promise<void> {
    let deleted = 0;
    try {
      while (!this.#closed) {
        const found = await this.#run(
          'sweep',
          async (connection) => {
            const dead = await connection.rows(this.#sql.deadIndexed, [Date.now()]);
            if (dead.length > 0) deleted += await this.#deleteDead(connection, dead);
            return dead.length;
          },
          this.#names.users,
        );
        if (found < SWEEP_BATCH) break;
      }
    } catch (error) {
      // Made by migrations without the users' table, the sessions still work: so does their sweep.
      if (errnoOf((error as Error).cause) !== ER_NO_SUCH_TABLE) throw error;
      debug('MysqlStore sweep: no table %s, no index entries to sweep', this.#names.users);
    }
    if (deleted > 0) debug('MysqlStore sweep deleted %d index entries of sessions that are gone', deleted);
  }

  /** Deletes the index entries `dead` (rows of user_id and sid, at most SWEEP_BATCH) whose session is still not alive. */
  async #deleteDead(connection: Connection, dead: RowDataPacket[]): Promise<number> {
    const pairs: Parameter[] = [];
    for (const row of dead) pairs.push(row['user_id'] as Buffer, row['sid'] as Buffer);
    while (pairs.length < 2 * SWEEP_BATCH) pairs.push(null);
    return (await connection.change(this.#sql.deleteDead, pairs)).affectedRows;
  }

  /**
   * Runs `work` on one pool connection under the `queryTimeout` deadline,
   * after the start-up check, and turns any failure into an Error that says
   * what failed (naming `table` when it is missing), with the driver's error
   * as its cause.
   */
  async #run<T>(operation: string, work: (connection: Connection) => Promise<T>, table = this.#names.table): Promise<T> {
    if (this.#closed) throw closedError();
    await this.#ensureReady();
    try {
      return await this.#withConnection(operation, work, table);
    } catch (error) {
      // The table went away after the store made sure of it (dropped by hand, a test reset): check again next time.
      if (errnoOf((error as Error).cause) === ER_NO_SUCH_TABLE) this.#ready = undefined;
      throw error;
    }
  }

  /**
   * Once per store: the connection must carry utf8mb4 unchanged (else text
   * would be mangled silently), a database must be chosen, and, with
   * `createTable`, the table must exist. Checked before creating, so that a
   * user without the CREATE privilege works when the table is there.
   */
  #ensureReady(): Promise<void> {
    this.#ready ??= this.#withConnection('start-up check', async (connection) => {
      const [row] = await connection.rows(this.#sql.probe, [PROBE]);
      if (row?.['probe'] !== PROBE) {
        throw new Error(
          "koa-session-store: MysqlStore needs connections that use the utf8mb4 character set, and this pool's changed the text it sent; create the pool without a charset option (mysql2's default is utf8mb4) or with charset: 'utf8mb4'",
        );
      }
      if (this.database === undefined && typeof row['db'] !== 'string') {
        throw new Error(
          "koa-session-store: MysqlStore has no database for its table: the pool's connections have none selected; give the pool a database option or MysqlStore its database option",
        );
      }
      if (!this.#createTable) return;
      const sessionsFound = await found(connection, this.#sql.exists);
      // One statement each that names no other object: stores starting together simply wait for each other's.
      if (!sessionsFound) {
        await connection.query(mysqlCreateSql(this.#names));
        debug('MysqlStore created table %s', this.#names.table);
      }
      if (await found(connection, this.#sql.usersExist)) return;
      try {
        await connection.query(mysqlUsersCreateSql(this.#names));
        debug('MysqlStore created table %s', this.#names.users);
      } catch (error) {
        // The sessions' table was there and only the users' index is missing (a store upgraded under a user that
        // may not create tables): sessions work as before, and the indexBy methods say which table to create.
        if (!sessionsFound || errnoOf(error) !== ER_TABLEACCESS_DENIED) throw error;
        debug('MysqlStore may not create table %s; the indexBy methods need it (see mysqlTableSql())', this.#names.users);
      }
    }, this.#names.table).catch((error: unknown) => {
      this.#ready = undefined;
      throw error;
    });
    return this.#ready;
  }

  async #withConnection<T>(operation: string, work: (connection: Connection) => Promise<T>, table: string): Promise<T> {
    const limit = this.#queryTimeout;
    const deadline = limit > 0 ? Date.now() + limit : Infinity;
    // A statement whose answer the deadline stopped waiting for is still running on the server (waiting for a
    // row lock, say), and would land later, perhaps after a newer save of the same session it then undoes.
    let sentAndTimedOut = false;
    const bounded = <R>(start: () => Promise<R>): Promise<R> => {
      if (deadline === Infinity) return start();
      const remaining = deadline - Date.now();
      if (remaining <= 0) return Promise.reject(new Timeout());
      return withDeadline(start(), remaining, () => {
        sentAndTimedOut = true;
        return new Timeout();
      });
    };
    const checkoutNow = (): Promise<PoolConnection> => checkout(this.#pool, deadline === Infinity ? 0 : Math.max(1, deadline - Date.now()));
    let retriedLost = false;
    for (let attempt = 1; ; attempt += 1) {
      let pooled: PoolConnection;
      try {
        pooled = await checkoutNow();
        // When one connection was lost, the pool's other idle ones often went with it (a restart, a failover,
        // KILLs): the retry first asks its connection for a sign of life, and takes another while it gets none.
        for (let pings = 1; attempt > 1; pings += 1) {
          try {
            await bounded(() => pooled.ping());
            break;
          } catch (error) {
            pooled.destroy();
            if (!isConnectionLost(error) || pings >= MAX_PINGS) throw error;
            pooled = await checkoutNow();
          }
        }
      } catch (error) {
        throw failure(operation, error, table, limit);
      }
      const statement = this.#readAsIs ? (sql: string) => ({ ...READ_AS_IS, sql }) : undefined;
      const connection: Connection = {
        rows: (sql, values) =>
          bounded(() => (statement ? pooled.execute<RowDataPacket[]>(statement(sql), values) : pooled.execute<RowDataPacket[]>(sql, values))).then(
            ([rows]) => rows,
          ),
        change: (sql, values) =>
          bounded(() => (statement ? pooled.execute<ResultSetHeader>(statement(sql), values) : pooled.execute<ResultSetHeader>(sql, values))).then(
            ([header]) => header,
          ),
        query: (sql) => bounded(() => pooled.query(sql)).then(() => undefined),
      };
      try {
        const result = await work(connection);
        pooled.release();
        return result;
      } catch (error) {
        // Never reused: after a timeout the statement may still run, after a lost connection there is none,
        // and inside a failed transaction the state is unknown. Closing it also rolls back an open transaction.
        const { threadId } = pooled;
        pooled.destroy();
        if (sentAndTimedOut) {
          sentAndTimedOut = false;
          killQuery(this.#pool, threadId);
        }
        // A pool hands out idle connections the server has dropped (restart, failover, KILL, wait_timeout)
        // before it notices. Every operation here can be repeated with the same outcome (an upsert, a delete,
        // an expiry from now, a compare-and-set of one text or keys set to given values), so one more try on
        // another connection is safe. A deadlock victim was rolled back whole, so it may try again too.
        const lost = isConnectionLost(error);
        const deadlock = errnoOf(error) === ER_LOCK_DEADLOCK;
        if (((lost && !retriedLost) || (deadlock && attempt < DEADLOCK_ATTEMPTS)) && Date.now() < deadline) {
          retriedLost ||= lost;
          debug('MysqlStore %s: %s, trying again', operation, lost ? 'connection lost' : 'deadlock');
          continue;
        }
        throw failure(operation, error, table, limit);
      }
    }
  }
}

/** How long the statement that stops a timed-out one may take. */
const KILL_TIMEOUT = 5000;

/**
 * Stops the statement that connection `threadId` is running, if any: `KILL QUERY`, on another connection
 * of the pool (the timed-out one was just closed, which leaves its slot free). A closed connection's
 * statement goes on, waiting for a row lock up to innodb_lock_wait_timeout, and would land when it got
 * it. Thread ids are not reused while the server runs, so no other statement is stopped. Nothing waits
 * for the outcome: a server that cannot be reached runs nothing either until it can.
 */
function killQuery(pool: Pool, threadId: number): void {
  if (!Number.isSafeInteger(threadId) || threadId <= 0) return;
  pool.query({ sql: `KILL QUERY ${threadId}`, timeout: KILL_TIMEOUT }).catch((error: unknown) => {
    // Unknown thread id: the statement and its connection had already ended.
    debug('MysqlStore could not stop a timed-out statement on the server (errno %s)', errnoOf(error) || 'none');
  });
}

/** Whether the table `exists` reads from is there. */
async function found(connection: Connection, exists: string): Promise<boolean> {
  try {
    await connection.query(exists);
    return true;
  } catch (error) {
    if (errnoOf(error) !== ER_NO_SUCH_TABLE) throw error;
    return false;
  }
}

/** A VARBINARY column's value (a Buffer) or a text one, as a string. */
function textOf(value: unknown): string {
  return Buffer.isBuffer(value) ? value.toString('utf8') : String(value);
}

/** The promise side of the pool option, or a TypeError naming it. */
function poolOf(given: unknown): Pool {
  let pool = given as Partial<Pool> | null;
  // mysql2's callback pool: its promise() wrapper shares the same connections.
  if (pool !== null && typeof pool === 'object' && typeof (given as { promise?: unknown }).promise === 'function') {
    pool = (given as CallbackPool).promise();
  }
  if (pool === null || typeof pool !== 'object' || typeof pool.getConnection !== 'function') {
    throw new TypeError(
      `koa-session-store: option pool of MysqlStore must be a mysql2 pool (createPool() of mysql2/promise or of mysql2), got ${describe(given)}`,
    );
  }
  return pool as Pool;
}

/**
 * Whether the pool's connection settings change how rows read (rows as arrays,
 * nested by table, a typeCast other than mysql2's own); true as well when its
 * settings cannot be found (a pool cluster), to be safe.
 */
function changesRows(pool: Pool): boolean {
  const core = (pool as { pool?: { config?: { connectionConfig?: { rowsAsArray?: unknown; nestTables?: unknown; typeCast?: unknown } } } }).pool;
  const config = core?.config?.connectionConfig;
  if (config === undefined || config === null || typeof config !== 'object') return true;
  return Boolean(config.rowsAsArray) || Boolean(config.nestTables) || config.typeCast !== true;
}

/**
 * `pool.getConnection()` bounded by `limit` ms. A connection that arrives
 * after the limit is handed straight back, so an operation that was reported
 * as failed never runs later.
 */
function checkout(pool: Pool, limit: number): Promise<PoolConnection> {
  if (limit === 0) return pool.getConnection();
  let abandoned = false;
  const connecting = pool.getConnection().then((connection) => {
    if (abandoned) connection.release();
    return connection;
  });
  return withDeadline(connecting, limit, () => {
    abandoned = true;
    return new Timeout();
  });
}

/** The Error an operation rejects with: what failed and how to fix it, with the driver's error as its cause. */
function failure(operation: string, error: unknown, table: string, limit: number): Error {
  if (error instanceof Error && error.message.startsWith('koa-session-store:')) return error;
  if (error instanceof Timeout) {
    return new Error(
      `koa-session-store: MySQL did not answer the ${operation} within ${limit} ms; check that MySQL is reachable and the pool not exhausted, or raise the queryTimeout option of MysqlStore`,
      { cause: error },
    );
  }
  const errno = errnoOf(error);
  const cause = withoutValues(error);
  const message = cause instanceof Error ? cause.message : String(cause);
  if (errno === ER_NO_SUCH_TABLE) {
    return new Error(
      `koa-session-store: MySQL ${operation} failed: the table ${table} does not exist (${message}); create it with the SQL from mysqlTableSql(), or let the store create it (option createTable of MysqlStore, on by default)`,
      { cause },
    );
  }
  if (errno === ER_NO_DB_ERROR || errno === ER_BAD_DB_ERROR) {
    return new Error(
      `koa-session-store: MySQL ${operation} failed (${message}); give the pool a database option that names an existing database, or MysqlStore its database option`,
      { cause },
    );
  }
  return new Error(`koa-session-store: MySQL ${operation} failed (${message}); check that MySQL is reachable and the table usable`, { cause });
}

/**
 * The driver's error, or for the few server errors that quote a value (a
 * duplicate key, an invalid string), a copy whose message leaves it out:
 * errors must never carry session ids or data.
 */
function withoutValues(error: unknown): unknown {
  const errno = errnoOf(error);
  if (!QUOTES_A_VALUE.has(errno)) return error;
  const { code, sqlState } = error as { code?: unknown; sqlState?: unknown };
  return Object.assign(new Error(`${String(code)} (${errno}): the server's message quotes a value and is left out`), { code, errno, sqlState });
}

/** Whether the connection broke (rather than the statement failing on a healthy one). */
function isConnectionLost(error: unknown): boolean {
  if (CONNECTION_ENDED.has(errnoOf(error))) return true;
  const code = (error as { code?: unknown } | null)?.code;
  if (typeof code === 'string' && CONNECTION_LOST.has(code)) return true;
  // mysql2 refuses commands on a connection that already broke, before sending anything.
  return error instanceof Error && /connection is in closed state/.test(error.message);
}

function errnoOf(error: unknown): number {
  const errno = (error as { errno?: unknown } | null)?.errno;
  return typeof errno === 'number' ? errno : 0;
}

/** `ttlMs` as microseconds for `INTERVAL ? MICROSECOND`, or null for never. */
function microsOf(ttlMs: number | undefined): number | null {
  const ttl = ttlOf(ttlMs);
  return ttl === null ? null : Math.min(ttl, MAX_TTL_MS) * 1000;
}

/**
 * Whether `text` is valid UTF-16 (no lone surrogate). The driver sends text as
 * UTF-8, where a lone surrogate becomes U+FFFD: two ids would meet in one row,
 * and data would not come back as it was given.
 */
function isWellFormed(text: string): boolean {
  return (text as unknown as { isWellFormed(): boolean }).isWellFormed();
}

function idOf(sid: string): string {
  if (typeof sid !== 'string' || !isWellFormed(sid) || Buffer.byteLength(sid) > MAX_SID_BYTES) {
    throw new TypeError(
      `koa-session-store: a MysqlStore session id must be a string of at most ${MAX_SID_BYTES} UTF-8 bytes without lone surrogates, got ${typeof sid === 'string' ? `one of ${sid.length} characters` : describe(sid)}`,
    );
  }
  return sid;
}

function closedError(): Error {
  return new Error('koa-session-store: this MysqlStore is closed; create a new MysqlStore to use the database again');
}
