import type { IndexedSession, SessionPatch, SessionStore } from '../store.js';

/** Options of {@link MemoryStore}. */
export interface MemoryStoreOptions {
  /**
   * Most sessions kept at once. Saving one more evicts the session unused
   * (not loaded, saved, touched or patched) for the longest time, never the
   * one being saved, so memory stays bounded. From 1,000 on, a full store
   * evicts the 1 % of `max` unused for longest at once.
   * @default 10000
   */
  max?: number;
  /**
   * Milliseconds between sweeps that delete expired sessions nobody reads any
   * more (expiry is also checked on every read). `0` turns the sweep off. The
   * timer is `unref()`ed, so it never keeps the process alive.
   * @default 60000
   */
  sweepInterval?: number;
}

/** A session, and its place in the list of sessions ordered by last use. */
interface Entry {
  readonly sid: string;
  /** Exactly the string given to `save` (or the result of the last `patch`). */
  json: string;
  /** Absolute time, in ms since the epoch, after which the entry is gone; `undefined`: never. */
  expiresAt: number | undefined;
  /** The entry used just before this one; `undefined` for the one unused for longest. */
  older: Entry | undefined;
  /** The entry used just after this one; `undefined` for the one used last. */
  newer: Entry | undefined;
  /** The user whose index lists this session (option `indexBy`), so dropping the entry drops it there too. */
  user: string | undefined;
}

const DEFAULT_MAX = 10_000;
const DEFAULT_SWEEP_INTERVAL = 60_000;

/**
 * A session store in this process's memory, for development and tests.
 *
 * Sessions live in one process only and are lost when it restarts; several app
 * servers do not share them. Use `SqliteStore`, `RedisStore` or `PostgresStore`
 * in production.
 */
// Methods answer with plain values, not promises: the middleware then handles a
// request without a single promise or timer for the store.
export class MemoryStore implements SessionStore {
  readonly #max: number;
  /**
   * Sessions an eviction frees beyond the one needed: 1 % of `max` from 1,000
   * on, as documented, so small stores stay exact. It no longer saves time
   * (eviction takes the list's oldest entries, the same cost per entry in a
   * batch or alone), only makes a full store hold a little less than `max`.
   */
  readonly #evictionBatch: number;
  /** Lookup only: its order is never used, so a use never deletes and re-inserts a key. */
  readonly #entries = new Map<string, Entry>();
  /**
   * Ends of a doubly linked list of the entries by last use. Moving an entry to
   * the recent end is a few pointer writes, cheaper than re-inserting its key in
   * the Map (which also leaves a hole every iteration walks past), and eviction
   * takes the oldest entries without scanning anything.
   */
  #oldest: Entry | undefined;
  #newest: Entry | undefined;
  #timer: NodeJS.Timeout | undefined;
  /** Each user's indexed sessions by id; an entry leaves with its session, so the index is as bounded as the store. */
  readonly #users = new Map<string, Map<string, IndexedSession>>();

  constructor(options: MemoryStoreOptions = {}) {
    this.#max = readMax(options.max);
    this.#evictionBatch = this.#max >= 1000 ? Math.floor(this.#max / 100) : 0;
    const sweepInterval = readSweepInterval(options.sweepInterval);
    if (sweepInterval > 0) {
      this.#timer = setInterval(() => this.#sweep(), sweepInterval);
      // A development store must never be the reason a process refuses to exit.
      this.#timer.unref();
    }
  }

  /** Always: `load` answers with a plain value, so the middleware loads only for requests that use the session. */
  loadsSynchronously(): boolean {
    return true;
  }

  /** Number of sessions held, expired ones not yet swept included. */
  get size(): number {
    return this.#entries.size;
  }

  load(sid: string): string | undefined {
    const entry = this.#live(sid, Date.now());
    if (!entry) return undefined;
    this.#use(entry);
    return entry.json;
  }

  save(sid: string, json: string, ttlMs?: number): void {
    const entry = this.#entries.get(sid);
    const now = Date.now();
    if (entry) this.#rewrite(entry, json, ttlMs, now);
    else this.#add(sid, json, expiryOf(ttlMs, now));
  }

  remove(sid: string): void {
    const entry = this.#entries.get(sid);
    if (entry) this.#drop(entry);
  }

  touch(sid: string, ttlMs?: number): void {
    const now = Date.now();
    const entry = this.#live(sid, now);
    if (entry) this.#rewrite(entry, entry.json, ttlMs, now);
  }

  patch(sid: string, patch: SessionPatch, ttlMs?: number): void {
    // One clock reading for the expiry check and the new expiry: Date.now() is a call into the runtime.
    const now = Date.now();
    const entry = this.#live(sid, now);
    // A session destroyed, regenerated or expired meanwhile stays gone.
    if (!entry) return;
    // Unchanged since the middleware loaded it: the whole new text is the patched text, no parse needed.
    const json = typeof patch.result === 'string' && patch.base === entry.json ? patch.result : applyPatch(entry.json, patch);
    this.#rewrite(entry, json, ttlMs, now);
  }

