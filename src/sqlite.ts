// The `koa-session-store/sqlite` entry: import it only when you use SQLite, so
// nobody else needs better-sqlite3 installed.
export { SqliteStore } from './stores/sqlite.js';
export type { SqliteStoreOptions, SqliteDatabase } from './stores/sqlite.js';
