import { session } from './middleware.js';

export { session };
export default session;
export { MemoryStore } from './stores/memory.js';
export type { MemoryStoreOptions } from './stores/memory.js';
export { SessionStoreError, SessionUsageError, StoreTimeoutError } from './errors.js';
export type { SessionMiddleware } from './middleware.js';
export type { SessionOptions, SessionCookieOptions } from './options.js';
export type { SessionStore, SessionPatch, StoreResult, Thunk } from './store.js';
export type { SessionData, Session } from './types.js';
