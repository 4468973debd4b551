// The SQL of PostgresStore. Expiry is always computed by the server (now() +
// ttl), so a clock difference between app servers and the database never
// makes a session live longer or shorter than its ttl. Every parameter has its
// type written in the SQL (`$2::text::jsonb`, not `$2::jsonb`): postgres.js
// serializes a parameter by the type the server asks for, and would send a
// string bound to jsonb as a JSON string, not as the object it spells.
import { derivedName, expiryIndexName, quoteIdentifier } from './sql-common.js';

const STORE = 'PostgresStore';

/** Validated, quoted names of one store's table. */
export interface PostgresNames {
  /** `"schema"`. */
  readonly schema: string;
  /** `"schema"."table"`. */
  readonly table: string;
  /** `"table_expires_at"`: the expiry index, which lives in the table's schema. */
  readonly index: string;
  /** `"schema"."table_users"`: the users' index of sessions (option `indexBy`). */
  readonly users: string;
  /** `"table_users_expires_at"`: its index on the entries' expiry, for the sweep. */
  readonly usersIndex: string;
}

export function postgresNames(schema: unknown, table: unknown): PostgresNames {
  const quotedSchema = quoteIdentifier(STORE, 'schema', schema);
  const quotedTable = quoteIdentifier(STORE, 'table', table);
  const users = derivedName(table as string, '_users');
  return {
    schema: quotedSchema,
    table: `${quotedSchema}.${quotedTable}`,
    index: expiryIndexName(table as string),
    users: `${quotedSchema}."${users}"`,
    usersIndex: expiryIndexName(users),
  };
}

function tableDdl(names: PostgresNames): string {
  return `CREATE TABLE IF NOT EXISTS ${names.table} (
  sid text PRIMARY KEY,
  data text NOT NULL,
  expires_at timestamptz
);
CREATE INDEX IF NOT EXISTS ${names.index} ON ${names.table} (expires_at);
CREATE TABLE IF NOT EXISTS ${names.users} (
  user_id text NOT NULL,
  sid text NOT NULL,
  created_at bigint NOT NULL,
  last_active_at bigint NOT NULL,
  expires_at bigint,
  user_agent text NOT NULL,
  PRIMARY KEY (user_id, sid)
);
CREATE INDEX IF NOT EXISTS ${names.usersIndex} ON ${names.users} (expires_at);`;
}

/**
 * The SQL that creates PostgresStore's tables, for applications that manage
 * their schema with migrations (then pass `createTable: false`). One row per
 * session: `sid`, `data` (the exact JSON text the middleware saved) and
 * `expires_at` (NULL: never), with an index on `expires_at` for the sweep.
 * Beside it, `<table>_users`, the users' index of sessions (option `indexBy`
 * of the middleware): one row per session of a user, times in milliseconds
 * since the epoch as the middleware gave them, `user_id` and `user_agent` as
 * given except that `%`, U+0000 and lone surrogates are written `%25`, `%00`,
 * `%uD800`. Only the `indexBy` methods use it: without it, sessions work.
 *
 * ```sql
 * CREATE SCHEMA IF NOT EXISTS "public";
 * CREATE TABLE IF NOT EXISTS "public"."sessions" (
 *   sid text PRIMARY KEY,
 *   data text NOT NULL,
 *   expires_at timestamptz
 * );
 * CREATE INDEX IF NOT EXISTS "sessions_expires_at" ON "public"."sessions" (expires_at);
 * CREATE TABLE IF NOT EXISTS "public"."sessions_users" (
 *   user_id text NOT NULL,
 *   sid text NOT NULL,
 *   created_at bigint NOT NULL,
 *   last_active_at bigint NOT NULL,
 *   expires_at bigint,
 *   user_agent text NOT NULL,
 *   PRIMARY KEY (user_id, sid)
 * );
 * CREATE INDEX IF NOT EXISTS "sessions_users_expires_at" ON "public"."sessions_users" (expires_at);
 * ```
 *
 * @param schema - Schema name, as given to PostgresStore (default `'public'`).
 * @param table - Table name, as given to PostgresStore (default `'sessions'`).
 */
export function postgresTableSql(schema = 'public', table = 'sessions'): string {
  const names = postgresNames(schema, table);
  return `CREATE SCHEMA IF NOT EXISTS ${names.schema};\n${tableDdl(names)}\n`;
}

/**
 * What the store runs when a table is missing: the DDL, one implicit
 * transaction (a multi-statement simple query), behind a transaction-scoped
 * advisory lock on the table's name, so that stores starting together in
 * several processes create the tables one after the other instead of colliding
 * in the catalog. `CREATE SCHEMA` is left out when the schema exists, because
 * it needs the CREATE privilege on the whole database even then. Notices
 * ("already exists, skipping") are turned off for it: postgres.js prints them
 * on the console unless told otherwise.
 */
export function postgresCreateSql(names: PostgresNames, schemaExists: boolean): string {
  const lockKey = `hashtext('koa-session-store'), hashtext('${names.table.replace(/'/g, "''")}')`;
  const createSchema = schemaExists ? '' : `CREATE SCHEMA IF NOT EXISTS ${names.schema};\n`;
  return `SET LOCAL client_min_messages = warning;\nSELECT pg_advisory_xact_lock(${lockKey});\n${createSchema}${tableDdl(names)}`;
}

