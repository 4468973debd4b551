// The two SQLite drivers SqliteStore runs on, behind one small interface:
// better-sqlite3 (a native addon) and node:sqlite's DatabaseSync (built into
// Node 22.5+, no native build). Both are synchronous and bind `@name`
// parameters from an object's `name`; they differ in how a statement answers
// a single value, in transactions (better-sqlite3 has a helper, node:sqlite
// only SQL) and in how "open" is spelled. The flavour is told once, by what
// the database object has, and nothing of either driver's types reaches the
// published declarations.

/** Values bound to `@name` parameters. Bytes are stored as a BLOB. */
export type Params = Readonly<Record<string, string | number | null | Uint8Array>>;

/**
 * What SqliteStore needs of a database you pass as `db`, a shape both
 * better-sqlite3's `Database` and node:sqlite's `DatabaseSync` have.
 */
export interface SqliteDatabase {
  prepare(sql: string): {
    run(...params: never[]): unknown;
    get(...params: never[]): unknown;
    all(...params: never[]): unknown;
  };
  exec(sql: string): unknown;
}

/** A prepared statement, answering rows as objects keyed by column name. */
export interface Statement {
  /** Runs it; the number of rows it changed. */
  run(params: Params): number;
  /** The first row, or undefined. */
  get(params: Params): Record<string, unknown> | undefined;
  all(params: Params): Array<Record<string, unknown>>;
}

/** A prepared statement answering the first column of its first row, or undefined. */
export interface ValueStatement {
  value(params: Params): unknown;
}

/** An open database, whichever driver opened it. */
export interface Connection {
  readonly driver: 'better-sqlite3' | 'node:sqlite';
  exec(sql: string): void;
  prepare(sql: string): Statement;
  prepareValue(sql: string): ValueStatement;
  /**
   * `work` as a function that runs it in one IMMEDIATE transaction (a
   * savepoint when a transaction is already open on the connection), rolled
   * back when it throws. IMMEDIATE takes the write lock before the first read.
   */
  immediate<A extends unknown[], T>(work: (...args: A) => T): (...args: A) => T;
  /** Closes the database unless it is closed already. */
  close(): void;
  /**
   * Called when the store is done with the connection (after `close()` for a
   * database it opened): see {@link retired}.
   */
  retire(): void;
}

/** The parts of better-sqlite3's Database the store uses. */
interface BetterSqlite3Database {
  prepare(sql: string): BetterSqlite3Statement;
  exec(sql: string): unknown;
  transaction<F extends (...args: never[]) => unknown>(fn: F): { immediate: F };
  readonly open: boolean;
  close(): unknown;
}

interface BetterSqlite3Statement {
  run(params: Params): { changes: number };
  get(params: Params): unknown;
  all(params: Params): unknown[];
  pluck(toggle?: boolean): BetterSqlite3Statement;
}

/** The parts of node:sqlite's DatabaseSync the store uses; `isTransaction` and `isOpen` came in later 22.x releases. */
interface NodeSqliteDatabase {
  prepare(sql: string): NodeSqliteStatement;
  exec(sql: string): void;
  readonly isTransaction?: boolean;
  readonly isOpen?: boolean;
  close(): void;
}

interface NodeSqliteStatement {
  run(params: Params): { changes: number | bigint };
  get(params: Params): unknown;
  all(params: Params): unknown[];
}

/**
 * The connection over `db`, or undefined when `db` is no database either
 * driver made. better-sqlite3 is told by its `pragma` and `transaction`
 * methods, which DatabaseSync lacks; anything else with `prepare` and `exec`
 * is driven as node:sqlite is, through SQL alone.
 */
export function connect(db: unknown): Connection | undefined {
  if (db === null || typeof db !== 'object') return undefined;
  const candidate = db as Record<string, unknown>;
  if (typeof candidate.prepare !== 'function' || typeof candidate.exec !== 'function') return undefined;
  if (typeof candidate.pragma === 'function' && typeof candidate.transaction === 'function') {
    return betterSqlite3(db as BetterSqlite3Database);
  }
  return nodeSqlite(db as NodeSqliteDatabase);
}

/**
 * Databases and statements of retired better-sqlite3 connections, kept for the
 * life of the process so that no garbage collection ever frees them. With
 * better-sqlite3 12 on Node 24, freeing a Statement object in a collection
 * that V8 runs between tasks aborts the process (`Assertion failed: (env) !=
 * nullptr` in node::RemoveEnvironmentCleanupHook from Statement::~Statement):
 * its node::ObjectWrap, compiled against Node 24's headers, unregisters a
 * cleanup hook and finds no environment. A closed store's database and
 * statements hold no SQLite resources any more (closing the database finalized
 * them) and are a few kilobytes; at exit Node's own cleanup frees them safely.
 * The database is kept too: better-sqlite3 keeps the BEGIN/COMMIT statements
 * of `transaction()` in a WeakMap keyed by it. better-sqlite3 13 has no such
 * destructor.
 */
