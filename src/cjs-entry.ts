// CommonJS entry: `require('koa-session-store')` returns the factory itself,
// as 2.0 did, with every named export (and `.session`, `.default`) on it.
import * as api from './index.js';

/** Session middleware for Koa: see {@link api.session}. */
function koaSessionStore(options?: api.SessionOptions): api.SessionMiddleware {
  return api.session(options);
}

// Types for `import session = require('koa-session-store')` users; the values are attached below.
// eslint-disable-next-line @typescript-eslint/no-namespace
declare namespace koaSessionStore {
  const session: typeof api.session;
  const MemoryStore: typeof api.MemoryStore;
  const fromExpressStore: typeof api.fromExpressStore;
  const SessionStoreError: typeof api.SessionStoreError;
  const SessionUsageError: typeof api.SessionUsageError;
  const StoreTimeoutError: typeof api.StoreTimeoutError;
  type MemoryStore = api.MemoryStore;
  type SessionOptions = api.SessionOptions;
  type SessionCookieOptions = api.SessionCookieOptions;
  type SessionMiddleware = api.SessionMiddleware;
  type SessionStore = api.SessionStore;
  type SessionPatch = api.SessionPatch;
  type StoreResult<T> = api.StoreResult<T>;
  type Thunk<T> = api.Thunk<T>;
  /** Your session's keys: augment it with `declare module 'koa-session-store' { interface SessionData { … } }`. */
  // eslint-disable-next-line @typescript-eslint/no-empty-interface, @typescript-eslint/no-empty-object-type
  interface SessionData extends api.SessionData {}
  type Session = api.Session;
  type MemoryStoreOptions = api.MemoryStoreOptions;
  type IndexedSession = api.IndexedSession;
  type UserSession = api.UserSession;
  type UserSessionsApi = api.UserSessionsApi;
  type ExpressSessionCookie = api.ExpressSessionCookie;
  type ExpressSessionObject = api.ExpressSessionObject;
  type ExpressSessionStore = api.ExpressSessionStore;
  type ExpressStoreOptions = api.ExpressStoreOptions;
}

Object.assign(koaSessionStore, api, { default: koaSessionStore });

export = koaSessionStore;
