// The SQL of MysqlStore, written for MySQL 8 and MariaDB 10.5+ alike: no JSON
// functions (the session is kept as exact text, which MySQL's JSON type would
// reformat), and expiry always computed by the server in UTC, so neither the
// app servers' clocks nor a connection's time_zone setting move it.
import { expiryIndexName, quoteIdentifier } from './sql-common.js';

const STORE = 'MysqlStore';

/** Validated, backquoted names of one store's table. */
export interface MysqlNames {
  /** `` `table` `` or `` `database`.`table` ``. */
  readonly table: string;
  /** `` `table_expires_at` ``: the expiry index. */
  readonly index: string;
}

/** A plain identifier (checked by the rule the other SQL stores use) in MySQL's backquotes. */
function backquoted(option: string, value: unknown): string {
  // quoteIdentifier admits letters, digits and _ only, so swapping its double quotes for backquotes is safe.
  return `\`${quoteIdentifier(STORE, option, value).slice(1, -1)}\``;
}

export function mysqlNames(table: unknown, database: unknown): MysqlNames {
  const quotedTable = backquoted('table', table);
  const quotedDatabase = database === undefined ? undefined : backquoted('database', database);
  return {
    table: quotedDatabase === undefined ? quotedTable : `${quotedDatabase}.${quotedTable}`,
    index: `\`${expiryIndexName(table as string).slice(1, -1)}\``,
  };
}

/**
 * The statement that creates the table, one statement so that stores starting
 * together cannot leave it half made. `sid` is VARBINARY: compared byte by byte
 * (a utf8mb4 `_bin` collation pads, so `'a'` and `'a '` would be one key), and
 * `data` is utf8mb4 with a binary collation, so any Unicode round-trips and the
 * compare-and-set of `patch` compares exact text. InnoDB for the row locks.
 */
export function mysqlCreateSql(names: MysqlNames): string {
  return `CREATE TABLE IF NOT EXISTS ${names.table} (
  sid VARBINARY(255) NOT NULL,
  data LONGTEXT CHARACTER SET utf8mb4 COLLATE utf8mb4_bin NOT NULL,
  expires_at DATETIME(3) NULL,
  PRIMARY KEY (sid),
  KEY ${names.index} (expires_at)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin`;
}

/**
 * The SQL that creates MysqlStore's table, for applications that manage their
 * schema with migrations (then pass `createTable: false`). One row per session:
 * `sid` (UTF-8 bytes, at most 255), `data` (the exact JSON text the middleware
 * saved) and `expires_at` (UTC, NULL: never), with an index on `expires_at`
 * for the sweep.
 *
 * ```sql
 * CREATE TABLE IF NOT EXISTS `sessions` (
 *   sid VARBINARY(255) NOT NULL,
 *   data LONGTEXT CHARACTER SET utf8mb4 COLLATE utf8mb4_bin NOT NULL,
 *   expires_at DATETIME(3) NULL,
 *   PRIMARY KEY (sid),
 *   KEY `sessions_expires_at` (expires_at)
 * ) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;
 * ```
 *
 * @param table - Table name, as given to MysqlStore (default `'sessions'`).
 * @param database - Database name, as given to MysqlStore; without it the table is created in the connection's database.
 */
export function mysqlTableSql(table = 'sessions', database?: string): string {
  return `${mysqlCreateSql(mysqlNames(table, database))};\n`;
}

/** A row is alive while its expires_at is NULL or later than the server's clock (UTC, like the column). */
const ALIVE = '(expires_at IS NULL OR expires_at > UTC_TIMESTAMP(3))';
/** `?` microseconds from now; NULL (never) when the parameter is NULL, as date arithmetic with NULL is NULL. */
const EXPIRY = 'UTC_TIMESTAMP(3) + INTERVAL ? MICROSECOND';

/** How many expired rows one sweep round finds and deletes, so a large backlog never holds locks for long. */
export const SWEEP_BATCH = 500;

/** The statements of MysqlStore; parameters in the order given in each comment. */
export function mysqlStatementsSql(names: MysqlNames): {
  probe: string;
  exists: string;
  load: string;
  save: string;
  remove: string;
  touch: string;
  replace: string;
  lock: string;
  write: string;
  expired: string;
  sweep: string;
} {
  const t = names.table;
  return {
    // (probe text): the text must come back unchanged, which it only does over a utf8mb4 connection.
    probe: 'SELECT ? AS probe, DATABASE() AS db',
    exists: `SELECT 1 FROM ${t} LIMIT 0`,
    // (sid)
    load: `SELECT data FROM ${t} WHERE sid = ? AND ${ALIVE}`,
    // (sid, data, µs). VALUES() is deprecated in MySQL 8.0.20+ but works there and in MariaDB, unlike the row alias.
    save: `INSERT INTO ${t} (sid, data, expires_at) VALUES (?, ?, ${EXPIRY})
ON DUPLICATE KEY UPDATE data = VALUES(data), expires_at = VALUES(expires_at)`,
    // (sid)
    remove: `DELETE FROM ${t} WHERE sid = ?`,
    // (µs, sid)
    touch: `UPDATE ${t} SET expires_at = ${EXPIRY} WHERE sid = ? AND ${ALIVE}`,
    // (result, µs, sid, base): the compare-and-set of a patch's whole result. The binary cast makes it an exact
    // byte comparison (the column's collation would ignore trailing spaces).
    replace: `UPDATE ${t} SET data = ?, expires_at = ${EXPIRY} WHERE sid = ? AND ${ALIVE} AND data = CAST(? AS BINARY)`,
    // (sid): inside a transaction, the row lock under which a patch's keys are applied.
    lock: `SELECT data FROM ${t} WHERE sid = ? AND ${ALIVE} FOR UPDATE`,
    // (data, µs, sid)
    write: `UPDATE ${t} SET data = ?, expires_at = ${EXPIRY} WHERE sid = ?`,
    // The sweep reads expired ids without locking anything, then deletes those rows by primary key, checking
    // again that they are expired (a save may have revived one meanwhile). A DELETE by range would lock the
    // expiry index up to the first live row, where patches and saves move their own entries: deadlocks.
    expired: `SELECT sid FROM ${t} WHERE expires_at <= UTC_TIMESTAMP(3) LIMIT ${SWEEP_BATCH}`,
    // (SWEEP_BATCH ids, NULL for those missing: one prepared statement for every batch)
    sweep: `DELETE FROM ${t} WHERE sid IN (${Array.from({ length: SWEEP_BATCH }, () => '?').join(', ')}) AND expires_at <= UTC_TIMESTAMP(3)`,
  };
}