const retired: unknown[] = [];

function betterSqlite3(db: BetterSqlite3Database): Connection {
  const statements: BetterSqlite3Statement[] = [];
  return {
    driver: 'better-sqlite3',
    exec: (sql) => void db.exec(sql),
    prepare: (sql) => {
      const statement = db.prepare(sql);
      statements.push(statement);
      return {
        run: (params) => statement.run(params).changes,
        get: (params) => statement.get(params) as Record<string, unknown> | undefined,
        all: (params) => statement.all(params) as Array<Record<string, unknown>>,
      };
    },
    prepareValue: (sql) => {
      // pluck: the driver answers the column's value itself and makes no row object.
      const statement = db.prepare(sql).pluck();
      statements.push(statement);
      return { value: (params) => statement.get(params) };
    },
    immediate: (work) => db.transaction(work).immediate,
    close: () => {
      if (db.open) db.close();
    },
    retire: () => {
      retired.push(db, statements);
    },
  };
}

/** A name no statement of the caller's is likely to use for its own savepoint. */
const SAVEPOINT = 'koa_session_store';

function nodeSqlite(db: NodeSqliteDatabase): Connection {
  /** Opens a transaction, or a savepoint inside the caller's; true for the savepoint. */
  const begin = (): boolean => {
    const open = db.isTransaction;
    if (typeof open === 'boolean') {
      db.exec(open ? `SAVEPOINT ${SAVEPOINT}` : 'BEGIN IMMEDIATE');
      return open;
    }
    // Releases before 22.16 cannot say whether a transaction is open; SQLite refuses a BEGIN inside one.
    try {
      db.exec('BEGIN IMMEDIATE');
      return false;
    } catch (error) {
      if (!(error instanceof Error) || !/within a transaction/.test(error.message)) throw error;
      db.exec(`SAVEPOINT ${SAVEPOINT}`);
      return true;
    }
  };
  return {
    driver: 'node:sqlite',
    exec: (sql) => db.exec(sql),
    prepare: (sql) => {
      const statement = db.prepare(sql);
      return {
        run: (params) => Number(statement.run(params).changes),
        get: (params) => statement.get(params) as Record<string, unknown> | undefined,
        all: (params) => statement.all(params) as Array<Record<string, unknown>>,
      };
    },
    prepareValue: (sql) => {
      const statement = db.prepare(sql);
      return {
        value: (params) => {
          const row = statement.get(params) as Record<string, unknown> | undefined;
          // Rows are objects whose keys follow the column order, so the first key is the first column.
          for (const column in row) return row[column];
          return undefined;
        },
      };
    },
    immediate:
      <A extends unknown[], T>(work: (...args: A) => T) =>
      (...args: A): T => {
        const nested = begin();
        try {
          const result = work(...args);
          db.exec(nested ? `RELEASE ${SAVEPOINT}` : 'COMMIT');
          return result;
        } catch (error) {
          try {
            db.exec(nested ? `ROLLBACK TO ${SAVEPOINT}; RELEASE ${SAVEPOINT}` : 'ROLLBACK');
          } catch {
            // SQLite already ended the transaction (some errors roll it back themselves): the first error is the one to report.
          }
          throw error;
        }
      },
    close: () => {
      if (db.isOpen !== false) db.close();
    },
    // node:sqlite's statements are freed safely whenever they are collected.
    retire: () => {},
  };
}

/**
 * Opens `path` with better-sqlite3 in WAL mode, loading the package only now,
 * so that nobody who does not use SQLite (or passes node:sqlite's database)
 * needs it installed.
 */
export async function openFile(path: string): Promise<Connection> {
  let Database: new (path: string) => BetterSqlite3Database;
  try {
    // A dynamic import resolves from this file in the ES module build and becomes require() in the CommonJS one.
    Database = (await import('better-sqlite3')).default as unknown as typeof Database;
  } catch (error) {
    throw new Error(
      "koa-session-store: SqliteStore needs the better-sqlite3 package for option path; install it with `npm install better-sqlite3@12`, or on Node 22.5+ pass { db: new DatabaseSync(path) } from 'node:sqlite'",
      { cause: error },
    );
  }
  let db: BetterSqlite3Database;
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
    // exec, not db.pragma(): pragma() prepares a statement and drops it, and with better-sqlite3 12 on
    // Node 24 a statement collected by a garbage collection that V8 runs between tasks aborts the
    // process (`Assertion failed: (env) != nullptr` in Statement::~Statement); exec makes no statement object.
    db.exec('PRAGMA journal_mode = WAL');
  } catch (error) {
    db.close();
    throw error;
  }
  return betterSqlite3(db);
}
