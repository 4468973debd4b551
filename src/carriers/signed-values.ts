import type { Context } from 'koa';
import { cookiePrefix, readCookie } from '../cookie.js';
import { debug } from '../debug.js';
import { SessionUsageError } from '../errors.js';
import type { ResolvedOptions } from '../options.js';
import type { CookieContents } from '../payload.js';
import { hasKeys, indexOfKey, verify, type AppKeys } from '../signature.js';
import { VerifiedCookies } from '../verified-cookies.js';
import { carried, type Carried } from './carrier.js';

/**
 * Reads a cookie value signed the way the `cookies` package signs (a `name.sig`
 * cookie holding HMAC-SHA1 of `name=value` with one of `app.keys`), or not
 * signed at all with `cookie.signed: false`, and decodes it. Values that
 * verified before are remembered, so a returning cookie costs no HMAC.
 */
export class SignedValues {
  readonly #name: string;
  readonly #valuePrefix: string;
  readonly #sigPrefix: string;
  readonly #signed: boolean;
  readonly #decode: (value: string, authenticated: boolean) => CookieContents | undefined;
  readonly #verified = new VerifiedCookies();

  /**
   * `signed` false trusts any value the client sends (`cookie.signed: false`). `decode` is told whether
   * the value was authenticated (its signature verified), so it need not check what only the middleware
   * could have written.
   */
  constructor(options: ResolvedOptions, decode: (value: string, authenticated: boolean) => CookieContents | undefined, signed = options.cookie.signed) {
    this.#name = options.name;
    this.#valuePrefix = cookiePrefix(options.name);
    this.#sigPrefix = cookiePrefix(options.sigName);
    this.#signed = signed;
    this.#decode = decode;
  }

  get signed(): boolean {
    return this.#signed;
  }

  /** The keys to sign with: `app.keys`, or undefined when cookies are not signed. Throws when signing without keys. */
  keys(ctx: Context): AppKeys | undefined {
    if (!this.#signed) return undefined;
    const keys: unknown = ctx.app.keys;
    if (!hasKeys(keys)) {
      throw new SessionUsageError(
        "app.keys is required for signed session cookies: set app.keys = ['a long random secret'] (or cookie.signed: false, which lets clients forge cookies)",
      );
    }
    return keys;
  }

  /** Whether a cookie of this request may have been signed with an older key: only while `app.keys` lists more than one (or is a Keygrip). */
  mayBeSignedWithOlderKey(ctx: Context): boolean {
    const keys = this.keys(ctx);
    return keys !== undefined && (!Array.isArray(keys) || keys.length > 1);
  }

  /** The request's cookie value, verified and decoded; undefined when absent, forged or not one of ours. */
  read(ctx: Context): Carried | undefined {
    const header = ctx.req.headers.cookie;
    const value = readCookie(header, this.#valuePrefix);
    if (value === undefined || value === '') return undefined;
    if (!this.#signed) return this.#decoded(value, false);
    const signature = readCookie(header, this.#sigPrefix);
    if (signature === undefined) return undefined;
    return this.#verifiedContents(value, signature, this.keys(ctx) as AppKeys);
  }

  /** The contents of a signed cookie whose signature verifies with one of `keys`, else undefined. */
  #verifiedContents(value: string, signature: string, keys: AppKeys): Carried | undefined {
    const list = Array.isArray(keys) ? (keys as ReadonlyArray<string | Buffer>) : undefined;
    const remembered = list === undefined ? undefined : this.#verified.lookup(signature, value);
    if (remembered !== undefined) {
      const keyIndex = indexOfKey(list as ReadonlyArray<string | Buffer>, remembered.key);
      // A key since removed from app.keys no longer vouches for the cookie: verify again, and fail.
      if (keyIndex >= 0) return keyIndex > 0 ? carried(remembered.contents, value, true) : remembered.contents;
    }
    const keyIndex = verify(`${this.#name}=${value}`, signature, keys);
    if (keyIndex < 0) {
      debug('session cookie signature does not verify; starting a fresh session');
      return undefined;
    }
    const contents = this.#decoded(value, keyIndex > 0);
    if (contents !== undefined && list !== undefined) {
      const key = list[keyIndex] as string | Buffer;
      // A copy of a Buffer key: one changed in place must stop vouching for what it signed before.
      this.#verified.remember(signature, value, typeof key === 'string' ? key : Buffer.from(key), contents.reissue ? carried(contents, value, false) : contents);
    }
    return contents;
  }

  #decoded(value: string, reissue: boolean): Carried | undefined {
    // Signed: only called once the signature verified.
    const contents = this.#decode(value, this.#signed);
    if (contents === undefined) {
      debug('session cookie is not one this middleware issues; starting a fresh session');
      return undefined;
    }
    return carried(contents, value, reissue);
  }
}
