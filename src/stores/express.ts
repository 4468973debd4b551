import { debug } from '../debug.js';
import type { SessionStore } from '../store.js';

/**
 * The `cookie` field express-session keeps in every stored session. Stores
 * compute their ttl from it: connect-redis and connect-pg-simple read
 * `expires`, older stores `maxAge`.
 */
export interface ExpressSessionCookie {
  /** The cookie's max age when it was (re)issued, in ms; `null` for a browser-session cookie. */
  originalMaxAge: number | null;
  /** When the session expires; `null` (or absent) lets the store apply its own default ttl. */
  expires?: Date | null | undefined;
  /** Milliseconds left until `expires` (a getter in express-session, so not stored). */
  maxAge?: number | undefined;
}

/** A session as express-session stores hold it: the data's keys, plus `cookie`. */
export interface ExpressSessionObject {
  cookie: ExpressSessionCookie;
}

/**
 * What {@link fromExpressStore} needs of an express-session store: the
 * callback methods of express-session's `Store` (connect-redis, connect-pg-simple,
 * express-mysql-session, connect-mongo, …). Described here so that the
 * published types do not depend on `@types/express-session`.
 */
export interface ExpressSessionStore {
  get(sid: string, callback: (error: unknown, session?: ExpressSessionObject | null) => void): unknown;
  set(sid: string, session: ExpressSessionObject, callback?: (error?: unknown) => void): unknown;
  destroy(sid: string, callback?: (error?: unknown) => void): unknown;
  touch?(sid: string, session: ExpressSessionObject, callback?: (error?: unknown) => void): unknown;
}

/** Options of {@link fromExpressStore}. */
export interface ExpressStoreOptions {
  /**
   * Use the store's `touch` (when it has one) to extend a session's life. It is
   * given an object holding only `cookie`, which is all the common stores read
   * there; set `false` for a store whose `touch` writes the object it is given
   * as the session, and the middleware saves the whole session instead.
   * @default true
   */
  touch?: boolean;
}

/** A node-style callback method of the wrapped store, called with `this` bound to it. */
type Invoke<T> = (callback: (error?: unknown, value?: T) => void) => unknown;

/**
 * Makes an express-session store (`get`/`set`/`destroy`/`touch` with callbacks,
 * session objects) a store for this middleware.
 *
 * - `load` gets the session object and returns its JSON without express-session's
 *   `cookie` field (sessions written by express-session itself included: that
 *   field is its cookie's metadata, not data).
 * - `save` sets the parsed session plus a `cookie` field shaped like
 *   express-session's (`originalMaxAge`, `expires`, and a `maxAge` getter), from
 *   which the store computes its own ttl; with no ttl, `expires` is `null` and the
 *   store applies its default (connect-redis and connect-pg-simple: one day, or
 *   their `ttl` option).
 * - `remove` destroys; `touch` calls the store's `touch` when it has one.
 *
 * `load` answers `JSON.stringify` of what the store holds: exactly the text the
 * middleware saved (it only ever saves `JSON.stringify`'s output), but JSON
 * written by hand comes back respelled (escapes, spacing, number format).
 *
 * There is no `patch`: an express-session store can only replace a session
 * whole, so two overlapping requests changing different keys of one session
 * can overwrite each other (the last write wins).
 *
 * Errors the store calls back with (or throws, or rejects with) are passed on
 * as they are; the middleware wraps them in a `SessionStoreError`.
 */
export function fromExpressStore(store: ExpressSessionStore, options: ExpressStoreOptions = {}): SessionStore {
  assertExpressStore(store);
  const useTouch = readTouch(options.touch) && typeof store.touch === 'function';
  debug(
    'fromExpressStore(%s): no atomic patch, as an express-session store replaces a session whole: of two requests changing one session at once, the later write wins; sessions are extended with %s',
    storeName(store),
    useTouch ? "the store's touch" : 'a whole save (no touch)',
  );
  const adapter: SessionStore = {
    async load(sid) {
      const session = await call<unknown>((callback) => store.get(sid, callback));
      return jsonOf(session);
    },
    async save(sid, json, ttlMs) {
      const data = parseData(json);
      await call((callback) => store.set(sid, { cookie: cookieFor(ttlMs), ...data }, callback));
    },
    async remove(sid) {
      await call((callback) => store.destroy(sid, callback));
    },
  };
  if (useTouch) {
    adapter.touch = async (sid, ttlMs) => {
      // connect-redis (EXPIRE) and connect-pg-simple (UPDATE … SET expire) read only `cookie`
      // and leave a missing entry missing, so the session itself need not be loaded first.
      await call((callback) => store.touch?.(sid, { cookie: cookieFor(ttlMs) }, callback));
    };
  }
  return adapter;
}

