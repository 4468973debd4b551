import type { Context } from 'koa';
import { appendSetCookies, cookieAttributes, COOKIE_SIZE_LIMIT, readCookie } from './cookie.js';
import { debug } from './debug.js';
import { SessionUsageError } from './errors.js';
import type { HeldSessions, SessionHolder } from './held-sessions.js';
import { defaultGenid, type ResolvedOptions } from './options.js';
import {
  decodeCookiePayload,
  decodeIdValue,
  encodeCookiePayload,
  encodeIdValue,
  encodePlainCookiePayload,
  isPlainObject,
  MAX_NESTING,
  nestsDeeperThan,
  parseSessionJson,
  SESSION_ID,
  type CookieContents,
  type SessionRecord,
} from './payload.js';
import { hasKeys, indexOfKey, sign, verify, type AppKeys } from './signature.js';
import { diffSessions } from './diff.js';
import type { SessionStore } from './store.js';
import { callStore, type StoreOperation } from './store-call.js';
import type { VerifiedCookies } from './verified-cookies.js';

/** Per-middleware constants the request state needs besides the options. */
export interface MiddlewareConfig extends ResolvedOptions {
  /** `name=` of the session cookie, as it appears in a Cookie header. */
  readonly valuePrefix: string;
  /** `name=` of the signature cookie. */
  readonly sigPrefix: string;
  /** The cookie names this middleware writes: the session cookie and, when signed, its signature. */
  readonly names: readonly string[];
  /** Signed cookies that already verified, so a returning cookie costs no HMAC. */
  readonly verified: VerifiedCookies;
  /** Warnings this middleware already gave: each is logged once per middleware, not per request. */
  readonly warned: Set<string>;
  /** Sessions requests hold, for a store that could write a removed one back; undefined when the store cannot. */
  readonly held: HeldSessions | undefined;
}

/**
 * One request's session: reads the cookie, loads the data, tracks what the
 * handler does with it, and writes what changed at the end.
 *
 * Work is deferred until something needs it: with the cookie store, a request
 * that never touches `ctx.session` verifies, decodes and writes nothing; with
 * a server store the entry is loaded eagerly (`ctx.session` is synchronous)
 * but only parsed on first access.
 */
export class SessionRequest implements SessionHolder {
  private readonly ctx: Context;
  private readonly config: MiddlewareConfig;
  private keys: AppKeys | undefined;

  /** The current id; undefined for a new session until one is needed. */
  private sid: string | undefined;
  /** The id a valid cookie named, even when the store did not know it: `ctx.session = null` removes it. */
  private requestSid: string | undefined;
  private ctime = 0;
  /** When the entry's life was last reset (write or touch); drives `touchAfter`. */
  private touched: number | undefined;
  /** True until the session exists in the store (or in a cookie the client sent). */
  private isNew = true;
  /** The data's JSON as loaded or last written: the baseline for change detection. */
  private json: string | undefined;
  /** undefined: not materialized yet; null: destroyed by `ctx.session = null`. */
  private data: SessionRecord | null | undefined;
  /** A shallow copy of the loaded data's top level (stores with `patch` only). */
  private snapshot: SessionRecord | undefined;
  private cookieRead = false;
  private cookieValue: string | undefined;
  /** Signed with an older key of `app.keys`: send the cookie again, signed with the newest. */
  private reissue = false;
  /** Write even an empty session (after regeneration). */
  private forceWrite = false;
  private clearCookie = false;
  private staleSids: string[] | undefined;
  /** The id this request registered in `config.held`, released when the request ends. */
  private heldSid: string | undefined;
  /** Another request removed the held session: write nothing of it back. */
  private removedElsewhere = false;

  constructor(ctx: Context, config: MiddlewareConfig) {
    this.ctx = ctx;
    this.config = config;
  }

