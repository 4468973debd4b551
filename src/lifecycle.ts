import type { Context } from 'koa';
import type { Carried, OutgoingSession, SessionCarrier, SessionHolder, Written } from './carriers/carrier.js';
import type { Hold } from './carriers/held-sessions.js';
import { cookiePrefix, readCookie } from './cookie.js';
import { debug } from './debug.js';
import { diffSessions, unchangedPrimitives } from './diff.js';
import { SessionStoreError, SessionUsageError } from './errors.js';
import { defaultGenid, type ResolvedOptions } from './options.js';
import { isPlainObject, MAX_NESTING, nestsDeeperThan, parseSessionJson, isSessionId, type SessionRecord } from './payload.js';
import type { UserIndex, UserSession } from './user-index.js';

/** Per-middleware constants the request state needs besides the options. */
export interface MiddlewareConfig extends ResolvedOptions {
  /** Where sessions live: signed cookie, sealed cookie or server store. */
  readonly carrier: SessionCarrier;
  /** The user index (option `indexBy`); undefined without one. */
  readonly userIndex: UserIndex | undefined;
}

/**
 * One request's session: what the handler did with it (left it alone,
 * changed it, destroyed or regenerated it) and so what is due at the end
 * (write, touch, reissue, removal). *How* each is done is the carrier's.
 *
 * Work is deferred until something needs it: with a cookie carrier or a
 * store that answers synchronously, a request that never touches
 * `ctx.session` verifies, loads, decodes and writes nothing; with any other
 * store the entry is loaded before downstream runs (`ctx.session` is
 * synchronous) but only parsed on first access.
 */
export class SessionRequest implements SessionHolder {
  private readonly ctx: Context;
  private readonly config: MiddlewareConfig;
  private readonly carrier: SessionCarrier;

  /** The current id; undefined for a new session until one is needed. */
  private sid: string | undefined;
  /** The id a valid cookie named, even when the store did not know it: `ctx.session = null` removes it. */
  private requestSid: string | undefined;
  private ctime = 0;
  /** When the session's life was last reset (write or touch); drives `touchAfter`. */
  private touched: number | undefined;
  /** True until the session exists where it lives (or in a cookie the client sent). */
  private isNew = true;
  /** The data's JSON as loaded or last written: the baseline for change detection. */
  private json: string | undefined;
  /** undefined: not materialized yet; null: destroyed by `ctx.session = null`. */
  private data: SessionRecord | null | undefined;
  /** A shallow copy of the loaded data's top level: tells an unchanged session without serializing it, and what a patch must carry. */
  private snapshot: SessionRecord | undefined;
  private cookieRead = false;
  /** The valid session cookie the request carried, for sending it again. */
  private carried: Carried | undefined;
  /** Made with an older key: send the cookie again, made with the newest. */
  private reissue = false;
  /** Write even an empty session (after regeneration). */
  private forceWrite = false;
  private clearCookie = false;
  /** A Set-Cookie for the session was sent in this response (a write before `ctx.session = null`). */
  private cookieSent = false;
  private staleSids: string[] | undefined;
  /** The session this request holds against removal by others (see HeldSessions), released when it ends. */
  private held: Hold | undefined;
  /** Another request removed the held session: write nothing of it back. */
  private removedElsewhere = false;
  /** The id of the session as loaded from the store, and the user its data named then (user index only). */
  private storedSid: string | undefined;
  private indexedUser: string | undefined;

  constructor(ctx: Context, config: MiddlewareConfig) {
    this.ctx = ctx;
    this.config = config;
    this.carrier = config.carrier;
  }

  /** When this request began (first asked for): sessions created since are not "other sessions" it can know of. */
  private began: number | undefined;

  /** Runs before downstream. Returns a promise only when it has to wait for the store. */
  begin(): Promise<void> | undefined {
    const { carrier } = this;
    if (this.config.userIndex !== undefined) this.began = Date.now();
    carrier.check(this.ctx);
    // A cookie carrier, or a store that answers synchronously (MemoryStore, an open SqliteStore):
    // nothing is read until the request uses the session, so a request that never does costs nothing.
    if (!carrier.serverSide || carrier.loadsOnDemand()) return undefined;
    return this.loadStored();
  }

