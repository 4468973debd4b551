import type { Context } from 'koa';
import type { CookieContents, SessionRecord } from '../payload.js';
import type { SessionPatch } from '../store.js';
import type { Hold } from './held-sessions.js';

/** What the request's session cookie said, authenticated and decoded. */
export interface Carried extends CookieContents {
  /** The cookie's value as received, for sending it again unchanged. */
  readonly value: string;
  /** Made with an older key (or, for a sealed cookie, signed instead): send it again, made the current way. */
  readonly reissue: boolean;
}

/** A session as the lifecycle hands it to a carrier to write. */
export interface OutgoingSession {
  readonly sid: string;
  readonly ctime: number;
  /** The data's JSON as it is to be kept. */
  readonly json: string;
  /** When the session stops being valid; undefined never. */
  readonly expiresAt: number | undefined;
  readonly now: number;
}

/** What a write of a changed session needs beyond the session itself. */
export interface Change {
  /** The keys that changed, for a store with `patch`; undefined otherwise. */
  readonly patch: Pick<SessionPatch, 'set' | 'unset'> | undefined;
  /** The JSON as loaded: a store with `patch` writes the result whole when the entry is still this. */
  readonly base: string;
  /** Send the cookie again too (a lifetime to extend, a key rotation). */
  readonly resendCookie: boolean;
}

/**
 * `contents` as carried by the cookie `value`. An object literal, not a spread: V8 builds it
 * several times faster, and this runs on every request that reads a cookie.
 */
export function carried(contents: CookieContents, value: string, reissue: boolean): Carried {
  return { sid: contents.sid, ctime: contents.ctime, exp: contents.exp, touched: contents.touched, json: contents.json, value, reissue };
}

/** A write's outcome: done, done once the promise settles, or (false) not done at all. */
export type Written = Promise<void> | undefined | false;

/** Something that holds a session loaded from a store, told when another request removes it. */
export interface SessionHolder {
  sessionRemoved(): void;
}

/**
 * Where a session lives: in a signed cookie, in a sealed cookie, or in a
 * server-side store with its id in a signed cookie. The request lifecycle
 * decides *what* is due (write a new or changed session, touch, reissue,
 * remove, expire); a carrier decides *how*. Each method that may wait for a
 * store returns a promise only when it does.
 */
export interface SessionCarrier {
  /** Throws, on a request, when the carrier cannot work with the app's settings (no `app.keys` to sign with). */
  check(ctx: Context): void;
  /** Reads and authenticates the request's session cookie; undefined when absent, forged or garbage. Expiry is the lifecycle's to check. */
  read(ctx: Context): Carried | undefined;
  /** Cookie carriers: whether the request's cookie may need sending again (an older key is still listed), so it is read even when the handler never touches the session. */
  mayReissue(ctx: Context): boolean;
  /** True when the data lives server-side: loaded before downstream runs (`ctx.session` is synchronous), unless {@link loadsOnDemand}. */
  readonly serverSide: boolean;
  /** Server side: true when `load` answers with a plain value now, so the session can wait until a request uses it. */
  loadsOnDemand(): boolean;
  /** True when a changed session is best sent as a patch of its top-level keys. */
  readonly patches: boolean;
  /** Server side: the stored JSON of `sid` (a string), or null/undefined/garbage when there is none. */
  load(sid: string): unknown;
  /** Writes a new session and sets its cookie; false when nothing could be written (the response already went out). */
  writeNew(ctx: Context, session: OutgoingSession): Written;
  /** Writes a changed session (and sets its cookie when due); false when nothing could be written. */
  writeChanged(ctx: Context, session: OutgoingSession, change: Change): Written;
  /** Extends an unchanged session's life to `session.expiresAt`; false when nothing could be done. */
  touch(ctx: Context, session: OutgoingSession): Written;
  /** Sends the cookie of an unchanged session again, made with the newest key, expiry unchanged. */
  reissue(ctx: Context, carried: Carried, session: OutgoingSession): void;
  /** Removes a session from where it lives; `remover` is not told of its own removal. */
  remove(sid: string, remover: SessionHolder): Promise<void> | undefined;
  /** Tells the client to drop the session cookie. */
  expire(ctx: Context): void;
  /** Server side, for stores that could write a removed session back: holds `sid` for `holder` until released; undefined when no hold is needed. */
  hold(sid: string, holder: SessionHolder): Hold | undefined;
  /** Ends a hold {@link hold} gave. */
  release(hold: Hold): void;
}

export type { SessionRecord };
