// The `koa-session-store/postgres` entry: import it only when you use
// PostgreSQL, so nobody else needs pg or postgres installed.
export { PostgresStore } from './stores/postgres.js';
export type { PostgresStoreOptions } from './stores/postgres.js';
export type { PgPool, PgPoolClient, PostgresJsQuery, PostgresJsSql, PostgresJsTransaction } from './stores/postgres-driver.js';
export { postgresTableSql } from './stores/postgres-sql.js';
