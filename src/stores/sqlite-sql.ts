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

/**
 * The value of one top-level entry `e` of `json_each(<table>.data)` as JSON text.
 *
 * json_each decodes what it yields: a string comes out unquoted and unescaped
 * (a lone surrogate escape such as `\ud800` cannot survive that), a number as
 * an SQL number. So scalars are read back as JSON text with `->` on the
 * entry's own path, which keeps their text exactly. That lookup is guarded:
 * SQLite's path lookup can land on another key when a key holds U+0000 (`$.k`
 * may find `"k\u0000"`), so its answer is used only when it decodes to the
 * entry's own atom; otherwise the decoded atom is quoted again, which keeps its
 * value. Containers come out of json_each as JSON text already.
 */
function entryJson(table: string): string {
  return `CASE
      WHEN e.type = 'null' THEN 'null'
      WHEN e.type = 'true' THEN 'true'
      WHEN e.type = 'false' THEN 'false'
      WHEN e.type IN ('object', 'array') THEN e.value
      WHEN (${table}.data ->> e.fullkey) IS e.atom THEN ${table}.data -> e.fullkey
      ELSE json_quote(e.atom)
    END`;
}

/**
 * One UPDATE that applies a patch inside SQLite, so no other writer (another
 * request, another process on the same file) can slip in between read and write.
 *
 * The new object is built as text: the entries kept (every top-level key not in
 * `@drop`, which lists the unset keys and the keys being set), then `@add`, the
 * new `"key":value` pairs already written as JSON text by the caller (NULL when
 * there are none). Building text rather than using json_set/json_remove avoids
 * JSON paths for the changed keys: a path cannot name every possible key (dots,
 * quotes, brackets, `$`), while json_quote can quote any key. The outer json()
 * checks that the result is valid JSON, so a malformed value in `@add` fails the
 * statement and changes nothing. The WHERE clause leaves missing and expired
 * rows alone: a patch never brings a session back.
 */
export function sqlitePatchSql(table: string): string {
  return `UPDATE ${table} SET
  data = json('{' || concat_ws(',',
    (SELECT group_concat(json_quote(e.key) || ':' || ${entryJson(table)}, ',')
       FROM json_each(${table}.data) AS e
       WHERE e.key NOT IN (SELECT d.value FROM json_each(@drop) AS d)),
    @add) || '}'),
  expires_at = @expiresAt
WHERE sid = @sid AND ${ALIVE}`;
}

/** The statements SqliteStore prepares once. */
export function sqliteStatementsSql(table: string): {
  load: string;
  save: string;
  remove: string;
  touch: string;
  patch: string;
  sweep: string;
} {
  return {
    load: `SELECT data FROM ${table} WHERE sid = @sid AND ${ALIVE}`,
    save: `INSERT INTO ${table} (sid, data, expires_at) VALUES (@sid, @data, @expiresAt)
ON CONFLICT (sid) DO UPDATE SET data = excluded.data, expires_at = excluded.expires_at`,
    remove: `DELETE FROM ${table} WHERE sid = @sid`,
    touch: `UPDATE ${table} SET expires_at = @expiresAt WHERE sid = @sid AND ${ALIVE}`,
    patch: sqlitePatchSql(table),
    // In batches, so that sweeping a large backlog never holds the write lock (or the event loop) for long.
    sweep: `DELETE FROM ${table} WHERE rowid IN (SELECT rowid FROM ${table} WHERE expires_at <= @now LIMIT @limit)`,
  };
}