  /** Runs before downstream. Returns a promise only when it has to wait for the store. */
  begin(): Promise<void> | undefined {
    if (this.config.cookie.signed) {
      const keys: unknown = this.ctx.app.keys;
      if (!hasKeys(keys)) {
        throw new SessionUsageError(
          "app.keys is required for signed session cookies: set app.keys = ['a long random secret'] (or cookie.signed: false, which lets clients forge cookies)",
        );
      }
      this.keys = keys;
    }
    if (this.config.store === undefined) return undefined;
    const contents = this.readSessionCookie();
    if (contents === undefined) return undefined;
    // Held from before the load, so a removal that overtakes the load is seen too.
    if (this.config.held !== undefined) {
      this.heldSid = contents.sid;
      this.config.held.hold(contents.sid, this);
    }
    // A store answering with plain values (MemoryStore, a Map) costs no promise and no timer.
    const loading = this.invoke(this.config.store, 'load', contents.sid);
    if (loading instanceof Promise) return loading.then((loaded) => this.adoptLoaded(contents, loaded));
    this.adoptLoaded(contents, loading);
    return undefined;
  }

  private adoptLoaded(contents: CookieContents, loaded: unknown): void {
    if (typeof loaded === 'string') {
      this.sid = contents.sid;
      this.json = loaded;
      this.isNew = false;
      this.ctime = contents.ctime ?? Date.now();
      this.touched = contents.touched;
    } else if (loaded !== null && loaded !== undefined) {
      debug('store.load returned a %s instead of a JSON string; starting a fresh session, entry left in place', typeof loaded);
    } else {
      debug('session id from the cookie is unknown to the store (expired or removed); starting a fresh session');
    }
  }

  sessionRemoved(): void {
    this.removedElsewhere = true;
  }

