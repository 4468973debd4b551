import type { Context } from 'koa';
import { appendSetCookies, cookieAttributes, COOKIE_SIZE_LIMIT } from './cookie.js';
import { SessionUsageError } from './errors.js';
import type { ResolvedOptions } from './options.js';
import { sign, type AppKeys } from './signature.js';

/** Length of a `name.sig` value: HMAC-SHA1 in base64url. */
const SIGNATURE_LENGTH = 27;

/**
 * Writes and expires the session cookie (and its signature cookie, for the
 * carriers that sign) with the configured attributes, refusing what a browser
 * would drop: a cookie over 4096 bytes, a Secure cookie on plain HTTP.
 */
export class SessionCookie {
  readonly #options: ResolvedOptions;
  /** Names whose earlier Set-Cookie headers this middleware replaces. */
  readonly #names: readonly string[];
  readonly #warned: Set<string>;
  #plainAttributes: string | undefined;
  #secureAttributes: string | undefined;

  constructor(options: ResolvedOptions, warned: Set<string>) {
    this.#options = options;
    this.#names = options.cookie.signed ? [options.name, options.sigName] : [options.name];
    this.#warned = warned;
  }

  /** Whether a Set-Cookie can still be sent on this response. */
  canSet(ctx: Context): boolean {
    return !ctx.headerSent && ctx.respond !== false;
  }

  /**
   * Sets the session cookie to `value`, signed with `keys` when given (a second `name.sig`
   * cookie). `compact` gives a smaller value to use when `value` would be over the size limit.
   */
  set(ctx: Context, value: string, expiresAt: number | undefined, now: number, keys: AppKeys | undefined, compact?: () => string): void {
    const { cookie, name, sigName } = this.#options;
    const maxAge = cookie.maxAge === undefined ? undefined : Math.max(1000, Math.min(cookie.maxAge, (expiresAt ?? Infinity) - now));
    const secure = this.#secure(ctx);
    const attributes = maxAge === undefined ? this.#browserSessionAttributes(secure) : cookieAttributes(cookie, maxAge, secure, now);
    const signatureLength = keys === undefined ? 0 : sigName.length + 1 + SIGNATURE_LENGTH + attributes.length;
    let sized = value;
    if (compact !== undefined && name.length + 1 + value.length + attributes.length + signatureLength > COOKIE_SIZE_LIMIT) sized = compact();
    const main = `${name}=${sized}${attributes}`;
    if (keys === undefined) {
      this.#checkSize(main.length);
      appendSetCookies(ctx.res, [main], this.#names, cookie.overwrite);
      return;
    }
    const signature = `${sigName}=${sign(`${name}=${sized}`, keys)}${attributes}`;
    this.#checkSize(main.length + signature.length);
    appendSetCookies(ctx.res, [main, signature], this.#names, cookie.overwrite);
  }

  /** Expires the session cookie, its signature cookie, or both. */
  expire(ctx: Context, which: 'value' | 'signature' | 'both'): void {
    if (!this.canSet(ctx)) return;
    const { cookie, name, sigName } = this.#options;
    const attributes = cookieAttributes(cookie, 0, this.#secure(ctx), 0);
    const headers: string[] = [];
    if (which !== 'signature') headers.push(`${name}=${attributes}`);
    if (which !== 'value') headers.push(`${sigName}=${attributes}`);
    // Only the named cookies are replaced: expiring a signature must not drop a value set just before.
    appendSetCookies(ctx.res, headers, which === 'signature' ? [sigName] : this.#names, cookie.overwrite);
  }

  /** The attributes of a browser-session cookie (no maxAge), which depend only on Secure: built once each. */
  #browserSessionAttributes(secure: boolean): string {
    if (secure) return (this.#secureAttributes ??= cookieAttributes(this.#options.cookie, undefined, true, 0));
    return (this.#plainAttributes ??= cookieAttributes(this.#options.cookie, undefined, false, 0));
  }

  /** Warns once per middleware that a cookie could not be set because the response already went out. */
  cannotSet(): false {
    if (this.#warned.has('headers-sent')) return false;
    this.#warned.add('headers-sent');
    process.emitWarning(
      'koa-session-store: a new or cookie-stored session changed after the response headers were sent, so its cookie could not be set; ' +
        'call await ctx.saveSession() before streaming or taking over the response',
      { code: 'KOA_SESSION_STORE_HEADERS_SENT', type: 'KoaSessionStoreWarning' },
    );
    return false;
  }

  #secure(ctx: Context): boolean {
    const { secure } = this.#options.cookie;
    const requestSecure = ctx.secure;
    if (secure === true && !requestSecure) {
      throw new SessionUsageError(
        'cookie.secure is true but this request is not HTTPS; behind a TLS-terminating proxy set app.proxy = true so Koa trusts X-Forwarded-Proto',
      );
    }
    return secure ?? requestSecure;
  }

  /** Browsers drop a cookie over the limit silently; failing loudly keeps the user's data. */
  #checkSize(size: number): void {
    if (size <= COOKIE_SIZE_LIMIT) return;
    throw new SessionUsageError(
      `the session cookie would be ${size} bytes (with its attributes and signature cookie), over the ${COOKIE_SIZE_LIMIT} bytes browsers keep; ` +
        'store less in the session or use a server-side store (MemoryStore, SqliteStore, RedisStore, PostgresStore, MysqlStore)',
    );
  }
}
