import { session } from './middleware.js';

export { session };
export default session;
export { MemoryStore } from './stores/memory.js';
export type { MemoryStoreOptions } from './stores/memory.js';
export { fromExpressStore } from './stores/express.js';
export type { ExpressSessionCookie, ExpressSessionObject, ExpressSessionStore, ExpressStoreOptions } from './stores/express.js';
export { SessionStoreError, SessionUsageError, StoreTimeoutError } from './errors.js';
export type { SessionMiddleware } from './middleware.js';
export type { SessionOptions, SessionCookieOptions } from './options.js';
export type { SessionStore, SessionPatch, StoreResult, Thunk, IndexedSession } from './store.js';
export type { UserSession, UserSessionsApi } from './user-index.js';
export type { SessionData, Session } from './types.js';
