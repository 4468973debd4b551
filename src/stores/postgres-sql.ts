// The SQL of PostgresStore. Expiry is always computed by the server (now() +
// ttl), so a clock difference between app servers and the database never
// makes a session live longer or shorter than its ttl.
import { expiryIndexName, quoteIdentifier } from './sql-common.js';

const STORE = 'PostgresStore';

/** Validated, quoted names of one store's table. */
export interface PostgresNames {
  /** `"schema"`. */
  readonly schema: string;
  /** `"schema"."table"`. */
  readonly table: string;
  /** `"table_expires_at"`: the expiry index, which lives in the table's schema. */
  readonly index: string;
}

export function postgresNames(schema: unknown, table: unknown): PostgresNames {
  const quotedSchema = quoteIdentifier(STORE, 'schema', schema);
  const quotedTable = quoteIdentifier(STORE, 'table', table);
  return {
    schema: quotedSchema,
    table: `${quotedSchema}.${quotedTable}`,
    index: expiryIndexName(table as string),
  };
}

function tableDdl(names: PostgresNames): string {
  return `CREATE TABLE IF NOT EXISTS ${names.table} (
  sid text PRIMARY KEY,
  data text NOT NULL,
  expires_at timestamptz
);
CREATE INDEX IF NOT EXISTS ${names.index} ON ${names.table} (expires_at);`;
}

/**
 * The SQL that creates PostgresStore's table, for applications that manage
 * their schema with migrations (then pass `createTable: false`). One row per
 * session: `sid`, `data` (the exact JSON text the middleware saved) and
 * `expires_at` (NULL: never), with an index on `expires_at` for the sweep.
 *
 * ```sql
 * CREATE SCHEMA IF NOT EXISTS "public";
 * CREATE TABLE IF NOT EXISTS "public"."sessions" (
 *   sid text PRIMARY KEY,
 *   data text NOT NULL,
 *   expires_at timestamptz
 * );
 * CREATE INDEX IF NOT EXISTS "sessions_expires_at" ON "public"."sessions" (expires_at);
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
 * What the store runs when its table is missing: the DDL, one implicit
 * transaction (a multi-statement simple query), behind a transaction-scoped
 * advisory lock on the table's name, so that stores starting together in
 * several processes create it one after the other instead of colliding in the
 * catalog. `CREATE SCHEMA` is left out when the schema exists, because it needs
 * the CREATE privilege on the whole database even then.
 */
export function postgresCreateSql(names: PostgresNames, schemaExists: boolean): string {
  const lockKey = `hashtext('koa-session-store'), hashtext('${names.table.replace(/'/g, "''")}')`;
  const createSchema = schemaExists ? '' : `CREATE SCHEMA IF NOT EXISTS ${names.schema};\n`;
  return `SELECT pg_advisory_xact_lock(${lockKey});\n${createSchema}${tableDdl(names)}`;
}

/** A row is alive while its expires_at is NULL or later than the server's now(). */
const ALIVE = '(expires_at IS NULL OR expires_at > now())';
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
} {
  const t = names.table;
  return {
    exists: 'SELECT to_regclass($1) IS NOT NULL AS table_exists, to_regnamespace($2) IS NOT NULL AS schema_exists',
    load: `SELECT data FROM ${t} WHERE sid = $1 AND ${ALIVE}`,
    save: `INSERT INTO ${t} (sid, data, expires_at) VALUES ($1, $2, ${expiry('$3')})
ON CONFLICT (sid) DO UPDATE SET data = EXCLUDED.data, expires_at = EXCLUDED.expires_at`,
    remove: `DELETE FROM ${t} WHERE sid = $1`,
    touch: `UPDATE ${t} SET expires_at = ${expiry('$2')} WHERE sid = $1 AND ${ALIVE}`,
    // One statement: the row lock it takes makes concurrent patches of one session apply one after the other,
    // each to the other's result. jsonb's `-` drops the unset keys (and those being set), `||` adds the new values.
    // The keys to drop come as a JSON array, not a text[]: JSON escapes carry a lone surrogate such as "\ud800"
    // (jsonb then refuses it and the fallback runs), where UTF-8 text would turn it into U+FFFD and drop that key.
    patch: `UPDATE ${t} SET data = ((data::jsonb - ARRAY(SELECT jsonb_array_elements_text($2::jsonb))) || $3::jsonb)::text,
  expires_at = ${expiry('$4')}
WHERE sid = $1 AND ${ALIVE}`,
    // The fallback for JSON that jsonb cannot hold (\u0000, lone surrogates): the same change under a row lock.
    lockForPatch: `SELECT data FROM ${t} WHERE sid = $1 AND ${ALIVE} FOR UPDATE`,
    writePatched: `UPDATE ${t} SET data = $2, expires_at = ${expiry('$3')} WHERE sid = $1`,
    sweep: `DELETE FROM ${t} WHERE expires_at <= now()`,
  };
}
