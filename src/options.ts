import { v4 as uuidv4 } from 'uuid';
import { assertStore, type SessionStore } from './store.js';
import { warnOnce } from './debug.js';
import { loadSodium, weakSecretReason } from './seal.js';

/** The default `genid`: its ids (uuid v4) always have the required shape, so they are not checked per request. */
export const defaultGenid: () => string = uuidv4;

/** Attributes of the session cookie. Same names and meanings as the `cookies` package's options. */
export interface SessionCookieOptions {
  /**
   * Session lifetime in milliseconds: sets the cookie's Max-Age and Expires, is the store entry's
   * time to live, and is enforced inside the cookie store's signed payload. Leave it unset for a
   * browser-session cookie (the store entry then lives for `ttl`).
   * @default undefined
   */
  maxAge?: number;
  /** @default '/' */
  path?: string;
  /** @default undefined (the cookie is sent to the host that set it only) */
  domain?: string;
  /**
   * Send the cookie over HTTPS only. When unset, the cookie is marked Secure whenever the request
   * is HTTPS as Koa sees it (`ctx.secure`, which honours `X-Forwarded-Proto` when `app.proxy` is true).
   * Setting `true` on a plain-HTTP request fails the request, as the `cookies` package does.
   * @default undefined (follows `ctx.secure`)
   */
  secure?: boolean;
  /** Hide the cookie from page scripts. @default true */
  httpOnly?: boolean;
  /** `'none'` needs `secure: true` (refused at start-up without it, since browsers drop such a cookie). @default 'lax' */
  sameSite?: 'strict' | 'lax' | 'none' | boolean;
  /** Sign the cookie with `app.keys` (a second `name.sig` cookie, as the `cookies` package does). @default true */
  signed?: boolean;
  /** Replace any earlier Set-Cookie of the same name in this response. @default true */
  overwrite?: boolean;
  /** @default undefined */
  priority?: 'low' | 'medium' | 'high';
  /** CHIPS partitioned cookie; needs `secure: true` (refused at start-up without it). @default false */
  partitioned?: boolean;
}

/** Options of {@link session}. Every one is optional. */
export interface SessionOptions {
  /** Name of the session cookie. @default 'koa:sess' */
  name?: string;
  /**
   * Where session data lives: `'cookie'` keeps it in the (signed) cookie itself; an object with
   * `load`, `save` and `remove` (and optionally `touch`, `patch`) keeps it server-side and the
   * cookie carries only the session id.
   * @default 'cookie'
   */
  store?: 'cookie' | SessionStore;
  /** Cookie attributes. @default { signed: true, httpOnly: true, overwrite: true, sameSite: 'lax', path: '/' } */
  cookie?: SessionCookieOptions;
  /**
   * Makes session ids. Ids must be strings of 1 to 128 characters from `[A-Za-z0-9_-]` with at
   * least 122 bits from a CSPRNG.
   * @default uuid v4
   */
  genid?: () => string;
  /**
   * Lifetime in ms of a session whose cookie has no `maxAge` (a browser-session cookie): the store
   * entry's time to live, and the expiry inside a cookie-store payload. `0` or `Infinity` never expire.
   * @default 86400000 (one day)
   */
  ttl?: number;
  /** Reset the expiry on every response that carries a session, not only when the data changes. @default false */
  rolling?: boolean;
  /**
   * With `rolling`, skip the reset when the session was written or touched less than this many ms ago,
   * so a busy user does not cost a store write per request. A tenth of the lifetime is a good value.
   * @default 0 (reset on every request)
   */
  touchAfter?: number;
  /**
   * Absolute cap in ms on a session's life counted from its creation; rolling never extends it.
   * @default undefined (no cap)
   */
  maxLifetime?: number;
  /** A store call that takes longer than this many ms fails the request with 503. @default 5000 */
  storeTimeout?: number;
  /**
   * Seal the cookie store's cookie: encrypted and authenticated (XChaCha20-Poly1305), so the client
   * can read nothing of the session, in one cookie without `.sig`. Needs the `sodium-native` package.
   * Keys are derived from `secrets`, or else from `app.keys` (each at least 32 random bytes).
   * Signed cookies issued before are still read and come back sealed. Cookie store only.
   * @default false (signed: readable, not forgeable)
   */
  encrypt?: boolean;
  /**
   * Secrets to derive sealing keys from, newest first, instead of `app.keys`: each a Buffer of at
   * least 32 bytes or a string carrying as much entropy (64 hex digits, 43 base64 characters, or 32
   * characters of anything else). A cookie sealed with an older one is sealed again with the first.
   * @default undefined (derive from app.keys)
   */
  secrets?: ReadonlyArray<string | Buffer>;
  /**
   * The name of a top-level session key holding the user's id (a string or number), e.g. `'userId'`.
   * Sessions are then indexed by user, so `ctx.listSessions()`, `ctx.revokeSession(handle)`,
   * `ctx.revokeOtherSessions()` and the middleware's `listSessions(userId)` / `revokeSessions(userId)`
   * work. Needs a server-side store with `indexSession`, `unindexSession` and `listIndexed` (every
   * shipped server store has them); the cookie store cannot list or revoke sessions.
   * @default undefined (no index)
   */
  indexBy?: string;
}