  indexSession(userId: string, indexed: IndexedSession): void {
    const entry = this.#live(indexed.sid, Date.now());
    // A session removed meanwhile (a revocation racing the request that wrote it) stays out of the index.
    if (!entry) return;
    if (entry.user !== undefined && entry.user !== userId) this.unindexSession(entry.user, entry.sid);
    let sessions = this.#users.get(userId);
    if (sessions === undefined) this.#users.set(userId, (sessions = new Map()));
    const known = sessions.get(indexed.sid);
    sessions.set(indexed.sid, known === undefined ? { ...indexed } : { ...known, lastActiveAt: indexed.lastActiveAt, expiresAt: indexed.expiresAt });
    entry.user = userId;
  }

  unindexSession(userId: string, sid: string): void {
    const sessions = this.#users.get(userId);
    if (sessions === undefined) return;
    sessions.delete(sid);
    if (sessions.size === 0) this.#users.delete(userId);
    const entry = this.#entries.get(sid);
    if (entry?.user === userId) entry.user = undefined;
  }

  listIndexed(userId: string): IndexedSession[] {
    return [...(this.#users.get(userId)?.values() ?? [])];
  }

  /** Stops the sweep and drops every session. */
  close(): void {
    if (this.#timer) clearInterval(this.#timer);
    this.#timer = undefined;
    this.#users.clear();
    this.#entries.clear();
    this.#oldest = undefined;
    this.#newest = undefined;
  }

  /** The entry if it exists and has not expired at `now`; an expired one is deleted on the way. */
  #live(sid: string, now: number): Entry | undefined {
    const entry = this.#entries.get(sid);
    if (!entry) return undefined;
    if (isExpired(entry, now)) {
      this.#drop(entry);
      return undefined;
    }
    return entry;
  }

  /** A new value for an entry that exists: no Map operation, only a move to the recent end. */
  #rewrite(entry: Entry, json: string, ttlMs: number | undefined, now: number): void {
    entry.json = json;
    entry.expiresAt = expiryOf(ttlMs, now);
    this.#use(entry);
  }

  #add(sid: string, json: string, expiresAt: number | undefined): void {
    // Room is made before the new entry is linked in, so the session being saved can never be the one evicted.
    if (this.#entries.size >= this.#max) this.#evict();
    const entry: Entry = { sid, json, expiresAt, older: this.#newest, newer: undefined, user: undefined };
    if (this.#newest) this.#newest.newer = entry;
    else this.#oldest = entry;
    this.#newest = entry;
    this.#entries.set(sid, entry);
  }

  /** Moves `entry` to the recent end of the list. */
  #use(entry: Entry): void {
    const newest = this.#newest;
    if (entry === newest || newest === undefined) return;
    this.#unlink(entry);
    entry.older = newest;
    entry.newer = undefined;
    newest.newer = entry;
    this.#newest = entry;
  }

  #drop(entry: Entry): void {
    this.#entries.delete(entry.sid);
    this.#unlink(entry);
    if (entry.user !== undefined) this.unindexSession(entry.user, entry.sid);
  }

  #unlink(entry: Entry): void {
    if (entry.older) entry.older.newer = entry.newer;
    else this.#oldest = entry.newer;
    if (entry.newer) entry.newer.older = entry.older;
    else this.#newest = entry.older;
  }

  /** Deletes the entries unused for longest, leaving room for one more and `#evictionBatch` besides. */
  #evict(): void {
    const target = this.#max - 1 - this.#evictionBatch;
    while (this.#entries.size > target && this.#oldest) this.#drop(this.#oldest);
  }

  #sweep(): void {
    const now = Date.now();
    // Deleting the entry just visited is safe while iterating a Map.
    for (const entry of this.#entries.values()) {
      if (isExpired(entry, now)) this.#drop(entry);
    }
  }
}

function isExpired(entry: Entry, now: number): boolean {
  return entry.expiresAt !== undefined && entry.expiresAt <= now;
}

function expiryOf(ttlMs: number | undefined, now: number): number | undefined {
  return ttlMs === undefined ? undefined : now + ttlMs;
}

/**
 * Applies a patch to a session's JSON text. Keys are defined, never assigned,
 * so `__proto__` or `constructor` are ordinary keys and no prototype is touched.
 */
function applyPatch(json: string, patch: SessionPatch): string {
  const parsed: unknown = JSON.parse(json);
  // Sessions are objects; anything else cannot take keys, so it is left as it is.
  if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) return json;
  const data = parsed as Record<string, unknown>;
  for (const key of patch.unset) delete data[key];
  for (const key of Object.keys(patch.set)) {
    const value: unknown = JSON.parse(patch.set[key] as string);
    Object.defineProperty(data, key, { value, writable: true, enumerable: true, configurable: true });
  }
  return JSON.stringify(data);
}

function readMax(value: number | undefined): number {
  if (value === undefined) return DEFAULT_MAX;
  if (!Number.isSafeInteger(value) || value < 1) {
    throw new TypeError(`koa-session-store: MemoryStore option max is invalid: ${String(value)}; use a positive integer`);
  }
  return value;
}

function readSweepInterval(value: number | undefined): number {
  if (value === undefined) return DEFAULT_SWEEP_INTERVAL;
  // setInterval clamps anything above 2^31-1 ms to 1 ms, which would sweep constantly.
  if (!Number.isSafeInteger(value) || value < 0 || value > 2_147_483_647) {
    throw new TypeError(
      `koa-session-store: MemoryStore option sweepInterval is invalid: ${String(value)}; use milliseconds between 0 (no sweep) and 2147483647`,
    );
  }
  return value;
}
