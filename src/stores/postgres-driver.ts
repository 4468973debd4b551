// How PostgresStore reaches PostgreSQL through either driver it accepts: a
// node-postgres (`pg`) pool or a postgres.js (`postgres`) client. Each is
// described by the few members used here, so the published declarations need
// neither package's types, and everything that differs between the two lives
// in this file: borrowing a connection, deadlines, transactions, what a lost
// connection looks like, and what a driver's error may carry.
import { connect } from 'node:net';
import { withDeadline } from '../deadline.js';

/** The part of a `pg.Pool` PostgresStore uses. */
export interface PgPool {
  connect(): Promise<PgPoolClient>;
}

/** The part of the client `pg.Pool#connect()` gives that PostgresStore uses. */
export interface PgPoolClient {
  query(config: { text: string; values?: unknown[]; query_timeout?: number }): Promise<{ rows: unknown[]; rowCount: number | null }>;
  release(destroy?: Error | boolean): void;
  on(event: 'error', listener: (error: Error) => void): unknown;
  off(event: 'error', listener: (error: Error) => void): unknown;
  /** What a cancel request needs: where the server is, and which backend (pg.Client sets these once connected). */
  readonly host?: string | null;
  readonly port?: number | null;
  readonly processID?: number | null;
  readonly secretKey?: number | null;
}

/** The part of a postgres.js client (`postgres(url)`) PostgresStore uses. */
export interface PostgresJsSql {
  unsafe(query: string, parameters?: Parameter[], options?: { prepare?: boolean }): PostgresJsQuery;
  begin(work: (sql: PostgresJsTransaction) => Promise<unknown>): Promise<unknown>;
  readonly options?: { readonly prepare?: boolean };
}

/** The `sql` a postgres.js transaction callback gets. */
export interface PostgresJsTransaction {
  unsafe(query: string, parameters?: Parameter[], options?: { prepare?: boolean }): PostgresJsQuery;
}

/** A postgres.js query: sent once awaited, and cancellable. */
export interface PostgresJsQuery extends Promise<ArrayLike<unknown> & { readonly count?: number | null }> {
  cancel(): unknown;
}

/** What the store's statements bind: text, numbers, NULL. */
export type Parameter = string | number | null;

/** The rows of a statement and how many rows it touched. */
export interface Rows<R> {
  readonly rows: readonly R[];
  readonly count: number;
}

/** Runs one statement; every statement types its parameters in its SQL (`$1::text`), so both drivers send them alike. */
export type Query = <R = Record<string, unknown>>(text: string, values?: readonly Parameter[]) => Promise<Rows<R>>;

/** What an operation of PostgresStore runs on. */
export interface Driver {
  /**
   * Runs `work` before `deadline` (ms since the epoch; Infinity: none), and
   * rejects with the message `Query read timeout` once it passes. With
   * `transaction`, its statements run on one connection inside `BEGIN` …
   * `COMMIT`, rolled back when `work` throws.
   */
  run<T>(deadline: number, work: (query: Query) => Promise<T>, transaction: boolean): Promise<T>;
  /** How many times an operation whose connection broke is tried again. */
  readonly retriesAfterLoss: number;
}

/** The message of a deadline that passed, as pg's own `query_timeout` words it. */
export const TIMEOUT_MESSAGE = 'Query read timeout';

const timeout = (): Error => new Error(TIMEOUT_MESSAGE);

/** SQLSTATE classes 08 (connection exception) and 57P0x (server shutting down, backend terminated). */
const CONNECTION_LOST_CODE = /^(08|57P0)/;

/** Whether the connection broke under a statement (rather than the statement failing on a healthy one), with either driver. */
export function isConnectionLost(error: unknown): boolean {
  const code = codeOf(error);
  // postgres.js: CONNECTION_CLOSED when the socket closed under a query (not _ENDED or _DESTROYED: the app ended the client).
  if (CONNECTION_LOST_CODE.test(code) || code === 'CONNECTION_CLOSED') return true;
  const message = error instanceof Error ? error.message : '';
  return /Connection terminated|not queryable|ECONNRESET|EPIPE/.test(message);
}