/** Options after defaults and validation: what the middleware reads on each request. */
export interface ResolvedOptions {
  readonly name: string;
  readonly sigName: string;
  /** `undefined` for the cookie store. */
  readonly store: SessionStore | undefined;
  readonly cookie: ResolvedCookieOptions;
  readonly genid: () => string;
  /** Session lifetime in ms; `undefined` never expires. */
  readonly lifetime: number | undefined;
  readonly rolling: boolean;
  readonly touchAfter: number;
  readonly maxLifetime: number | undefined;
  readonly storeTimeout: number;
  readonly encrypt: boolean;
  /** Sealing secrets, newest first; undefined to derive from app.keys. */
  readonly secrets: ReadonlyArray<string | Buffer> | undefined;
  /** The session key naming the user, for the user index; undefined for none. */
  readonly indexBy: string | undefined;
}

export interface ResolvedCookieOptions {
  readonly maxAge: number | undefined;
  readonly path: string;
  readonly domain: string | undefined;
  readonly secure: boolean | undefined;
  readonly httpOnly: boolean;
  readonly sameSite: 'strict' | 'lax' | 'none' | false;
  readonly signed: boolean;
  readonly overwrite: boolean;
  readonly priority: 'low' | 'medium' | 'high' | undefined;
  readonly partitioned: boolean;
}

export const DEFAULT_TTL = 86_400_000;

// Printable ASCII without ';' and '=' (which would end the name), the same loose rule as the
// `cookies` package, so the traditional 'koa:sess' stays valid.
const COOKIE_NAME = /^[\u0021-\u003a\u003c\u003e-\u007e]+$/;
// Path and domain attribute values: any CHAR except CTLs and ';'.
const ATTRIBUTE_VALUE = /^[\u0020-\u003a\u003c-\u007e]+$/;

function invalid(option: string, value: unknown, expected: string): TypeError {
  const shown = typeof value === 'string' ? JSON.stringify(value) : String(value);
  return new TypeError(`koa-session-store: option ${option} is invalid: ${shown} (expected ${expected})`);
}

function optionalDuration(option: string, value: unknown): number | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== 'number' || Number.isNaN(value) || value < 0) {
    throw invalid(option, value, 'a number of milliseconds >= 0');
  }
  return value;
}

function optionalBoolean(option: string, value: unknown, fallback: boolean): boolean {
  if (value === undefined) return fallback;
  if (typeof value !== 'boolean') throw invalid(option, value, 'true or false');
  return value;
}