/** A row is alive while its expires_at is NULL or later than the server's now(). */
const ALIVE = '(expires_at IS NULL OR expires_at > now())';
/** Whether the session `u.sid` names is alive: its row exists and has not expired. */
const SESSION_ALIVE = (t: string, u: string): string => `EXISTS (SELECT 1 FROM ${t} s WHERE s.sid = ${u}.sid AND (s.expires_at IS NULL OR s.expires_at > now()))`;

/** How many index rows of dead sessions one sweep statement deletes at most. */
export const INDEX_SWEEP_BATCH = 1000;
/** `$n` milliseconds from now, or NULL (never) when `$n` is NULL. */
const expiry = (param: string): string => `now() + ${param}::float8 * interval '1 millisecond'`;

/** The statements of PostgresStore. */
export function postgresStatementsSql(names: PostgresNames): {
  exists: string;
  load: string;
  save: string;
  remove: string;
  touch: string;
  patch: string;
  lockForPatch: string;
  writePatched: string;
  sweep: string;
  index: string;
  unindex: string;
  list: string;
  sweepIndex: string;
} {
  const t = names.table;
  const u = names.users;
  return {
    // Column names without `_`, so that a postgres.js client with a column transform (postgres.camel) reads them as they are.
    exists: `SELECT to_regclass($1::text) IS NOT NULL AS tablefound, to_regclass($2::text) IS NOT NULL AS usersfound,
  to_regnamespace($3::text) IS NOT NULL AS schemafound`,
    load: `SELECT data FROM ${t} WHERE sid = $1::text AND ${ALIVE}`,
    save: `INSERT INTO ${t} (sid, data, expires_at) VALUES ($1::text, $2::text, ${expiry('$3')})
ON CONFLICT (sid) DO UPDATE SET data = EXCLUDED.data, expires_at = EXCLUDED.expires_at`,
    remove: `DELETE FROM ${t} WHERE sid = $1::text`,
    touch: `UPDATE ${t} SET expires_at = ${expiry('$2')} WHERE sid = $1::text AND ${ALIVE}`,
    // One statement: the row lock it takes makes concurrent patches of one session apply one after the other,
    // each to the other's result. jsonb's `-` drops the unset keys (and those being set), `||` adds the new values.
    // The keys to drop come as a JSON array, not a text[]: JSON escapes carry a lone surrogate such as "\ud800"
    // (jsonb then refuses it and the fallback runs), where UTF-8 text would turn it into U+FFFD and drop that key.
    patch: `UPDATE ${t} SET data = ((data::jsonb - ARRAY(SELECT jsonb_array_elements_text($2::text::jsonb))) || $3::text::jsonb)::text,
  expires_at = ${expiry('$4')}
WHERE sid = $1::text AND ${ALIVE}`,
    // The fallback for JSON that jsonb cannot hold (\u0000, lone surrogates): the same change under a row lock.
    lockForPatch: `SELECT data FROM ${t} WHERE sid = $1::text AND ${ALIVE} FOR UPDATE`,
    writePatched: `UPDATE ${t} SET data = $2::text, expires_at = ${expiry('$3')} WHERE sid = $1::text`,
    sweep: `DELETE FROM ${t} WHERE expires_at <= now()`,
    // (user, sid, created, last active, expires, user agent): one statement that drops the user's entries whose
    // session is gone or expired, and inserts or updates this one, but only while its session is alive. FOR KEY
    // SHARE on that session's row makes a concurrent DELETE of it (a revocation) wait until this entry is in, so
    // the revocation's own unindex then finds it; after the DELETE, it finds no row and writes nothing. A known
    // entry keeps created_at and user_agent. Both parts read one snapshot and touch different rows.
    index: `WITH pruned AS (
  DELETE FROM ${u} u WHERE u.user_id = $1::text AND NOT ${SESSION_ALIVE(t, 'u')}
)
INSERT INTO ${u} (user_id, sid, created_at, last_active_at, expires_at, user_agent)
SELECT $1::text, s.sid, $3::int8, $4::int8, $5::int8, $6::text FROM ${t} s WHERE s.sid = $2::text AND ${ALIVE} FOR KEY SHARE
ON CONFLICT (user_id, sid) DO UPDATE SET last_active_at = EXCLUDED.last_active_at, expires_at = EXCLUDED.expires_at`,
    // (user, sid)
    unindex: `DELETE FROM ${u} WHERE user_id = $1::text AND sid = $2::text`,
    // (user)
    list: `SELECT sid, created_at AS created, last_active_at AS active, expires_at AS expires, user_agent AS agent FROM ${u} WHERE user_id = $1::text`,
    // (now in ms): entries whose expiry has passed (found by the index on it) or that never expire, and whose
    // session is gone or expired, a batch at a time. The expiry is only where to look: the session decides.
    sweepIndex: `DELETE FROM ${u} WHERE (user_id, sid) IN (
  SELECT u.user_id, u.sid FROM ${u} u WHERE (u.expires_at IS NULL OR u.expires_at <= $1::int8) AND NOT ${SESSION_ALIVE(t, 'u')}
  LIMIT ${INDEX_SWEEP_BATCH}
)`,
  };
}
