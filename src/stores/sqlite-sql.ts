// The SQL of SqliteStore, for a table name already validated and quoted.
// Times are integers of ms since the epoch; expires_at NULL means never.

/** The table and its expiry index, as SqliteStore creates them when missing. */
export function sqliteTableSql(table: string, index: string): string {
  return `CREATE TABLE IF NOT EXISTS ${table} (
  sid TEXT PRIMARY KEY,
  data TEXT NOT NULL,
  expires_at INTEGER
);
CREATE INDEX IF NOT EXISTS ${index} ON ${table} (expires_at);`;
}

/** `@now`: the current time in ms; a row is alive while its expires_at is NULL or later than that. */
const ALIVE = '(expires_at IS NULL OR expires_at > @now)';

/** The statements SqliteStore prepares once. */
export function sqliteStatementsSql(table: string): {
  load: string;
  save: string;
  remove: string;
  touch: string;
  rewrite: string;
  sweep: string;
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
  };
}