  /** Server side: reads the session cookie and loads the session it names; a promise only when the store answers with one. */
  private loadStored(): Promise<void> | undefined {
    const { carrier } = this;
    const carried = this.readSessionCookie();
    if (carried === undefined) return undefined;
    // Held from before the load, so a removal that overtakes the load is seen too. Not once the
    // request is over (a middleware above this one reading the session): nothing would let go of it.
    if (!this.over) this.held = carrier.hold(carried.sid, this);
    // A store answering with plain values (MemoryStore, a Map) costs no promise and no timer.
    const loading = carrier.load(carried.sid);
    if (loading instanceof Promise) return loading.then((loaded) => this.adoptLoaded(carried, loaded));
    this.adoptLoaded(carried, loading);
    return undefined;
  }

  /** Reads the request's session where it lives, now, for a carrier that left it until first use. */
  private readDeferred(): void {
    if (!this.carrier.serverSide) {
      this.adoptCookieSession();
      return;
    }
    const loading = this.loadStored();
    if (loading !== undefined) {
      // The store said it answers synchronously, then did not (closed meanwhile): the request cannot wait here.
      loading.catch(() => {});
      throw new SessionStoreError('load', new Error('the store answered with a promise after saying it loads synchronously (was it closed?)'));
    }
  }

  private adoptLoaded(carried: Carried, loaded: unknown): void {
    if (typeof loaded === 'string') {
      this.sid = carried.sid;
      this.storedSid = carried.sid;
      this.json = loaded;
      this.isNew = false;
      this.ctime = carried.ctime ?? Date.now();
      this.touched = carried.touched;
    } else if (loaded !== null && loaded !== undefined) {
      debug('store.load returned a %s instead of a JSON string; starting a fresh session, entry left in place', typeof loaded);
    } else {
      debug('session id from the cookie is unknown to the store (expired or removed); starting a fresh session');
    }
  }

  sessionRemoved(): void {
    this.removedElsewhere = true;
  }

  /** True once {@link end} ran: the middleware is done with this request. */
  private over = false;

  /** Runs when the request is over, whatever happened: lets go of the held session. */
  end(): void {
    this.over = true;
    if (this.held !== undefined) this.carrier.release(this.held);
    this.held = undefined;
  }

  // ---- what the handler sees -------------------------------------------------

  getSession(): SessionRecord {
    if (this.data === undefined) this.materialize();
    // Read after `ctx.session = null`: a fresh, empty session with a new id. The old one is still
    // removed at the end, and this one is written only if the handler puts something in it.
    else if (this.data === null) this.startFresh(Date.now());
    return this.data as SessionRecord;
  }

  setSession(value: unknown): void {
    if (value === null || value === undefined) {
      this.destroy();
      return;
    }
    if (!isPlainObject(value)) {
      throw new SessionUsageError(
        `session data must be a plain object (or null to delete the session), got ${Array.isArray(value) ? 'an array' : typeof value}`,
      );
    }
    if (this.data === null) this.startFresh(Date.now());
    else if (this.data === undefined) this.materialize();
    this.data = value;
  }

  getSessionId(): string {
    this.getSession();
    return this.ensureId();
  }

  /** New id, same data; the old session is removed now and the cookie is issued again at the end. */
  async regenerate(): Promise<void> {
    const data = this.getSession();
    if (!this.isNew && this.sid !== undefined) await this.remove(this.sid);
    // The new id is indexed when it is written.
    this.indexedUser = undefined;
    const staleSids = this.staleSids;
    this.startFresh(Date.now());
    this.staleSids = staleSids;
    this.data = data;
    this.forceWrite = true;
  }

  private destroy(): void {
    if (this.data === undefined) this.materialize();
    // Only a server-side session has an entry to remove; a cookie session ends with its cookie.
    if (this.carrier.serverSide) {
      const ids = (this.staleSids ??= []);
      if (this.requestSid !== undefined && !ids.includes(this.requestSid)) ids.push(this.requestSid);
      if (!this.isNew && this.sid !== undefined && !ids.includes(this.sid)) ids.push(this.sid);
    }
    this.data = null;
    this.clearCookie = true;
    this.forceWrite = false;
  }

  // ---- reading ---------------------------------------------------------------

