import type { Context } from 'koa';
import { cookiePrefix, readCookie } from '../cookie.js';
import { debug } from '../debug.js';
import { SessionUsageError } from '../errors.js';
import type { ResolvedOptions } from '../options.js';
import { decodeCookiePayload, decodePayloadText, payloadText } from '../payload.js';
import { deriveSealKey, Sealer, weakSecretReason, type SealKey } from '../seal.js';
import type { SessionCookie } from '../session-cookie.js';
import { carried, type Carried, type OutgoingSession, type SessionCarrier, type Written } from './carrier.js';
import { SignedValues } from './signed-values.js';

/**
 * The session in the cookie itself, sealed: encrypted and authenticated with
 * XChaCha20-Poly1305 (see seal.ts), so the client can read nothing of it, and
 * one cookie, with no `.sig`. Keys come from the `secrets` option or from
 * `app.keys`, newest first; a cookie sealed with an older one is sealed again
 * with the newest. A signed cookie-store cookie (before `encrypt: true` was
 * turned on) is still read, when it verifies with `app.keys`, and sent back
 * sealed, so turning encryption on logs nobody out.
 */
export class SealedCookieCarrier implements SessionCarrier {
  readonly serverSide = false;
  readonly patches = false;
  readonly #name: string;
  readonly #valuePrefix: string;
  readonly #sigPrefix: string;
  readonly #cookie: SessionCookie;
  /** Signed cookies from before sealing, read to migrate them. */
  readonly #signed: SignedValues;
  /** Sealer over the `secrets` option, or undefined to derive one from app.keys. */
  readonly #fixed: Sealer | undefined;
  #fromAppKeys: { readonly keys: readonly unknown[]; readonly copies: ReadonlyArray<string | Buffer>; readonly sealer: Sealer } | undefined;

  constructor(options: ResolvedOptions, cookie: SessionCookie) {
    this.#name = options.name;
    this.#valuePrefix = cookiePrefix(options.name);
    this.#sigPrefix = cookiePrefix(options.sigName);
    this.#cookie = cookie;
    this.#signed = new SignedValues(options, decodeCookiePayload, true);
    this.#fixed = options.secrets === undefined ? undefined : new Sealer(options.secrets.map(deriveSealKey), options.name);
  }

  check(ctx: Context): void {
    this.#sealer(ctx);
  }

  loadsOnDemand(): boolean {
    return false;
  }

  mayReissue(ctx: Context): boolean {
    return this.#sealer(ctx).keyCount > 1 || this.#hasSignature(ctx);
  }

  read(ctx: Context): Carried | undefined {
    const header = ctx.req.headers.cookie;
    const value = readCookie(header, this.#valuePrefix);
    if (value === undefined || value === '') return undefined;
    const opened = this.#sealer(ctx).open(value);
    if (opened === undefined) {
      // Not sealed by a listed key: it may be a signed cookie from before encryption was turned on.
      if (readCookie(header, this.#sigPrefix) !== undefined && Array.isArray(ctx.app.keys) && ctx.app.keys.length > 0) {
        const signed = this.#signed.read(ctx);
        if (signed !== undefined) return carried(signed, signed.value, true);
      }
      debug('session cookie does not open with any listed key; starting a fresh session');
      return undefined;
    }
    // Sealed with a listed key under this cookie's name: only this middleware wrote it.
    const contents = decodePayloadText(opened.text, true);
    if (contents === undefined) return undefined;
    return carried(contents, value, opened.keyIndex > 0);
  }

  load(): undefined {
    return undefined;
  }

  writeNew(ctx: Context, session: OutgoingSession): Written {
    return this.#write(ctx, session);
  }

  writeChanged(ctx: Context, session: OutgoingSession): Written {
    return this.#write(ctx, session);
  }

  touch(ctx: Context, session: OutgoingSession): Written {
    return this.#cookie.canSet(ctx) ? this.#write(ctx, session) : false;
  }

  reissue(ctx: Context, carried: Carried, session: OutgoingSession): void {
    // Sealed again with the newest key (or sealed at last, for a signed cookie), expiry unchanged.
    this.#write(ctx, { ...session, json: carried.json ?? session.json, expiresAt: carried.exp });
  }

  remove(): undefined {
    return undefined;
  }

  expire(ctx: Context): void {
    this.#cookie.expire(ctx, this.#hasSignature(ctx) ? 'both' : 'value');
  }

  hold(): undefined {
    return undefined;
  }

  release(): void {}

  #write(ctx: Context, session: OutgoingSession): Written {
    if (!this.#cookie.canSet(ctx)) return this.#cookie.cannotSet();
    const { sid, ctime, expiresAt, json, now } = session;
    const sealed = this.#sealer(ctx).seal(payloadText(sid, ctime, expiresAt, json));
    this.#cookie.set(ctx, sealed, expiresAt, now, undefined);
    // A signed cookie being migrated leaves its signature behind: drop it.
    if (this.#hasSignature(ctx)) this.#cookie.expire(ctx, 'signature');
    return undefined;
  }

  #hasSignature(ctx: Context): boolean {
    return readCookie(ctx.req.headers.cookie, this.#sigPrefix) !== undefined;
  }

  /** The sealer of this request: over `secrets`, or over keys derived from `app.keys` (cached while they stay the same). */
  #sealer(ctx: Context): Sealer {
    if (this.#fixed !== undefined) return this.#fixed;
    const keys: unknown = ctx.app.keys;
    const cached = this.#fromAppKeys;
    if (cached !== undefined && cached.keys === keys && sameKeys(cached.copies, keys as ReadonlyArray<string | Buffer>)) return cached.sealer;
    if (!Array.isArray(keys) || keys.length === 0) {
      throw new SessionUsageError(
        "encrypt: true needs secrets to derive keys from: set app.keys = ['a long random secret', …] or the secrets option (at least 32 random bytes each)",
      );
    }
    const derived: SealKey[] = keys.map((secret: unknown, index) => {
      const reason = weakSecretReason(secret);
      if (reason !== undefined) {
        throw new SessionUsageError(`app.keys[${index}] is too weak to seal sessions with: ${reason}; use at least 32 random bytes, e.g. crypto.randomBytes(32).toString('base64url')`);
      }
      return deriveSealKey(secret as string | Buffer);
    });
    const sealer = new Sealer(derived, this.#name);
    const copies = keys.map((key: string | Buffer) => (typeof key === 'string' ? key : Buffer.from(key)));
    this.#fromAppKeys = { keys, copies, sealer };
    return sealer;
  }
}

/** True when `keys` still holds exactly the secrets `copies` was taken from (Buffers compared by content). */
function sameKeys(copies: ReadonlyArray<string | Buffer>, keys: ReadonlyArray<string | Buffer>): boolean {
  if (copies.length !== keys.length) return false;
  for (let i = 0; i < keys.length; i++) {
    const copy = copies[i] as string | Buffer;
    const key = keys[i] as string | Buffer;
    if (typeof copy === 'string' ? copy !== key : !Buffer.isBuffer(key) || !copy.equals(key)) return false;
  }
  return true;
}
