import co from 'co';

/**
 * A callback-last function the original called a thunk: it is called with one
 * node-style callback and reports its result through it.
 */
export type Thunk<T> = (callback: (error: unknown, value?: T) => void) => void;

/**
 * What a store method may return. The original accepted Promises, thunks and
 * generators (`load: function* (sid) { … }`); plain values work too.
 */
export type StoreResult<T> =
  | T
  | PromiseLike<T>
  | Thunk<T>
  | Generator<unknown, T, unknown>
  | (() => Generator<unknown, T, unknown>);

/**
 * A change to the top level of a stored session, as applied by {@link SessionStore.patch}.
 * Both fields are computed by the middleware from the session as loaded and as it is now.
 */
export interface SessionPatch {
  /**
   * Keys to write, each mapped to its new value as JSON text (`JSON.stringify(value)`).
   * A null-prototype object, so a key named `__proto__` is an ordinary entry.
   */
  readonly set: Readonly<Record<string, string>>;
  /** Keys to delete. */
  readonly unset: readonly string[];
  /**
   * The session's JSON as the middleware loaded it (or last wrote it in this
   * request): the text `set` and `unset` were computed against. Given together
   * with `result`; both may be absent.
   */
  readonly base?: string;
  /**
   * The session's whole JSON after the change. A store may write it in place of
   * applying `set` and `unset`, but only when the stored JSON is still exactly
   * `base`, checked atomically with the write: then nobody else has changed the
   * entry since it was loaded, so replacing it loses nothing. Otherwise it must
   * apply `set` and `unset`. Ignoring both fields is always correct.
   */
  readonly result?: string;
}

/**
 * The storage layer. Every method may return a Promise, a thunk, a generator
 * (object or function) or a plain value; the middleware normalizes them.
 *
 * `ttlMs` is the entry's time to live in milliseconds, a positive integer;
 * `undefined` means the entry never expires (a store that ignores the
 * argument, as 2.0 stores do, keeps working).
 */
export interface SessionStore {
  /** Resolves to the JSON string saved for `sid`, or null/undefined when there is none (or it expired). */
  load(sid: string): StoreResult<string | null | undefined>;
  /** Stores exactly `json` (the session's `JSON.stringify`) under `sid`, replacing what was there. */
  save(sid: string, json: string, ttlMs?: number): StoreResult<unknown>;
  /** Deletes the entry; deleting a missing entry is not an error. */
  remove(sid: string): StoreResult<unknown>;
  /** Optional: extends the entry's life to `ttlMs` from now without rewriting it; a missing entry stays missing. */
  touch?(sid: string, ttlMs?: number): StoreResult<unknown>;
  /**
   * Optional: applies `patch` to the stored JSON object atomically and resets its life to `ttlMs`.
   * A missing entry stays missing (a patch never resurrects a session).
   */
  patch?(sid: string, patch: SessionPatch, ttlMs?: number): StoreResult<unknown>;
  /**
   * Optional, needed for the `indexBy` option: records that session `entry.sid` belongs to `userId`.
   * An upsert: when the user's index already has `entry.sid`, its `createdAt` and `userAgent` stay
   * as they were and `lastActiveAt` and `expiresAt` are replaced. The store should drop the user's
   * entries whose `expiresAt` has passed while it is at it, so an index never grows without bound.
   */
  indexSession?(userId: string, entry: IndexedSession): StoreResult<unknown>;
  /** Optional, with `indexSession`: removes `sid` from `userId`'s index; removing a missing entry is not an error. */
  unindexSession?(userId: string, sid: string): StoreResult<unknown>;
  /**
   * Optional, with `indexSession`: the entries of `userId`'s index, in any order. Entries of sessions
   * that expired or were removed may be among them: the middleware checks each against the store.
   */
  listIndexed?(userId: string): StoreResult<readonly IndexedSession[]>;
  /**
   * Optional: true while `load` answers with a plain value (the JSON string, null or undefined),
   * never a promise, thunk or generator. The middleware then loads a session only when a request
   * reads `ctx.session`, so a request that never does costs no lookup at all; otherwise it loads
   * before the handler runs, since `ctx.session` is synchronous. Default: absent (false).
   * `MemoryStore` says true, `SqliteStore` while its database is open. A store that says true
   * and then answers with a promise fails that request with a 503.
   */
  loadsSynchronously?(): boolean;
}