export function codeOf(error: unknown): string {
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === 'string' ? code : '';
}

/** Whether `value` looks like a postgres.js client, which is a function with `unsafe` and `begin`. */
export function isPostgresJs(value: unknown): value is PostgresJsSql {
  const candidate = value as Partial<PostgresJsSql> | null;
  return typeof value === 'function' && typeof candidate?.unsafe === 'function' && typeof candidate.begin === 'function';
}

/** Whether `value` looks like a pg pool. */
export function isPgPool(value: unknown): value is PgPool {
  return value !== null && typeof value === 'object' && typeof (value as Partial<PgPool>).connect === 'function';
}

// ---- node-postgres ------------------------------------------------------------

/**
 * A pg pool: each run borrows one client for all its statements. A client
 * whose run failed is destroyed, not reused: after a timeout or inside a failed
 * transaction its state is unknown (and destroying it rolls back).
 */
export function pgDriver(pool: PgPool): Driver {
  return {
    retriesAfterLoss: 1,
    async run(deadline, work, transaction) {
      const client = await checkout(pool, deadline === Infinity ? 0 : Math.max(1, deadline - Date.now()));
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
      // A statement whose answer the deadline stopped waiting for is still running on the server (waiting for a
      // row lock, say), and would land later, perhaps after a newer save of the same session it then undoes.
      let sentAndTimedOut = false;
      const query: Query = async <R>(text: string, values?: readonly Parameter[]) => {
        const remaining = deadline - Date.now();
        if (remaining <= 0) throw timeout();
        const config = { text, ...(values ? { values: [...values] } : {}), ...(deadline !== Infinity ? { query_timeout: remaining } : {}) };
        try {
          const result = await client.query(config);
          return { rows: result.rows as R[], count: result.rowCount ?? 0 };
        } catch (error) {
          if (error instanceof Error && error.message === TIMEOUT_MESSAGE) sentAndTimedOut = true;
          throw error;
        }
      };
      try {
        let result: Awaited<ReturnType<typeof work>>;
        if (transaction) {
          await query('BEGIN');
          result = await work(query);
          await query('COMMIT');
        } else {
          result = await work(query);
        }
        release(lostWith ?? undefined);
        return result;
      } catch (error) {
        // So it is cancelled on the server, as postgres.js does at a deadline; pg does not.
        if (sentAndTimedOut) cancelOnServer(client);
        release(error instanceof Error ? error : true);
        throw error;
      }
    },
  };
}

/** How long a cancel request may take to reach the server before it is given up. */
const CANCEL_TIMEOUT = 5000;

/**
 * Asks the server to cancel the statement `client`'s backend is running: PostgreSQL's CancelRequest, on
 * a connection of its own (pg has no public way to send one). A statement that ended meanwhile is not
 * affected; the backend's secret key makes sure no other backend's is. Nothing waits for the outcome:
 * when the server cannot be reached, its statement cannot land either until it can.
 */
function cancelOnServer(client: PgPoolClient): void {
  const { host, port, processID, secretKey } = client;
  if (typeof processID !== 'number' || typeof secretKey !== 'number' || typeof port !== 'number') return;
  const request = Buffer.alloc(16);
  request.writeInt32BE(16, 0);
  // The cancel request code, 80877102: 1234 in the high 16 bits, 5678 in the low.
  request.writeInt32BE(80877102, 4);
  request.writeInt32BE(processID, 8);
  request.writeInt32BE(secretKey, 12);
  const socket =
    typeof host === 'string' && host.startsWith('/') ? connect(`${host}/.s.PGSQL.${port}`) : connect(port, typeof host === 'string' && host !== '' ? host : 'localhost');
  // Never what keeps the process alive: at exit the connection, and its statement, end anyway.
  socket.unref();
  socket.setTimeout(CANCEL_TIMEOUT, () => socket.destroy());
  socket.on('error', () => socket.destroy());
  // The server reads the request, acts on it and closes the connection without an answer.
  socket.once('connect', () => socket.end(request));
  socket.resume();
}