function resolveCookie(cookie: SessionCookieOptions | undefined): ResolvedCookieOptions {
  if (cookie !== undefined && (cookie === null || typeof cookie !== 'object')) {
    throw invalid('cookie', cookie, 'an object of cookie attributes');
  }
  const input: SessionCookieOptions = cookie ?? {};
  const maxAge = optionalDuration('cookie.maxAge', input.maxAge);
  if (maxAge !== undefined && (maxAge === 0 || !Number.isFinite(maxAge))) {
    throw invalid('cookie.maxAge', maxAge, 'a positive, finite number of milliseconds; leave it unset for a browser-session cookie');
  }
  const path = input.path ?? '/';
  if (typeof path !== 'string' || !ATTRIBUTE_VALUE.test(path)) throw invalid('cookie.path', path, 'a path without ";" or control characters');
  const domain = input.domain;
  if (domain !== undefined && (typeof domain !== 'string' || !ATTRIBUTE_VALUE.test(domain))) {
    throw invalid('cookie.domain', domain, 'a domain name');
  }
  let sameSite: ResolvedCookieOptions['sameSite'];
  const rawSameSite: unknown = input.sameSite;
  if (rawSameSite === undefined || rawSameSite === 'lax') sameSite = 'lax';
  else if (rawSameSite === true || rawSameSite === 'strict') sameSite = 'strict';
  else if (rawSameSite === 'none') sameSite = 'none';
  else if (rawSameSite === false) sameSite = false;
  else throw invalid('cookie.sameSite', rawSameSite, "'strict', 'lax', 'none', true or false");
  const priority: unknown = input.priority;
  if (priority !== undefined && priority !== 'low' && priority !== 'medium' && priority !== 'high') {
    throw invalid('cookie.priority', priority, "'low', 'medium' or 'high'");
  }
  if (input.secure !== undefined && typeof input.secure !== 'boolean') throw invalid('cookie.secure', input.secure, 'true or false');
  const partitioned = optionalBoolean('cookie.partitioned', input.partitioned, false);
  // Browsers drop these cookies without a word when they lack Secure, so the session would never stick.
  if (sameSite === 'none' && input.secure !== true) throw needsSecure('cookie.sameSite is "none"', 'a SameSite=None cookie');
  if (partitioned && input.secure !== true) throw needsSecure('cookie.partitioned is true', 'a partitioned cookie');
  return {
    maxAge,
    path,
    domain,
    secure: input.secure,
    httpOnly: optionalBoolean('cookie.httpOnly', input.httpOnly, true),
    sameSite,
    signed: optionalBoolean('cookie.signed', input.signed, true),
    overwrite: optionalBoolean('cookie.overwrite', input.overwrite, true),
    priority,
    partitioned,
  };
}

/**
 * Browsers refuse a `__Secure-` cookie without Secure, and a `__Host-` cookie without Secure,
 * with a Domain or with a Path other than `/` (RFC 6265bis, "Cookie Name Prefixes").
 * The prefix is matched case-insensitively, as current browsers do.
 */
function checkNamePrefix(name: string, cookie: ResolvedCookieOptions): void {
  const lower = name.toLowerCase();
  const prefix = lower.startsWith('__secure-') ? '__Secure-' : lower.startsWith('__host-') ? '__Host-' : undefined;
  if (prefix === undefined) return;
  if (cookie.secure !== true) throw needsSecure(`the cookie name ${JSON.stringify(name)} starts with ${prefix}`, `a ${prefix} cookie`);
  if (prefix === '__Host-' && cookie.domain !== undefined) {
    throw new TypeError(`koa-session-store: option cookie.domain is set but the cookie name starts with __Host-: browsers drop a __Host- cookie that has a Domain; remove cookie.domain`);
  }
  if (prefix === '__Host-' && cookie.path !== '/') {
    throw new TypeError(`koa-session-store: option cookie.path is ${JSON.stringify(cookie.path)} but the cookie name starts with __Host-: browsers drop a __Host- cookie whose Path is not "/"; use path '/'`);
  }
}

function needsSecure(what: string, cookie: string): TypeError {
  return new TypeError(
    `koa-session-store: ${what} but cookie.secure is not true: browsers silently drop ${cookie} without Secure, so the session would never stick. ` +
      'Set cookie.secure: true and serve the app over HTTPS (with app.proxy = true behind a TLS-terminating proxy).',
  );
}

