import type { Context } from 'koa';
import type { ResolvedOptions } from '../options.js';
import { decodeIdValue, encodeIdValue } from '../payload.js';
import type { SessionCookie } from '../session-cookie.js';
import { loadsSynchronously, type SessionStore } from '../store.js';
import { callStore, type StoreOperation } from '../store-call.js';
import type { Carried, Change, OutgoingSession, SessionCarrier, SessionHolder, Written } from './carrier.js';
import { HeldSessions, type Hold } from './held-sessions.js';
import { SignedValues } from './signed-values.js';

/**
 * The session in a server-side store; the cookie carries only
 * `id.created.lastWrite`, signed. Store calls are bounded by `storeTimeout`
 * and fail the request with a 503 (see callStore).
 */
export class ServerStoreCarrier implements SessionCarrier {
  readonly serverSide = true;
  readonly patches: boolean;
  readonly #store: SessionStore;
  readonly #timeout: number;
  readonly #lifetime: number | undefined;
  readonly #values: SignedValues;
  readonly #cookie: SessionCookie;
  /** Stores that refuse to patch or touch a missing entry cannot bring a removed session back; the others need watching. */
  readonly #held: HeldSessions | undefined;

  constructor(options: ResolvedOptions, store: SessionStore, cookie: SessionCookie) {
    this.#store = store;
    this.#timeout = options.storeTimeout;
    this.#lifetime = options.lifetime;
    this.#values = new SignedValues(options, decodeIdValue);
    this.#cookie = cookie;
    this.patches = store.patch !== undefined;
    this.#held = store.patch === undefined || store.touch === undefined ? new HeldSessions() : undefined;
  }

  check(ctx: Context): void {
    this.#values.keys(ctx);
  }

  mayReissue(ctx: Context): boolean {
    // Only asked when the session was never loaded (a store that loads on demand).
    return this.#values.mayBeSignedWithOlderKey(ctx);
  }

  loadsOnDemand(): boolean {
    return loadsSynchronously(this.#store);
  }

  read(ctx: Context): Carried | undefined {
    return this.#values.read(ctx);
  }

  load(sid: string): unknown {
    return this.#call('load', 1, sid);
  }

  writeNew(ctx: Context, session: OutgoingSession): Written {
    // Without a cookie nobody can ever find this entry again: do not store an orphan.
    if (!this.#cookie.canSet(ctx)) return this.#cookie.cannotSet();
    const saving = this.#call('save', 3, session.sid, session.json, ttlFrom(session));
    return after(saving, () => this.#setCookie(ctx, session));
  }

  writeChanged(ctx: Context, session: OutgoingSession, change: Change): Written {
    const { sid, json } = session;
    const ttl = ttlFrom(session);
    const writing =
      change.patch === undefined
        ? this.#call('save', 3, sid, json, ttl)
        : // With the loaded text and the whole new text, a store can write the session in one piece when
          // nobody changed it meanwhile (see SessionPatch.result), which is cheaper than applying the keys.
          this.#call('patch', 3, sid, { set: change.patch.set, unset: change.patch.unset, base: change.base, result: json }, ttl);
    // Without maxAge or rolling the cookie does not change: the original sets it for new sessions only.
    return after(writing, change.resendCookie ? () => this.#setCookie(ctx, session) : undefined);
  }

  touch(ctx: Context, session: OutgoingSession): Written {
    const ttl = ttlFrom(session);
    const touching = this.#store.touch !== undefined ? this.#call('touch', 2, session.sid, ttl) : this.#call('save', 3, session.sid, session.json, ttl);
    return after(touching, () => this.#setCookie(ctx, session));
  }

  reissue(ctx: Context, carried: Carried, session: OutgoingSession): void {
    // The same value, signed with the newest key, expiring when the entry does.
    const expiresAt = this.#lifetime === undefined ? undefined : (carried.touched ?? session.now) + this.#lifetime;
    this.#cookie.set(ctx, carried.value, expiresAt, session.now, this.#values.keys(ctx));
  }

  remove(sid: string, remover: SessionHolder): Promise<void> | undefined {
    return after(this.#call('remove', 1, sid), () => this.#held?.removed(sid, remover));
  }

  expire(ctx: Context): void {
    this.#cookie.expire(ctx, this.#values.signed ? 'both' : 'value');
  }

  hold(sid: string, holder: SessionHolder): Hold | undefined {
    return this.#held?.hold(sid, holder);
  }

  release(hold: Hold): void {
    this.#held?.release(hold);
  }

  #setCookie(ctx: Context, session: OutgoingSession): void {
    if (this.#cookie.canSet(ctx)) {
      this.#cookie.set(ctx, encodeIdValue(session.sid, session.ctime, session.now), session.expiresAt, session.now, this.#values.keys(ctx));
    }
  }

  /** `arity`: how many arguments the store method takes (see callStore). */
  #call(operation: StoreOperation, arity: 1 | 2 | 3, sid: string, second?: unknown, third?: unknown): unknown {
    return callStore(this.#store, operation, this.#timeout, arity, sid, second, third);
  }
}

/** Runs `then` once `result` (a store answer, a promise only when the store is asynchronous) is in. */
function after(result: unknown, then: (() => void) | undefined): Promise<void> | undefined {
  if (result instanceof Promise) return then === undefined ? result.then(noop) : result.then(then);
  then?.();
  return undefined;
}

function noop(): void {}

/** The store's time to live for an entry written at `now`; undefined never expires. */
function ttlFrom(session: OutgoingSession): number | undefined {
  return session.expiresAt === undefined ? undefined : Math.max(1, Math.ceil(session.expiresAt - session.now));
}