  /** Reads the request's session cookie once; undefined when absent, forged, expired or garbage. */
  private readSessionCookie(): Carried | undefined {
    this.cookieRead = true;
    const carried = this.carrier.read(this.ctx);
    if (carried === undefined) return undefined;
    this.requestSid = carried.sid;
    this.carried = carried;
    this.reissue = carried.reissue;
    const { maxLifetime } = this.config;
    // A store's id cookie has no expiry of its own: without maxLifetime no clock is read (a call into the runtime).
    if (maxLifetime === undefined && carried.exp === undefined) return carried;
    const now = Date.now();
    if (maxLifetime !== undefined) {
      // A 2.0 cookie says nothing of its age, so it cannot be shown to be inside the cap.
      if (carried.ctime === undefined) {
        debug('session cookie from 2.0 has no creation time and maxLifetime is set; starting a fresh session');
        return undefined;
      }
      if (now >= carried.ctime + maxLifetime) {
        debug('session reached maxLifetime; starting a fresh session');
        return undefined;
      }
    }
    if (carried.exp !== undefined && now >= carried.exp) {
      debug('cookie session expired; starting a fresh session');
      return undefined;
    }
    return carried;
  }

  /** Cookie carriers: takes the id, times and JSON text from the request's cookie; parsing waits for first access. */
  private adoptCookieSession(): void {
    const carried = this.readSessionCookie();
    if (carried?.json === undefined) return;
    this.sid = carried.sid;
    this.ctime = carried.ctime ?? Date.now();
    this.json = carried.json;
    this.isNew = false;
    const { lifetime } = this.config;
    if (carried.exp !== undefined && lifetime !== undefined) this.touched = carried.exp - lifetime;
  }

  /** Makes `data` an object: parses the session's JSON (from the cookie or the store), or starts fresh. */
  private materialize(): void {
    if (!this.cookieRead) this.readDeferred();
    if (this.isNew || this.json === undefined) {
      this.startFresh(Date.now());
      return;
    }
    const data = parseSessionJson(this.json);
    if (data === undefined) {
      // Leave a bad store entry in place for inspection; never log its content.
      debug('session JSON is not a JSON object (%d chars); starting a fresh session', this.json.length);
      this.startFresh(Date.now());
      return;
    }
    this.data = data;
    if (this.config.userIndex !== undefined) this.indexedUser = this.config.userIndex.userOf(data);
    // The top level as loaded: an unchanged session is told by it, and a patch is computed against it.
    this.snapshot = { ...data };
  }

  private startFresh(now: number): void {
    this.sid = undefined;
    this.isNew = true;
    this.json = '{}';
    this.ctime = now;
    this.touched = undefined;
    this.data = {};
  }

  private ensureId(): string {
    if (this.sid !== undefined) return this.sid;
    const { genid } = this.config;
    if (genid === defaultGenid) return (this.sid = defaultGenid());
    const id: unknown = genid();
    if (typeof id !== 'string' || !isSessionId(id)) {
      throw new SessionUsageError(
        `genid() must return a non-empty string of at most 128 characters from [A-Za-z0-9_-], got ${typeof id === 'string' ? `${JSON.stringify(id.slice(0, 20))} (${id.length} chars)` : typeof id}`,
      );
    }
    this.sid = id;
    return id;
  }

  // ---- what is due at the end --------------------------------------------------

  /** True once the middleware commits at the end of the request: nothing is written after that. */
  private ending = false;

  /** The commit at the end of the request (the middleware's); {@link commit} without a later write to prepare for. */
  finish(): Promise<void> | undefined {
    this.ending = true;
    return this.commit();
  }

  /**
   * Writes what changed. Returns a promise only when a store call is needed, so
   * the common cases (untouched, unchanged, cookie carriers) finish synchronously.
   * Safe to call more than once (`ctx.saveSession()` then the end of the request).
   */
  commit(): Promise<void> | undefined {
    const { config, carrier } = this;
    if (this.removedElsewhere && this.sid !== undefined && this.sid === this.held?.sid) this.dropRemovedSession();
    if (this.staleSids !== undefined) return this.removeStaleThenCommit();
    if (this.data === null) {
      if (this.clearCookie && this.clientHasCookie()) carrier.expire(this.ctx);
      this.clearCookie = false;
      return undefined;
    }
    if (this.data === undefined) {
      // Never accessed, so unchanged: only a rolling reset or a reissue can be due, and neither
      // needs the data parsed or serialized. A cookie is read only to learn whether it was made
      // with an older key, and only while there is an older key.
      if (!this.cookieRead && (config.rolling || carrier.mayReissue(this.ctx))) this.readDeferred();
      if (!config.rolling && !this.reissue) return undefined;
      return this.isNew ? undefined : this.commitUnchanged(undefined);
    }
    // Loaded, then only read: a top level of primitives, all as loaded, needs no serializing to tell.
    if (!this.isNew && this.snapshot !== undefined && unchangedPrimitives(this.snapshot, this.data)) return this.commitUnchanged(undefined);
    const json = JSON.stringify(this.data);
    if (nestsDeeperThan(json, MAX_NESTING)) {
      throw new SessionUsageError(`session data nests objects or arrays more than ${MAX_NESTING} levels deep; such a session could not be read back`);
    }
    const now = Date.now();
    if (this.isNew) {
      if (json === '{}' && !this.forceWrite) {
        if (this.clearCookie && this.clientHasCookie()) carrier.expire(this.ctx);
        this.clearCookie = false;
        return undefined;
      }
      return this.writeNew(json, now);
    }
    if (json !== this.json) return this.writeChanged(json, now);
    return this.commitUnchanged(now);
  }