/** One session in a user's index (option `indexBy`). Times are milliseconds since the epoch. */
export interface IndexedSession {
  readonly sid: string;
  /** When the session was created. */
  readonly createdAt: number;
  /** When the session was last written or touched. */
  readonly lastActiveAt: number;
  /** When the session expires; null never. */
  readonly expiresAt: number | null;
  /** The User-Agent of the request that first indexed the session, at most 256 characters. */
  readonly userAgent: string;
}

const GeneratorFunction = Object.getPrototypeOf(function* () {}).constructor as unknown;

function isGeneratorFunction(value: unknown): value is () => Generator {
  return typeof value === 'function' && Object.getPrototypeOf(value)?.constructor === GeneratorFunction;
}

function isGeneratorObject(value: object): value is Generator {
  const candidate = value as { next?: unknown; throw?: unknown };
  return typeof candidate.next === 'function' && typeof candidate.throw === 'function';
}

/** Whether `store` says its `load` answers with a plain value now (see {@link SessionStore.loadsSynchronously}). */
export function loadsSynchronously(store: SessionStore): boolean {
  return typeof store.loadsSynchronously === 'function' && store.loadsSynchronously() === true;
}

/**
 * Turns whatever a store method returned into a Promise.
 *
 * Native promises and thenables are returned as they are (no `co` on the hot
 * path). Generators, generator functions and thunks go through `co`, as the
 * original did. Plain values are never handed to `co`: it throws on strings and
 * walks into objects, where a `constructor` or `__proto__` key breaks it.
 */
export function settle<T>(result: StoreResult<T>): Promise<T> {
  if (result === null || result === undefined) return Promise.resolve(result as T);
  if (typeof result === 'object' || typeof result === 'function') {
    const maybeThenable = result as { then?: unknown };
    if (typeof maybeThenable.then === 'function') return Promise.resolve(result as PromiseLike<T>);
    if (typeof result === 'function') {
      if (isGeneratorFunction(result)) return co(result) as Promise<T>;
      const thunk = result as Thunk<T>;
      // co settles its promise once, whether the thunk calls back twice or throws after calling back.
      return co(function* () {
        return (yield thunk) as T;
      }) as Promise<T>;
    }
    // co runs generator objects too, though its typings only admit functions.
    if (isGeneratorObject(result)) return (co as unknown as (generator: Generator) => Promise<T>)(result);
  }
  return Promise.resolve(result as T);
}

/** The methods every store must have. */
const REQUIRED_METHODS = ['load', 'save', 'remove'] as const;
const OPTIONAL_METHODS = ['touch', 'patch', 'indexSession', 'unindexSession', 'listIndexed'] as const;

/** Throws a TypeError naming what is missing when `store` cannot serve as a session store. */
export function assertStore(store: unknown): asserts store is SessionStore {
  if (store === null || typeof store !== 'object') {
    throw new TypeError(
      `koa-session-store: option store must be 'cookie' or an object with load, save and remove methods, got ${describe(store)}`,
    );
  }
  const candidate = store as Record<string, unknown>;
  for (const method of REQUIRED_METHODS) {
    if (typeof candidate[method] !== 'function') {
      // express-session's Store base class has a load(sid, callback) of its own, so these lack save.
      const hint = ['get', 'set', 'destroy'].every((name) => typeof candidate[name] === 'function')
        ? '; it looks like an express-session store (get, set, destroy): wrap it with fromExpressStore(store)'
        : '; a store needs load, save and remove';
      throw new TypeError(`koa-session-store: option store has no ${method}(sid) method${hint}`);
    }
  }
  for (const method of OPTIONAL_METHODS) {
    if (candidate[method] !== undefined && typeof candidate[method] !== 'function') {
      throw new TypeError(`koa-session-store: option store.${method} must be a function when present, got ${describe(candidate[method])}`);
    }
  }
}

function describe(value: unknown): string {
  if (value === null) return 'null';
  if (typeof value === 'string') return JSON.stringify(value);
  return typeof value;
}
