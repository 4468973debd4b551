// The SQL of MysqlStore, written for MySQL 8 and MariaDB 10.5+ alike: no JSON
// functions (the session is kept as exact text, which MySQL's JSON type would
// reformat), and expiry always computed by the server in UTC, so neither the
// app servers' clocks nor a connection's time_zone setting move it.
import { derivedName, expiryIndexName, quoteIdentifier } from './sql-common.js';

const STORE = 'MysqlStore';

/** Validated, backquoted names of one store's table. */
export interface MysqlNames {
  /** `` `table` `` or `` `database`.`table` ``. */
  readonly table: string;
  /** `` `table_expires_at` ``: the expiry index. */
  readonly index: string;
  /** `` `table_users` `` or `` `database`.`table_users` ``: the users' index of sessions (option `indexBy`). */
  readonly users: string;
  /** `` `table_users_expires_at` ``: its index on the entries' expiry, for the sweep. */
  readonly usersIndex: string;
}

/** A plain identifier (checked by the rule the other SQL stores use) in MySQL's backquotes. */
function backquoted(option: string, value: unknown): string {
  // quoteIdentifier admits letters, digits and _ only, so swapping its double quotes for backquotes is safe.
  return `\`${quoteIdentifier(STORE, option, value).slice(1, -1)}\``;
}