  /**
   * Whether the client holds a session cookie to expire: it sent one, or this response set one.
   * Expiring a cookie the request did not carry would let a cross-site form, sent without the
   * SameSite=Lax cookie, still log the user out through the Set-Cookie of its response.
   */
  private clientHasCookie(): boolean {
    return this.cookieSent || readCookie(this.ctx.req.headers.cookie, cookiePrefix(this.config.name)) !== undefined;
  }

  /** The held session was removed by another request: it ends here too, and nothing of it is written back. */
  private dropRemovedSession(): void {
    debug('session was removed by another request while this one held it; writing nothing back');
    this.removedElsewhere = false;
    this.isNew = true;
    this.sid = undefined;
    this.data = null;
    this.clearCookie = true;
    this.forceWrite = false;
    this.reissue = false;
  }

  private async removeStaleThenCommit(): Promise<void> {
    const ids = this.staleSids ?? [];
    this.staleSids = undefined;
    for (const id of ids) await this.remove(id);
    await this.commit();
  }

  private async remove(sid: string): Promise<void> {
    const removing = this.carrier.remove(sid, this);
    if (removing !== undefined) await removing;
    const { userIndex } = this.config;
    if (userIndex !== undefined && sid === this.storedSid) {
      await userIndex.removed(this.indexedUser ?? userIndex.userOfJson(this.json), sid);
      this.storedSid = undefined;
    }
  }

  private writeNew(json: string, now: number): Promise<void> | undefined {
    const session = this.outgoing(this.ensureId(), json, this.expiresAt(now), now);
    this.forceWrite = false;
    this.clearCookie = false;
    return this.written(this.carrier.writeNew(this.ctx, session), session);
  }

  private writeChanged(json: string, now: number): Promise<void> | undefined {
    const { config, carrier } = this;
    let patch;
    if (carrier.patches) {
      patch = diffSessions(this.snapshot ?? {}, this.json as string, this.data as SessionRecord);
      if (patch === undefined) {
        // Same data in another spelling (PostgreSQL's jsonb reformats it): nothing to write,
        // but a rolling touch or a key-rotation reissue may still be due.
        this.json = json;
        return this.commitUnchanged(now);
      }
    }
    const session = this.outgoing(this.sid as string, json, this.expiresAt(now), now);
    const resendCookie = config.cookie.maxAge !== undefined || config.rolling || this.reissue;
    return this.written(carrier.writeChanged(this.ctx, session, { patch, base: this.json as string, resendCookie }), session);
  }

  /** Touches or reissues an unchanged session when due; `now` undefined reads the clock only if one is (a read-only request needs none). */
  private commitUnchanged(now: number | undefined): Promise<void> | undefined {
    if (!this.config.rolling && !this.reissue) return undefined;
    now ??= Date.now();
    if (this.config.rolling && this.touchDue(now)) return this.touch(now);
    if (this.reissue && this.carried !== undefined) {
      this.reissue = false;
      const expiresAt = this.carried.exp ?? (this.config.lifetime === undefined ? undefined : (this.touched ?? now) + this.config.lifetime);
      this.carrier.reissue(this.ctx, this.carried, this.outgoing(this.carried.sid, this.json ?? '{}', expiresAt, now));
    }
    return undefined;
  }

  private touchDue(now: number): boolean {
    if (this.config.lifetime === undefined && this.config.maxLifetime === undefined) return false;
    return this.config.touchAfter <= 0 || this.touched === undefined || now - this.touched >= this.config.touchAfter;
  }

  private touch(now: number): Promise<void> | undefined {
    const session = this.outgoing(this.sid as string, this.json as string, this.expiresAt(now), now);
    const touching = this.carrier.touch(this.ctx, session);
    if (touching === false) return undefined;
    if (touching instanceof Promise) return touching.then(() => this.touchedAt(session));
    return this.touchedAt(session);
  }

