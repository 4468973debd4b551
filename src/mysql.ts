// The `koa-session-store/mysql` entry: import it only when you use MySQL or
// MariaDB, so nobody else needs mysql2 installed.
export { MysqlStore } from './stores/mysql.js';
export type { MysqlStoreOptions } from './stores/mysql.js';
export { mysqlTableSql } from './stores/mysql-sql.js';