/** Applies defaults and validates once, when the factory is called; never mutates `options`. */
export function resolveOptions(options: SessionOptions | undefined): ResolvedOptions {
  if (options !== undefined && (options === null || typeof options !== 'object')) {
    throw invalid('options', options, 'an object');
  }
  const input: SessionOptions = options ?? {};
  const name = input.name ?? 'koa:sess';
  if (typeof name !== 'string' || !COOKIE_NAME.test(name)) throw invalid('name', name, "a cookie name of printable ASCII without spaces, ';' or '='");

  let store: SessionStore | undefined;
  if (input.store !== undefined && input.store !== 'cookie') {
    assertStore(input.store);
    store = input.store;
  }

  const cookie = resolveCookie(input.cookie);
  checkNamePrefix(name, cookie);
  const genid = input.genid ?? defaultGenid;
  if (typeof genid !== 'function') throw invalid('genid', genid, 'a function returning a session id string');

  const ttl = optionalDuration('ttl', input.ttl) ?? DEFAULT_TTL;
  const lifetime = cookie.maxAge ?? (ttl === 0 || ttl === Infinity ? undefined : ttl);
  const maxLifetime = optionalDuration('maxLifetime', input.maxLifetime);
  if (maxLifetime === 0) throw invalid('maxLifetime', maxLifetime, 'a positive number of milliseconds, or leave it unset');
  const storeTimeout = optionalDuration('storeTimeout', input.storeTimeout) ?? 5000;
  if (storeTimeout === 0) throw invalid('storeTimeout', storeTimeout, 'a positive number of milliseconds');

  const encrypt = optionalBoolean('encrypt', input.encrypt, false);
  const secrets = resolveSecrets(input.secrets, encrypt);
  if (encrypt && store !== undefined) {
    throw new TypeError(
      'koa-session-store: option encrypt is for the cookie store; with a server-side store the cookie holds only a signed id and the data never reaches the client',
    );
  }
  if (encrypt) loadSodium();
  const indexBy = resolveIndexBy(input.indexBy, store);

  if (store && !cookie.signed) {
    warnOnce(
      'KOA_SESSION_STORE_UNSIGNED',
      'koa-session-store: cookie.signed is false with a server-side store, so clients can send any session id to try; ' +
        'unknown ids always get a fresh id, but set app.keys and keep signed cookies in production.',
    );
  }

  return {
    name,
    sigName: `${name}.sig`,
    store,
    cookie,
    genid,
    lifetime,
    rolling: optionalBoolean('rolling', input.rolling, false),
    touchAfter: optionalDuration('touchAfter', input.touchAfter) ?? 0,
    maxLifetime,
    storeTimeout,
    encrypt,
    secrets,
    indexBy,
  };
}

function resolveIndexBy(indexBy: unknown, store: SessionStore | undefined): string | undefined {
  if (indexBy === undefined) return undefined;
  if (typeof indexBy !== 'string' || indexBy === '') throw invalid('indexBy', indexBy, 'the name of a top-level session key holding the user id, e.g. "userId"');
  if (store === undefined) {
    throw new TypeError(
      'koa-session-store: option indexBy needs a server-side store: a cookie session lives only in the browser, so it cannot be listed or revoked; use MemoryStore, SqliteStore, RedisStore, PostgresStore or MysqlStore',
    );
  }
  const missing = (['indexSession', 'unindexSession', 'listIndexed'] as const).filter((method) => typeof store[method] !== 'function');
  if (missing.length > 0) {
    throw new TypeError(
      `koa-session-store: option indexBy needs a store with indexSession, unindexSession and listIndexed (see "Writing your own store"); this store lacks ${missing.join(', ')}`,
    );
  }
  return indexBy;
}

function resolveSecrets(secrets: unknown, encrypt: boolean): ReadonlyArray<string | Buffer> | undefined {
  if (secrets === undefined) return undefined;
  if (!encrypt) throw invalid('secrets', 'set', 'encrypt: true too; secrets are only used to seal cookies');
  if (!Array.isArray(secrets) || secrets.length === 0) throw invalid('secrets', secrets, 'a non-empty array of secrets, newest first');
  return secrets.map((secret: unknown, index) => {
    const reason = weakSecretReason(secret);
    // Never show the secret itself, only what is wrong with it.
    if (reason !== undefined) {
      throw new TypeError(
        `koa-session-store: option secrets[${index}] is too weak to seal sessions with: ${reason}; use at least 32 random bytes, e.g. crypto.randomBytes(32).toString('base64url')`,
      );
    }
    return typeof secret === 'string' ? secret : Buffer.from(secret as Buffer);
  });
}