/**
 * `pool.connect()` bounded by `limit` ms (0: none). A client that arrives
 * after the limit is handed straight back, so an operation that was reported
 * as failed never runs later.
 */
function checkout(pool: PgPool, limit: number): Promise<PgPoolClient> {
  if (limit === 0) return pool.connect();
  let abandoned = false;
  const connecting = pool.connect().then((client) => {
    if (abandoned) client.release();
    return client;
  });
  return withDeadline(connecting, limit, () => {
    abandoned = true;
    return timeout();
  });
}

// ---- postgres.js ----------------------------------------------------------------

/**
 * A postgres.js client: statements go to its own pool one by one (it picks
 * the connection, and reconnects by itself), transactions run in
 * `sql.begin()`, which rolls back when they throw. At the deadline a statement
 * still waiting for a connection is dropped from the queue and one already
 * sent is cancelled on the server. Statements are prepared (named, once per
 * connection) unless the client was created with `prepare: false`.
 */
export function postgresJsDriver(sql: PostgresJsSql): Driver {
  const bounded = <R>(deadline: number, start: () => PostgresJsQuery): Promise<Rows<R>> => {
    const remaining = deadline - Date.now();
    if (remaining <= 0) return Promise.reject(timeout());
    const pending = start();
    const settled = pending.then(
      (result) => ({ rows: Array.from(result) as R[], count: result.count ?? 0 }),
      (error: unknown) => {
        throw withoutValues(error);
      },
    );
    if (deadline === Infinity) return settled;
    return withDeadline(settled, remaining, () => {
      // Resolves once the server has been asked, or rejects when it cannot be reached: either way nobody waits for it.
      Promise.resolve(pending.cancel()).catch(() => {});
      return timeout();
    });
  };
  const prepare = { prepare: true };
  return {
    // postgres.js 3.4 keeps the error of a statement whose connection the server ended (57P01) and rejects the
    // first statement of the reconnected connection with it: that try never reached the server, so one more.
    retriesAfterLoss: 2,
    run(deadline, work, transaction) {
      if (!transaction) {
        return work((text, values) => bounded(deadline, () => sql.unsafe(text, values ? [...values] : [], prepare)));
      }
      let abandoned = false;
      const running = sql
        .begin(async (tx) => {
          // The deadline passed while BEGIN waited for a connection: throwing rolls the transaction back at once.
          if (abandoned) throw timeout();
          return work((text, values) => bounded(deadline, () => tx.unsafe(text, values ? [...values] : [], prepare)));
        })
        .catch((error: unknown) => {
          throw withoutValues(error);
        }) as Promise<Awaited<ReturnType<typeof work>>>;
      if (deadline === Infinity) return running;
      return withDeadline(running, Math.max(1, deadline - Date.now()), () => {
        abandoned = true;
        return timeout();
      });
    },
  };
}

/** Members of a postgres.js error that say what failed, under the names pg gives them. */
const SAFE_MEMBERS: ReadonlyArray<readonly [from: string, to: string]> = [
  ['code', 'code'],
  ['errno', 'errno'],
  ['severity', 'severity'],
  ['routine', 'routine'],
  ['file', 'file'],
  ['line', 'line'],
  ['schema_name', 'schema'],
  ['table_name', 'table'],
  ['column_name', 'column'],
  ['constraint_name', 'constraint'],
  ['data_type_name', 'dataType'],
  ['address', 'address'],
  ['port', 'port'],
];

/**
 * A copy of a postgres.js error with only what says what failed. Its errors
 * carry the statement's `parameters` (the session id, the session's JSON) as
 * read-only properties that cannot be deleted, and `detail`, `where` and
 * `hint` may quote row values, so the error itself must never get out.
 */
function withoutValues(error: unknown): unknown {
  if (!(error instanceof Error) || error.message === TIMEOUT_MESSAGE) return error;
  const copy = new Error(error.message);
  copy.name = error.name;
  const source = error as unknown as Record<string, unknown>;
  const target = copy as unknown as Record<string, unknown>;
  for (const [from, to] of SAFE_MEMBERS) {
    const value = source[from];
    if (typeof value === 'string' || typeof value === 'number') target[to] = value;
  }
  return copy;
}
