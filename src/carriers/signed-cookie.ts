import type { Context } from 'koa';
import type { ResolvedOptions } from '../options.js';
import { decodeCookiePayload, encodeCookiePayload, encodePlainCookiePayload } from '../payload.js';
import type { SessionCookie } from '../session-cookie.js';
import type { Carried, OutgoingSession, SessionCarrier, Written } from './carrier.js';
import { SignedValues } from './signed-values.js';

/**
 * The session in the cookie itself, signed (readable by the client, not
 * forgeable): `["id",created,expires,{data}]` in base64url, or in the compact
 * plain form when base64url would not fit in one cookie.
 */
export class SignedCookieCarrier implements SessionCarrier {
  readonly serverSide = false;
  readonly patches = false;
  readonly #values: SignedValues;
  readonly #cookie: SessionCookie;

  constructor(options: ResolvedOptions, cookie: SessionCookie) {
    this.#values = new SignedValues(options, decodeCookiePayload);
    this.#cookie = cookie;
  }

  check(ctx: Context): void {
    this.#values.keys(ctx);
  }

  loadsOnDemand(): boolean {
    return false;
  }

  mayReissue(ctx: Context): boolean {
    return this.#values.mayBeSignedWithOlderKey(ctx);
  }

  read(ctx: Context): Carried | undefined {
    return this.#values.read(ctx);
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
    // A touch that cannot reach the browser changes nothing, and is not worth a warning.
    return this.#cookie.canSet(ctx) ? this.#write(ctx, session) : false;
  }

  reissue(ctx: Context, carried: Carried, session: OutgoingSession): void {
    // The same value, signed with the newest key, with the expiry it already had.
    this.#cookie.set(ctx, carried.value, carried.exp, session.now, this.#values.keys(ctx));
  }

  remove(): undefined {
    return undefined;
  }

  expire(ctx: Context): void {
    this.#cookie.expire(ctx, this.#values.signed ? 'both' : 'value');
  }

  hold(): undefined {
    return undefined;
  }

  release(): void {}

  #write(ctx: Context, session: OutgoingSession): Written {
    if (!this.#cookie.canSet(ctx)) return this.#cookie.cannotSet();
    const { sid, ctime, expiresAt, json, now } = session;
    this.#cookie.set(ctx, encodeCookiePayload(sid, ctime, expiresAt, json), expiresAt, now, this.#values.keys(ctx), () =>
      encodePlainCookiePayload(sid, ctime, expiresAt, json),
    );
    return undefined;
  }
}