  /** Runs when the request is over, whatever happened: lets go of the held session. */
  end(): void {
    if (this.heldSid !== undefined) this.config.held?.release(this.heldSid, this);
    this.heldSid = undefined;
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

  /** New id, same data; the old entry is removed now and the cookie is issued again at the end. */
  async regenerate(): Promise<void> {
    const data = this.getSession();
    const store = this.config.store;
    if (store !== undefined && !this.isNew && this.sid !== undefined) {
      await this.removeEntry(store, this.sid);
    }
    const staleSids = this.staleSids;
    this.startFresh(Date.now());
    this.staleSids = staleSids;
    this.data = data;
    this.forceWrite = true;
  }

  private destroy(): void {
    if (this.data === undefined) this.materialize();
    if (this.config.store !== undefined) {
      const ids = (this.staleSids ??= []);
      if (this.requestSid !== undefined && !ids.includes(this.requestSid)) ids.push(this.requestSid);
      if (!this.isNew && this.sid !== undefined && !ids.includes(this.sid)) ids.push(this.sid);
    }
    this.data = null;
    this.clearCookie = true;
    this.forceWrite = false;
  }

  // ---- reading ---------------------------------------------------------------

  /** Verifies and decodes the request's session cookie once; undefined when absent, forged, expired or garbage. */
  private readSessionCookie(): CookieContents | undefined {
    this.cookieRead = true;
    const { config } = this;
    const header = this.ctx.req.headers.cookie;
    const value = readCookie(header, config.valuePrefix);
    if (value === undefined || value === '') return undefined;
    let contents: CookieContents | undefined;
    if (this.keys !== undefined) {
      const signature = readCookie(header, config.sigPrefix);
      if (signature === undefined) return undefined;
      contents = this.verifiedContents(value, signature, this.keys);
    } else {
      contents = this.decode(value);
    }
    if (contents === undefined) return undefined;
    this.requestSid = contents.sid;
    this.cookieValue = value;
    const now = Date.now();
    if (config.maxLifetime !== undefined) {
      // A 2.0 cookie says nothing of its age, so it cannot be shown to be inside the cap.
      if (contents.ctime === undefined) {
        debug('session cookie from 2.0 has no creation time and maxLifetime is set; starting a fresh session');
        return undefined;
      }
      if (now >= contents.ctime + config.maxLifetime) {
        debug('session reached maxLifetime; starting a fresh session');
        return undefined;
      }
    }
    if (contents.exp !== undefined && now >= contents.exp) {
      debug('cookie-store session expired; starting a fresh session');
      return undefined;
    }
    return contents;
  }

  /** The contents of a signed cookie whose signature verifies with one of `keys`, else undefined. */
  private verifiedContents(value: string, signature: string, keys: AppKeys): CookieContents | undefined {
    const { config } = this;
    const remembered = Array.isArray(keys) ? config.verified.lookup(signature, value) : undefined;
    if (remembered !== undefined) {
      const keyIndex = indexOfKey(keys as ReadonlyArray<string | Buffer>, remembered.key);
      // A key since removed from app.keys no longer vouches for the cookie: verify again, and fail.
      if (keyIndex >= 0) {
        this.reissue = keyIndex > 0;
        return remembered.contents;
      }
    }
    const keyIndex = verify(`${config.name}=${value}`, signature, keys);
    if (keyIndex < 0) {
      debug('session cookie signature does not verify; starting a fresh session');
      return undefined;
    }
    this.reissue = keyIndex > 0;
    const contents = this.decode(value);
    if (contents !== undefined && Array.isArray(keys)) {
      const key = (keys as ReadonlyArray<string | Buffer>)[keyIndex] as string | Buffer;
      // A copy of a Buffer key: one changed in place must stop vouching for what it signed before.
      config.verified.remember(signature, value, typeof key === 'string' ? key : Buffer.from(key), contents);
    }
    return contents;
  }

  private decode(value: string): CookieContents | undefined {
    const contents = this.config.store === undefined ? decodeCookiePayload(value) : decodeIdValue(value);
    if (contents === undefined) debug('session cookie is not one this middleware issues; starting a fresh session');
    return contents;
  }

  /** Cookie store: takes the id, times and JSON text from the request's cookie; parsing waits for first access. */
  private adoptCookieSession(): void {
    const contents = this.readSessionCookie();
    if (contents?.json === undefined) return;
    this.sid = contents.sid;
    this.ctime = contents.ctime ?? Date.now();
    this.json = contents.json;
    this.isNew = false;
    const { lifetime } = this.config;
    if (contents.exp !== undefined && lifetime !== undefined) this.touched = contents.exp - lifetime;
  }

  /** Makes `data` an object: parses the session's JSON (from the cookie or the store), or starts fresh. */
  private materialize(): void {
    if (this.config.store === undefined && !this.cookieRead) this.adoptCookieSession();
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
    // The top level as loaded, for the patch a store with `patch` gets when the data changes.
    if (this.config.store?.patch !== undefined) this.snapshot = { ...data };
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
    if (typeof id !== 'string' || !SESSION_ID.test(id)) {
      throw new SessionUsageError(
        `genid() must return a non-empty string of at most 128 characters from [A-Za-z0-9_-], got ${typeof id === 'string' ? `${JSON.stringify(id.slice(0, 20))} (${id.length} chars)` : typeof id}`,
      );
    }
    this.sid = id;
    return id;
  }

  // ---- writing ---------------------------------------------------------------

  /**
   * Writes what changed. Returns a promise only when a store call is needed, so
   * the common cases (untouched, unchanged, cookie store) finish synchronously.
   * Safe to call more than once (`ctx.saveSession()` then the end of the request).
   */
  commit(): Promise<void> | undefined {
    const { config } = this;
    if (this.removedElsewhere && this.sid !== undefined && this.sid === this.heldSid) this.dropRemovedSession();
    if (this.staleSids !== undefined && config.store !== undefined) return this.removeStaleThenCommit(config.store);
    if (this.data === null) {
      if (this.clearCookie) this.expireCookie();
      this.clearCookie = false;
      return undefined;
    }
    if (this.data === undefined) {
      // Never accessed, so unchanged: only a rolling reset or a key-rotation reissue can be due,
      // and neither needs the data parsed or serialized. A cookie-store cookie is verified only
      // to learn whether an older key signed it, and only while app.keys holds several.
      if (config.store === undefined && !this.cookieRead && (config.rolling || this.rotating())) this.adoptCookieSession();
      if (!config.rolling && !this.reissue) return undefined;
      return this.isNew ? undefined : this.commitUnchanged(Date.now());
    }
    const json = JSON.stringify(this.data);
    if (nestsDeeperThan(json, MAX_NESTING)) {
      throw new SessionUsageError(`session data nests objects or arrays more than ${MAX_NESTING} levels deep; such a session could not be read back`);
    }
    const now = Date.now();
    if (this.isNew) {
      if (json === '{}' && !this.forceWrite) {
        if (this.clearCookie) this.expireCookie();
        this.clearCookie = false;
        return undefined;
      }
      return this.writeNew(json, now);
    }
    if (json !== this.json) return this.writeChanged(json, now);
    return this.commitUnchanged(now);
  }

  /** While app.keys lists more than one secret, a cookie may be signed with an older one. */
  private rotating(): boolean {
    const { keys } = this;
    return keys !== undefined && (!Array.isArray(keys) || keys.length > 1);
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

  private commitUnchanged(now: number): Promise<void> | undefined {
    if (this.config.rolling && this.touchDue(now)) return this.touch(now);
    if (this.reissue && this.cookieValue !== undefined) {
      this.reissue = false;
      this.setSessionCookie(this.cookieValue, this.currentExpiry(now), now);
    }
    return undefined;
  }

  private async removeStaleThenCommit(store: SessionStore): Promise<void> {
    const ids = this.staleSids ?? [];
    this.staleSids = undefined;
    for (const id of ids) await this.removeEntry(store, id);
    await this.commit();
  }

  private async removeEntry(store: SessionStore, sid: string): Promise<void> {
    await this.invoke(store, 'remove', sid);
    this.config.held?.removed(sid, this);
  }

  private writeNew(json: string, now: number): Promise<void> | undefined {
    const { config } = this;
    const sid = this.ensureId();
    const expiresAt = this.expiresAt(now);
    this.forceWrite = false;
    this.clearCookie = false;
    if (config.store === undefined) {
      if (!this.canSetHeaders()) return this.cannotSetCookie();
      this.setPayloadCookie(sid, json, expiresAt, now);
      this.afterWrite(json, now);
      return undefined;
    }
    // Without a cookie nobody can ever find this entry again: do not store an orphan.
    if (!this.canSetHeaders()) return this.cannotSetCookie();
    return this.saveNew(config.store, sid, json, expiresAt, now);
  }

  private saveNew(store: SessionStore, sid: string, json: string, expiresAt: number | undefined, now: number): Promise<void> | undefined {
    const saving = this.invoke(store, 'save', sid, json, ttlFrom(expiresAt, now));
    if (saving instanceof Promise) return saving.then(() => this.savedNew(sid, json, expiresAt, now));
    this.savedNew(sid, json, expiresAt, now);
    return undefined;
  }

  private savedNew(sid: string, json: string, expiresAt: number | undefined, now: number): void {
    this.afterWrite(json, now);
    if (this.canSetHeaders()) this.setSessionCookie(encodeIdValue(sid, this.ctime, now), expiresAt, now);
  }

  private writeChanged(json: string, now: number): Promise<void> | undefined {
    const { config } = this;
    const sid = this.sid as string;
    const expiresAt = this.expiresAt(now);
    if (config.store === undefined) {
      if (!this.canSetHeaders()) return this.cannotSetCookie();
      this.setPayloadCookie(sid, json, expiresAt, now);
      this.afterWrite(json, now);
      return undefined;
    }
    return this.saveChanged(config.store, sid, json, expiresAt, now);
  }

  private saveChanged(store: SessionStore, sid: string, json: string, expiresAt: number | undefined, now: number): Promise<void> | undefined {
    const ttl = ttlFrom(expiresAt, now);
    let writing: unknown;
    if (store.patch !== undefined) {
      const patch = diffSessions(this.snapshot ?? {}, this.json as string, this.data as SessionRecord);
      if (patch === undefined) {
        // Same data in another spelling (PostgreSQL's jsonb reformats it): nothing to write,
        // but a rolling touch or a key-rotation reissue may still be due.
        this.json = json;
        return this.commitUnchanged(now);
      }
      // With the loaded text and the whole new text, a store can write the session in one piece when
      // nobody changed it meanwhile (see SessionPatch.result), which is cheaper than applying the keys.
      writing = this.invoke(store, 'patch', sid, { set: patch.set, unset: patch.unset, base: this.json, result: json }, ttl);
    } else {
      writing = this.invoke(store, 'save', sid, json, ttl);
    }
    if (writing instanceof Promise) return writing.then(() => this.savedChanged(sid, json, expiresAt, now));
    this.savedChanged(sid, json, expiresAt, now);
    return undefined;
  }

  private savedChanged(sid: string, json: string, expiresAt: number | undefined, now: number): void {
    this.afterWrite(json, now);
    // Without maxAge or rolling the cookie does not change: the original sets it for new sessions only.
    if ((this.config.cookie.maxAge !== undefined || this.config.rolling || this.reissue) && this.canSetHeaders()) {
      this.setSessionCookie(encodeIdValue(sid, this.ctime, now), expiresAt, now);
    }
  }

  private touchDue(now: number): boolean {
    if (this.config.lifetime === undefined && this.config.maxLifetime === undefined) return false;
    return this.config.touchAfter <= 0 || this.touched === undefined || now - this.touched >= this.config.touchAfter;
  }

  private touch(now: number): Promise<void> | undefined {
    const { config } = this;
    const sid = this.sid as string;
    const expiresAt = this.expiresAt(now);
    if (config.store === undefined) {
      if (!this.canSetHeaders()) return undefined;
      this.setPayloadCookie(sid, this.json as string, expiresAt, now);
      this.touched = now;
      return undefined;
    }
    return this.touchStored(config.store, sid, expiresAt, now);
  }

  private touchStored(store: SessionStore, sid: string, expiresAt: number | undefined, now: number): Promise<void> | undefined {
    const ttl = ttlFrom(expiresAt, now);
    const touching =
      store.touch !== undefined ? this.invoke(store, 'touch', sid, ttl) : this.invoke(store, 'save', sid, this.json as string, ttl);
    if (touching instanceof Promise) return touching.then(() => this.touchedStored(sid, expiresAt, now));
    this.touchedStored(sid, expiresAt, now);
    return undefined;
  }

  private touchedStored(sid: string, expiresAt: number | undefined, now: number): void {
    this.touched = now;
    if (this.canSetHeaders()) this.setSessionCookie(encodeIdValue(sid, this.ctime, now), expiresAt, now);
  }

  private afterWrite(json: string, now: number): void {
    this.json = json;
    // The written state is the new baseline: a later write in this request (after saveSession) diffs against it.
    if (this.config.store?.patch !== undefined && this.data) this.snapshot = { ...this.data };
    this.isNew = false;
    this.touched = now;
    this.reissue = false;
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

  /** When the session as it stands expires, for re-issuing its cookie unchanged. */
  private currentExpiry(now: number): number | undefined {
    if (this.config.store === undefined) return decodeCookiePayload(this.cookieValue as string)?.exp;
    const base = this.touched ?? now;
    return this.config.lifetime === undefined ? undefined : base + this.config.lifetime;
  }

  private cannotSetCookie(): undefined {
    if (this.config.warned.has('headers-sent')) return undefined;
    this.config.warned.add('headers-sent');
    process.emitWarning(
      'koa-session-store: a new or cookie-stored session changed after the response headers were sent, so its cookie could not be set; ' +
        'call await ctx.saveSession() before streaming or taking over the response',
      { code: 'KOA_SESSION_STORE_HEADERS_SENT', type: 'KoaSessionStoreWarning' },
    );
    return undefined;
  }

  private canSetHeaders(): boolean {
    return !this.ctx.headerSent && this.ctx.respond !== false;
  }

  // ---- cookies ---------------------------------------------------------------

  private cookieSecure(): boolean {
    const { secure } = this.config.cookie;
    const requestSecure = this.ctx.secure;
    if (secure === true && !requestSecure) {
      throw new SessionUsageError(
        'cookie.secure is true but this request is not HTTPS; behind a TLS-terminating proxy set app.proxy = true so Koa trusts X-Forwarded-Proto',
      );
    }
    return secure ?? requestSecure;
  }

  /**
   * Cookie store: sets the session's cookie, in base64url, or in the compact plain form
   * when base64url would be over the size limit (a third bigger than the JSON).
   */
  private setPayloadCookie(sid: string, json: string, expiresAt: number | undefined, now: number): void {
    const value = encodeCookiePayload(sid, this.ctime, expiresAt, json);
    this.setSessionCookie(value, expiresAt, now, () => encodePlainCookiePayload(sid, this.ctime, expiresAt, json));
  }

  /** Sets the session cookie (and its signature); `compact` gives a smaller value to try when `value` is too big. */
  private setSessionCookie(value: string, expiresAt: number | undefined, now: number, compact?: () => string): void {
    const { config } = this;
    const cookieMaxAge =
      config.cookie.maxAge === undefined ? undefined : Math.max(1000, Math.min(config.cookie.maxAge, (expiresAt ?? Infinity) - now));
    const attributes = cookieAttributes(config.cookie, cookieMaxAge, this.cookieSecure(), now);
    // The signature cookie's length does not depend on the value: 27 characters of HMAC-SHA1.
    const signatureLength = this.keys === undefined ? 0 : config.sigName.length + 28 + attributes.length;
    let sized = value;
    if (compact !== undefined && config.name.length + 1 + value.length + attributes.length + signatureLength > COOKIE_SIZE_LIMIT) {
      sized = compact();
    }
    const main = `${config.name}=${sized}${attributes}`;
    if (this.keys === undefined) {
      this.checkSize(main.length);
      appendSetCookies(this.ctx.res, [main], config.names, config.cookie.overwrite);
      return;
    }
    const signature = `${config.sigName}=${sign(`${config.name}=${sized}`, this.keys)}${attributes}`;
    this.checkSize(main.length + signature.length);
    appendSetCookies(this.ctx.res, [main, signature], config.names, config.cookie.overwrite);
  }

  /** Browsers drop a cookie over the limit silently; failing loudly keeps the user's data. */
  private checkSize(size: number): void {
    if (size <= COOKIE_SIZE_LIMIT) return;
    throw new SessionUsageError(
      `the session cookie would be ${size} bytes (with its attributes and signature cookie), over the ${COOKIE_SIZE_LIMIT} bytes browsers keep; ` +
        'store less in the session or use a server-side store (MemoryStore, SqliteStore, RedisStore, PostgresStore)',
    );
  }

  private expireCookie(): void {
    if (!this.canSetHeaders()) return;
    const { config } = this;
    const attributes = cookieAttributes(config.cookie, 0, this.cookieSecure(), 0);
    const headers = [`${config.name}=${attributes}`];
    if (this.keys !== undefined) headers.push(`${config.sigName}=${attributes}`);
    appendSetCookies(this.ctx.res, headers, config.names, config.cookie.overwrite);
  }

  /** Calls a store method bounded by storeTimeout; see {@link callStore}. */
  private invoke(store: SessionStore, operation: StoreOperation, ...args: unknown[]): unknown {
    return callStore(store, operation, this.config.storeTimeout, args);
  }
}

/** The store's time to live for an entry written at `now`; undefined never expires. */
function ttlFrom(expiresAt: number | undefined, now: number): number | undefined {
  return expiresAt === undefined ? undefined : Math.max(1, Math.ceil(expiresAt - now));
}
