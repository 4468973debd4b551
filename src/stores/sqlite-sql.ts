// The SQL of SqliteStore, for names already validated and quoted.
// Times are integers of ms since the epoch; expires_at NULL means never.
import { derivedName } from './sql-common.js';

/** The quoted names SqliteStore uses for the table named by its `table` option. */
export interface SqliteNames {
  /** The sessions. */
  readonly table: string;
  /** Its index on expires_at. */
  readonly index: string;
  /** The users' index of sessions (option `indexBy`): `<table>_users`. */
  readonly users: string;
  /** Its index on sid: `<table>_users_sid`. */
  readonly usersSid: string;
}

/**
 * `<table><suffix>`, quoted, for a valid unquoted table name. A name too long
 * for the limit keeps a prefix and gets a hash of the whole table name, as the
 * expiry index's does, so two long tables sharing a prefix never share a name.
 */
export function sqliteDerivedName(table: string, suffix: string): string {
  return `"${derivedName(table, suffix)}"`;
}

/**
 * The tables and indexes, as SqliteStore creates them when missing: the
 * sessions, and the users' index of sessions (option `indexBy`), one row per
 * session of a user. `user_id` and `user_agent` hold TEXT, or, for a string
 * with a lone surrogate (which would reach SQLite as U+FFFD) or U+0000, a
 * BLOB of its JSON (`"\ud800"`, the escape as six characters), so every
 * JavaScript string is kept exactly and no two share a row. The index has no
 * foreign key: SqliteStore drops rows of sessions that are gone when it sweeps.
 */
export function sqliteTableSql(names: SqliteNames): string {
  return `CREATE TABLE IF NOT EXISTS ${names.table} (
  sid TEXT PRIMARY KEY,
  data TEXT NOT NULL,
  expires_at INTEGER
);
CREATE INDEX IF NOT EXISTS ${names.index} ON ${names.table} (expires_at);
CREATE TABLE IF NOT EXISTS ${names.users} (
  user_id TEXT NOT NULL,
  sid TEXT NOT NULL,
  created_at INTEGER NOT NULL,
  last_active_at INTEGER NOT NULL,
  expires_at INTEGER,
  user_agent TEXT NOT NULL,
  PRIMARY KEY (user_id, sid)
);
CREATE INDEX IF NOT EXISTS ${names.usersSid} ON ${names.users} (sid);`;
}

/** `@now`: the current time in ms; a row is alive while its expires_at is NULL or later than that. */
const ALIVE = '(expires_at IS NULL OR expires_at > @now)';

/** The statements SqliteStore prepares once. */
export function sqliteStatementsSql({ table, users }: SqliteNames): {
  load: string;
  save: string;
  remove: string;
  touch: string;
  rewrite: string;
  sweep: string;
  alive: string;
  dropExpired: string;
  dropForeign: string;
  upsert: string;
  unindex: string;
  list: string;
  sweepIndexUpTo: string;
  sweepIndex: string;
} {
  return {
    load: `SELECT data FROM ${table} WHERE sid = @sid AND ${ALIVE}`,
    save: `INSERT INTO ${table} (sid, data, expires_at) VALUES (@sid, @data, @expiresAt)
ON CONFLICT (sid) DO UPDATE SET data = excluded.data, expires_at = excluded.expires_at`,
    remove: `DELETE FROM ${table} WHERE sid = @sid`,
    touch: `UPDATE ${table} SET expires_at = @expiresAt WHERE sid = @sid AND ${ALIVE}`,
    // The write of a patch, computed in JavaScript from the row read in the same IMMEDIATE transaction.
    rewrite: `UPDATE ${table} SET data = @data, expires_at = @expiresAt WHERE sid = @sid`,
    // In batches, so that sweeping a large backlog never holds the write lock (or the event loop) for long.
    sweep: `DELETE FROM ${table} WHERE rowid IN (SELECT rowid FROM ${table} WHERE expires_at <= @now LIMIT @limit)`,

    // indexSession, in one IMMEDIATE transaction: the session must be live; the user's expired entries
    // go, as does the session's entry under another user (a session belongs to one user); then the upsert,
    // which keeps created_at and user_agent of a known entry.
    alive: `SELECT 1 FROM ${table} WHERE sid = @sid AND ${ALIVE}`,
    dropExpired: `DELETE FROM ${users} WHERE user_id = @user AND expires_at <= @now`,
    dropForeign: `DELETE FROM ${users} WHERE sid = @sid AND user_id <> @user`,
    upsert: `INSERT INTO ${users} (user_id, sid, created_at, last_active_at, expires_at, user_agent)
VALUES (@user, @sid, @createdAt, @lastActiveAt, @expiresAt, @userAgent)
ON CONFLICT (user_id, sid) DO UPDATE SET last_active_at = excluded.last_active_at, expires_at = excluded.expires_at`,
    unindex: `DELETE FROM ${users} WHERE user_id = @user AND sid = @sid`,
    list: `SELECT sid, created_at, last_active_at, expires_at, user_agent FROM ${users} WHERE user_id = @user`,
    // The sweep walks the index @limit rows at a time by rowid (this batch ends at sweepIndexUpTo's answer)
    // and deletes the entries of sessions that expired or are gone, so no batch scans the whole table.
    sweepIndexUpTo: `SELECT max(rowid) FROM (SELECT rowid FROM ${users} WHERE rowid > @after ORDER BY rowid LIMIT @limit)`,
    sweepIndex: `DELETE FROM ${users} WHERE rowid > @after AND rowid <= @upTo
AND (expires_at <= @now OR NOT EXISTS (SELECT 1 FROM ${table} AS s WHERE s.sid = ${users}.sid AND (s.expires_at IS NULL OR s.expires_at > @now)))`,
  };
}