/**
 * Calls a callback method and settles with what it calls back. A throw, or a
 * rejection of a promise it returns, rejects too (connect-redis 8 returns one);
 * its fulfilment is ignored, as only the callback carries the answer.
 */
function call<T = unknown>(invoke: Invoke<T>): Promise<T | undefined> {
  return new Promise<T | undefined>((resolve, reject) => {
    // express-session treats any falsy error as success, and so do we.
    const returned = invoke((error, value) => (error ? reject(error) : resolve(value)));
    if (returned !== null && typeof returned === 'object' && typeof (returned as { then?: unknown }).then === 'function') {
      (returned as PromiseLike<unknown>).then(undefined, reject);
    }
  });
}

/** The data's JSON of a session object from the store: everything but express-session's `cookie`. */
function jsonOf(session: unknown): string | undefined {
  if (session === null || session === undefined) return undefined;
  if (typeof session !== 'object' || Array.isArray(session)) {
    // Not a session; the middleware starts a fresh one and leaves the entry in place.
    return JSON.stringify(session);
  }
  // A spread defines the keys, so a `__proto__` key stays an ordinary key.
  const data: Record<string, unknown> = { ...session };
  delete data.cookie;
  return JSON.stringify(data);
}

function parseData(json: string): Record<string, unknown> {
  const data: unknown = JSON.parse(json);
  if (data === null || typeof data !== 'object' || Array.isArray(data)) {
    throw new TypeError('koa-session-store: fromExpressStore can only save a JSON object, as express-session stores hold session objects');
  }
  if (Object.prototype.hasOwnProperty.call(data, 'cookie')) {
    throw new TypeError(
      'koa-session-store: a session saved through fromExpressStore cannot have a top-level key "cookie": express-session stores keep their cookie metadata there; rename the key',
    );
  }
  return data as Record<string, unknown>;
}

/**
 * The `cookie` field express-session would store for a cookie that lives `ttlMs`:
 * `originalMaxAge` and `expires` (serialized by the store as an ISO date), and
 * `maxAge` as a getter of the milliseconds left, as on express-session's Cookie,
 * for stores that read it. Without a ttl it is a browser-session cookie's.
 */
function cookieFor(ttlMs: number | undefined): ExpressSessionCookie {
  if (ttlMs === undefined) return { originalMaxAge: null, expires: null };
  const expires = new Date(Date.now() + ttlMs);
  const cookie: ExpressSessionCookie = { originalMaxAge: ttlMs, expires };
  Object.defineProperty(cookie, 'maxAge', { get: () => expires.getTime() - Date.now(), enumerable: false });
  return cookie;
}

function assertExpressStore(store: unknown): asserts store is ExpressSessionStore {
  if (store === null || typeof store !== 'object') {
    throw new TypeError(`koa-session-store: fromExpressStore needs an express-session store (an object with get, set and destroy methods), got ${store === null ? 'null' : typeof store}`);
  }
  const candidate = store as Record<string, unknown>;
  for (const method of ['get', 'set', 'destroy'] as const) {
    if (typeof candidate[method] !== 'function') {
      throw new TypeError(`koa-session-store: fromExpressStore needs an express-session store; this one has no ${method}(sid, …, callback) method`);
    }
  }
  if (candidate.touch !== undefined && typeof candidate.touch !== 'function') {
    throw new TypeError(`koa-session-store: fromExpressStore: store.touch must be a function when present, got ${typeof candidate.touch}`);
  }
}

function readTouch(value: boolean | undefined): boolean {
  if (value === undefined) return true;
  if (typeof value !== 'boolean') {
    throw new TypeError(`koa-session-store: fromExpressStore option touch is invalid: ${String(value)}; use true or false`);
  }
  return value;
}

/** The store's class name for the debug line; never anything the store holds. */
function storeName(store: object): string {
  const name: unknown = (store as { constructor?: { name?: unknown } }).constructor?.name;
  return typeof name === 'string' && name !== '' ? name : 'store';
}