  private touchedAt(session: OutgoingSession): Promise<void> | undefined {
    this.touched = session.now;
    this.cookieSent = true;
    return this.config.userIndex === undefined ? undefined : this.indexWritten(session);
  }

  /** Records a write once it is done: the written state is the new baseline. */
  private written(writing: Written, session: OutgoingSession): Promise<void> | undefined {
    if (writing === false) return undefined;
    if (writing instanceof Promise) return writing.then(() => this.afterWrite(session));
    return this.afterWrite(session);
  }

  /** Keeps the user index in step with a session just written or touched. */
  private indexWritten(session: OutgoingSession): Promise<void> | undefined {
    const userIndex = this.config.userIndex as UserIndex;
    const user = this.data ? userIndex.userOf(this.data) : userIndex.userOfJson(session.json);
    const previous = this.indexedUser;
    this.indexedUser = user;
    this.storedSid = session.sid;
    if (user === undefined && previous === undefined) return undefined;
    const entry = { sid: session.sid, createdAt: session.ctime, lastActiveAt: session.now, expiresAt: session.expiresAt ?? null };
    return userIndex.written(previous, user, entry, this.ctx.get('User-Agent'));
  }

  private afterWrite(session: OutgoingSession): Promise<void> | undefined {
    this.json = session.json;
    // A later write in this request (after saveSession) diffs against what was written; after the
    // request's last commit there is none, so no copy is made.
    this.snapshot = this.data && !this.ending ? { ...this.data } : undefined;
    this.isNew = false;
    this.touched = session.now;
    this.reissue = false;
    this.cookieSent = true;
    return this.config.userIndex === undefined ? undefined : this.indexWritten(session);
  }

  // ---- a user's sessions (option indexBy) --------------------------------------

  /** The current user's live sessions; [] when the session names no user. */
  async listSessions(): Promise<UserSession[]> {
    const userIndex = this.requireIndex('listSessions()');
    const user = userIndex.userOf(this.getSession());
    return user === undefined ? [] : userIndex.list(user, this.isNew ? undefined : this.sid);
  }

  /** Ends one of the current user's sessions; false when the handle names none of them. */
  async revokeSession(handle: string): Promise<boolean> {
    const userIndex = this.requireIndex('revokeSession()');
    const user = userIndex.userOf(this.getSession());
    if (user === undefined || typeof handle !== 'string') return false;
    const current = this.isNew ? undefined : this.sid;
    const ended = await userIndex.revoke(user, (entry) => entry.handle === handle, this);
    // Ending the current session is a logout: the rest of the request sees a fresh one.
    if (current !== undefined && ended.includes(current)) this.destroy();
    return ended.length > 0;
  }

  /** Ends all of the current user's sessions but this one; resolves to how many ended. */
  async revokeOtherSessions(): Promise<number> {
    const userIndex = this.requireIndex('revokeOtherSessions()');
    const user = userIndex.userOf(this.getSession());
    if (user === undefined) return 0;
    const current = this.isNew ? undefined : this.sid;
    // Sessions created since this request began (a login racing it) are not "other sessions" it knew of.
    // One made in the very millisecond it began may have been known: it goes (the safe side of a tie).
    const began = this.began ?? Date.now();
    return (await userIndex.revoke(user, (entry) => entry.sid !== current && entry.createdAt <= began, this)).length;
  }

  private requireIndex(method: string): UserIndex {
    if (this.config.userIndex === undefined) {
      throw new SessionUsageError(`ctx.${method} needs the indexBy option (e.g. session({ store, indexBy: 'userId' }))`);
    }
    return this.config.userIndex;
  }

  private outgoing(sid: string, json: string, expiresAt: number | undefined, now: number): OutgoingSession {
    return { sid, ctime: this.ctime, json, expiresAt, now };
  }

  /** When a write or touch made now stops being valid: the lifetime, capped by maxLifetime. */
  private expiresAt(now: number): number | undefined {
    const { lifetime, maxLifetime } = this.config;
    let expiresAt = lifetime === undefined ? undefined : now + lifetime;
    if (maxLifetime !== undefined) {
      const cap = this.ctime + maxLifetime;
      expiresAt = expiresAt === undefined ? cap : Math.min(expiresAt, cap);
    }
    return expiresAt;
  }
}
