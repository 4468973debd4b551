// The `koa-session-store/postgres` entry: import it only when you use
// PostgreSQL, so nobody else needs pg installed.
export { PostgresStore } from './stores/postgres.js';
export type { PostgresStoreOptions } from './stores/postgres.js';
export { postgresTableSql } from './stores/postgres-sql.js';
