// A user's sessions (option `indexBy`): which sessions belong to which user,
// so a user can see where they are signed in and end any of those sessions.
//
// The index lives in the store (its optional indexSession / unindexSession /
// listIndexed methods) beside the sessions, but it is never trusted alone:
// listing checks each entry against the session it names (gone, expired, or no
// longer this user's: dropped from the list and from the index), so a crash
// between two store calls, an expiry without a sweep or a write racing a
// revocation can leave a stale entry for a while, never a wrong answer.
import { createHash } from 'node:crypto';
import type { SessionCarrier, SessionHolder } from './carriers/carrier.js';
import { parseSessionJson, type SessionRecord } from './payload.js';
import { settle, type IndexedSession, type SessionStore } from './store.js';
import { callStore, type StoreOperation } from './store-call.js';

/** One of a user's sessions, as `listSessions()` shows it: nothing in it can be turned back into the session id. */
export interface UserSession {
  /** A stable, non-secret name for the session, for `revokeSession(handle)`. Never the session id. */
  readonly handle: string;
  /** When the session was created (ms since the epoch). */
  readonly createdAt: number;
  /** When it was last written or touched (ms since the epoch). */
  readonly lastActiveAt: number;
  /** When it expires (ms since the epoch); null never. */
  readonly expiresAt: number | null;
  /** Whether it is the session of the request that asked. */
  readonly current: boolean;
  /** The User-Agent of the request that signed in, at most 256 characters. */
  readonly userAgent: string;
}

/** What the middleware returned by `session()` offers outside a request (an admin action, a job). */
export interface UserSessionsApi {
  /** The live sessions of `userId`, most recently active first. */
  listSessions(userId: string | number): Promise<UserSession[]>;
  /** Ends every session of `userId` but the one named by `except`; resolves to how many ended. */
  revokeSessions(userId: string | number, options?: { except?: string }): Promise<number>;
}

const USER_AGENT_LIMIT = 256;
const HANDLE_PREFIX = 'koa-session-store handle\u0000';

/** The handle of a session: SHA-256 of the id, 128 bits in base64url; the id has 122 random bits, so it cannot be recovered. */
export function handleOf(sid: string): string {
  return createHash('sha256').update(HANDLE_PREFIX + sid).digest('base64url').slice(0, 22);
}

/** An entry checked against the store: its session exists, has not expired and still names the user. */
interface LiveEntry extends IndexedSession {
  readonly handle: string;
}

/** Per middleware: keeps the store's user index in step with sessions, and lists and revokes. */
export class UserIndex {
  readonly #key: string;
  readonly #store: SessionStore;
  readonly #timeout: number;
  readonly #carrier: SessionCarrier;

  constructor(key: string, store: SessionStore, timeout: number, carrier: SessionCarrier) {
    this.#key = key;
    this.#store = store;
    this.#timeout = timeout;
    this.#carrier = carrier;
  }

  /** The user a session's data names, as a string; undefined when the key holds no string or number. */
  userOf(data: SessionRecord | null | undefined): string | undefined {
    const value = data?.[this.#key];
    if (typeof value === 'string') return value === '' ? undefined : value;
    if (typeof value === 'number' && Number.isFinite(value)) return String(value);
    return undefined;
  }

  /** The user of a session's JSON text. */
  userOfJson(json: string | undefined): string | undefined {
    return json === undefined ? undefined : this.userOf(parseSessionJson(json));
  }

  /** Records a session just written under `user`, leaving `previous`'s index when the user changed. */
  async written(previous: string | undefined, user: string | undefined, entry: Omit<IndexedSession, 'userAgent'>, userAgent: string): Promise<void> {
    if (previous !== undefined && previous !== user) await this.#call('unindexSession', previous, entry.sid);
    if (user !== undefined) await this.#call('indexSession', user, { ...entry, userAgent: userAgent.slice(0, USER_AGENT_LIMIT) });
  }

  /** Takes a removed session out of its user's index. */
  async removed(user: string | undefined, sid: string): Promise<void> {
    if (user !== undefined) await this.#call('unindexSession', user, sid);
  }

  /**
   * The user's sessions that really exist, most recently active first; stale entries leave the index.
   * Among sessions last active in the same millisecond (two logins at once), `currentSid`'s comes
   * first: it is in use by the request asking. Without it, ties keep the store's order.
   */
  async live(user: string, currentSid?: string): Promise<LiveEntry[]> {
    const entries = (await this.#call('listIndexed', user)) as readonly IndexedSession[] | null | undefined;
    const now = Date.now();
    const checked = await Promise.all(
      (entries ?? []).map(async (entry): Promise<LiveEntry | undefined> => {
        const alive = (entry.expiresAt === null || entry.expiresAt > now) && this.userOfJson(await this.#load(entry.sid)) === user;
        if (alive) return { ...entry, handle: handleOf(entry.sid) };
        await this.#call('unindexSession', user, entry.sid);
        return undefined;
      }),
    );
    return checked
      .filter((entry): entry is LiveEntry => entry !== undefined)
      .sort((a, b) => b.lastActiveAt - a.lastActiveAt || Number(b.sid === currentSid) - Number(a.sid === currentSid));
  }

  /** `live()` as shown to a page: handles, never ids. */
  async list(user: string, currentSid: string | undefined): Promise<UserSession[]> {
    return (await this.live(user, currentSid)).map((entry) => ({
      handle: entry.handle,
      createdAt: entry.createdAt,
      lastActiveAt: entry.lastActiveAt,
      expiresAt: entry.expiresAt,
      current: entry.sid === currentSid,
      userAgent: entry.userAgent,
    }));
  }

  /** Ends the user's sessions `which` picks; resolves to how many ended. Requests of this process holding one write nothing back. */
  async revoke(user: string, which: (entry: LiveEntry) => boolean, remover: SessionHolder): Promise<string[]> {
    const ended: string[] = [];
    for (const entry of await this.live(user)) {
      if (!which(entry)) continue;
      const removing = this.#carrier.remove(entry.sid, remover);
      if (removing !== undefined) await removing;
      await this.#call('unindexSession', user, entry.sid);
      ended.push(entry.sid);
    }
    return ended;
  }

  /** The API on the middleware, for use outside a request. */
  api(): UserSessionsApi {
    const nobody: SessionHolder = { sessionRemoved() {} };
    const userId = (value: string | number): string => {
      const user = this.userOf({ [this.#key]: value });
      if (user === undefined) throw new TypeError(`koa-session-store: a user id must be a non-empty string or a finite number, got ${typeof value}`);
      return user;
    };
    return {
      listSessions: (value) => this.list(userId(value), undefined),
      revokeSessions: async (value, options = {}) => {
        // Sessions created once the revocation began are not among those it was asked to end.
        const started = Date.now();
        return (await this.revoke(userId(value), (entry) => entry.handle !== options.except && entry.createdAt <= started, nobody)).length;
      },
    };
  }

  async #load(sid: string): Promise<string | undefined> {
    const loaded = await settle(callStore(this.#store, 'load', this.#timeout, 1, sid) as Promise<unknown>);
    return typeof loaded === 'string' ? loaded : undefined;
  }

  #call(operation: StoreOperation, ...args: [unknown] | [unknown, unknown]): Promise<unknown> {
    return settle(callStore(this.#store, operation, this.#timeout, args.length, args[0], args[1]) as Promise<unknown>);
  }
}