export function mysqlNames(table: unknown, database: unknown): MysqlNames {
  const quotedTable = backquoted('table', table);
  const quotedDatabase = database === undefined ? undefined : backquoted('database', database);
  const qualified = (name: string): string => (quotedDatabase === undefined ? name : `${quotedDatabase}.${name}`);
  const users = derivedName(table as string, '_users');
  return {
    table: qualified(quotedTable),
    index: `\`${expiryIndexName(table as string).slice(1, -1)}\``,
    users: qualified(`\`${users}\``),
    usersIndex: `\`${expiryIndexName(users).slice(1, -1)}\``,
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
 * The statement that creates the users' index of sessions (option `indexBy`),
 * one row per session of a user. `user_id` is bytes, compared exactly, up to
 * 512 (with `sid`, a key InnoDB can hold); the times are milliseconds since
 * the epoch as the middleware gave them. No foreign key: a session's row comes
 * and goes without touching this table, whose rows of sessions that are gone
 * the store deletes on its own.
 */
export function mysqlUsersCreateSql(names: MysqlNames): string {
  return `CREATE TABLE IF NOT EXISTS ${names.users} (
  user_id VARBINARY(512) NOT NULL,
  sid VARBINARY(255) NOT NULL,
  created_at BIGINT NOT NULL,
  last_active_at BIGINT NOT NULL,
  expires_at BIGINT NULL,
  user_agent TEXT CHARACTER SET utf8mb4 COLLATE utf8mb4_bin NOT NULL,
  PRIMARY KEY (user_id, sid),
  KEY ${names.usersIndex} (expires_at)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin`;
}

/**
 * The SQL that creates MysqlStore's tables, for applications that manage
 * their schema with migrations (then pass `createTable: false`). One row per
 * session: `sid` (UTF-8 bytes, at most 255), `data` (the exact JSON text the
 * middleware saved) and `expires_at` (UTC, NULL: never), with an index on
 * `expires_at` for the sweep. Beside it, `<table>_users`, the users' index of
 * sessions (option `indexBy` of the middleware): one row per session of a
 * user, times in milliseconds since the epoch as the middleware gave them,
 * `user_id` and `user_agent` as given except that `%`, U+0000 and lone
 * surrogates are written `%25`, `%00`, `%uD800`. Only the `indexBy` methods
 * use it: without it, sessions work.
 *
 * ```sql
 * CREATE TABLE IF NOT EXISTS `sessions` (
 *   sid VARBINARY(255) NOT NULL,
 *   data LONGTEXT CHARACTER SET utf8mb4 COLLATE utf8mb4_bin NOT NULL,
 *   expires_at DATETIME(3) NULL,
 *   PRIMARY KEY (sid),
 *   KEY `sessions_expires_at` (expires_at)
 * ) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;
 * CREATE TABLE IF NOT EXISTS `sessions_users` (
 *   user_id VARBINARY(512) NOT NULL,
 *   sid VARBINARY(255) NOT NULL,
 *   created_at BIGINT NOT NULL,
 *   last_active_at BIGINT NOT NULL,
 *   expires_at BIGINT NULL,
 *   user_agent TEXT CHARACTER SET utf8mb4 COLLATE utf8mb4_bin NOT NULL,
 *   PRIMARY KEY (user_id, sid),
 *   KEY `sessions_users_expires_at` (expires_at)
 * ) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;
 * ```
 *
 * @param table - Table name, as given to MysqlStore (default `'sessions'`).
 * @param database - Database name, as given to MysqlStore; without it the tables are created in the connection's database.
 */
export function mysqlTableSql(table = 'sessions', database?: string): string {
  const names = mysqlNames(table, database);
  return `${mysqlCreateSql(names)};\n${mysqlUsersCreateSql(names)};\n`;
}

/** A row is alive while its expires_at is NULL or later than the server's clock (UTC, like the column). */
const ALIVE = '(expires_at IS NULL OR expires_at > UTC_TIMESTAMP(3))';
/** `?` microseconds from now; NULL (never) when the parameter is NULL, as date arithmetic with NULL is NULL. */
const EXPIRY = 'UTC_TIMESTAMP(3) + INTERVAL ? MICROSECOND';

/** Whether the session `<users>.sid` names is alive: its row exists and has not expired. */
const sessionAlive = (t: string, users: string): string =>
  `EXISTS (SELECT 1 FROM ${t} s WHERE s.sid = ${users}.sid AND (s.expires_at IS NULL OR s.expires_at > UTC_TIMESTAMP(3)))`;

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
  usersExist: string;
  index: string;
  deadOfUser: string;
  deadIndexed: string;
  deleteDead: string;
  unindex: string;
  list: string;
} {
  const t = names.table;
  const u = names.users;
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
    usersExist: `SELECT 1 FROM ${u} LIMIT 0`,
    // (user, created, last active, expires, user agent, sid): inserts or updates the entry, but only while its session
    // is alive. The SELECT share-locks the session's row (InnoDB does for INSERT … SELECT), so a concurrent DELETE of
    // it (a revocation) waits until the entry is in, and its own unindex then finds it; after the DELETE, it finds no
    // row and writes nothing. A known entry keeps created_at and user_agent.
    index: `INSERT INTO ${u} (user_id, sid, created_at, last_active_at, expires_at, user_agent)
SELECT ?, s.sid, ?, ?, ?, ? FROM ${t} s WHERE s.sid = ? AND (s.expires_at IS NULL OR s.expires_at > UTC_TIMESTAMP(3))
ON DUPLICATE KEY UPDATE last_active_at = VALUES(last_active_at), expires_at = VALUES(expires_at)`,
    // (user): the user's entries whose session is gone or expired, read without locks; deleteDead deletes them.
    deadOfUser: `SELECT user_id, sid FROM ${u} WHERE user_id = ? AND NOT ${sessionAlive(t, u)} LIMIT ${SWEEP_BATCH}`,
    // (now in ms): for the sweep, entries whose expiry has passed (found by the index on it) or that never expire,
    // and whose session is gone or expired. The expiry is only where to look: the session decides.
    deadIndexed: `SELECT user_id, sid FROM ${u} WHERE (expires_at IS NULL OR expires_at <= ?) AND NOT ${sessionAlive(t, u)} LIMIT ${SWEEP_BATCH}`,
    // (SWEEP_BATCH pairs of user and sid, NULL for those missing): by primary key, checking the session again (a
    // save may have revived it meanwhile), so nothing but those rows is locked.
    deleteDead: `DELETE FROM ${u} WHERE (user_id, sid) IN (${Array.from({ length: SWEEP_BATCH }, () => '(?, ?)').join(', ')}) AND NOT ${sessionAlive(t, u)}`,
    // (user, sid)
    unindex: `DELETE FROM ${u} WHERE user_id = ? AND sid = ?`,
    // (user)
    list: `SELECT sid, created_at AS created, last_active_at AS active, expires_at AS expires, user_agent AS agent FROM ${u} WHERE user_id = ?`,
  };
}
