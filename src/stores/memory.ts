import type { SessionPatch, SessionStore } from '../store.js';

/** Options of {@link MemoryStore}. */
export interface MemoryStoreOptions {
  /**
   * Most sessions kept at once. Saving one more evicts a session that has not
   * been used (loaded, saved, touched or patched) for the longest time, so
   * memory stays bounded. Eviction is "second chance" LRU: a session loaded
   * since it was last saved is moved to the recent end instead of evicted.
   * From 1,000 on, a full store evicts 1 % of `max` at once.
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

interface Entry {
  /** Exactly the string given to `save` (or the result of the last `patch`). */
  readonly json: string;
  /** Absolute time, in ms since the epoch, after which the entry is gone; `undefined`: never. */
  readonly expiresAt: number | undefined;
  /** Loaded since it was last put at the recent end: spared (and moved there) by the next eviction. */
  used: boolean;
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
  /** How far below `max` an eviction goes: 1 % of `max` from 1,000 on, so small stores stay exact. */
  readonly #evictionBatch: number;
  /**
   * Insertion order is write order; a load only marks its entry as used. An
   * exact LRU would delete and re-insert the key on every load, which costs
   * more than the rest of a load; marking keeps reads to one lookup.
   */
  readonly #entries = new Map<string, Entry>();
  #timer: NodeJS.Timeout | undefined;

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

  /** Number of sessions held, expired ones not yet swept included. */
  get size(): number {
    return this.#entries.size;
  }

  load(sid: string): string | undefined {
    const entry = this.#live(sid);
    if (!entry) return undefined;
    entry.used = true;
    return entry.json;
  }

  save(sid: string, json: string, ttlMs?: number): void {
    this.#put(sid, { json, expiresAt: expiryOf(ttlMs), used: false });
  }

  remove(sid: string): void {
    this.#entries.delete(sid);
  }

  touch(sid: string, ttlMs?: number): void {
    const entry = this.#live(sid);
    if (entry) this.#put(sid, { json: entry.json, expiresAt: expiryOf(ttlMs), used: false });
  }

  patch(sid: string, patch: SessionPatch, ttlMs?: number): void {
    const entry = this.#live(sid);
    // A session destroyed, regenerated or expired meanwhile stays gone.
    if (!entry) return;
    // Unchanged since the middleware loaded it: the whole new text is the patched text, no parse needed.
    const json = typeof patch.result === 'string' && patch.base === entry.json ? patch.result : applyPatch(entry.json, patch);
    this.#put(sid, { json, expiresAt: expiryOf(ttlMs), used: false });
  }

  /** Stops the sweep and drops every session. */
  close(): void {
    if (this.#timer) clearInterval(this.#timer);
    this.#timer = undefined;
    this.#entries.clear();
  }

  /** The entry if it exists and has not expired; an expired one is deleted on the way. */
  #live(sid: string): Entry | undefined {
    const entry = this.#entries.get(sid);
    if (!entry) return undefined;
    if (isExpired(entry, Date.now())) {
      this.#entries.delete(sid);
      return undefined;
    }
    return entry;
  }

  #put(sid: string, entry: Entry): void {
    // Deleting first moves the key to the end of the Map: most recently used.
    this.#entries.delete(sid);
    this.#entries.set(sid, entry);
    if (this.#entries.size > this.#max) this.#evict();
  }

  /**
   * Deletes the oldest entries not loaded since they were put (loaded ones move
   * to the recent end instead) until the store is below its bound by
   * `#evictionBatch`. V8 leaves a deleted Map entry as a hole that every new
   * iterator walks past until the table is rebuilt, so evicting one entry per
   * save would cost a walk over thousands of holes each time; evicting 1 % at
   * once costs one walk per hundred saves.
   */
  #evict(): void {
    const target = this.#max - this.#evictionBatch;
    for (const [sid, entry] of this.#entries) {
      if (this.#entries.size <= target) return;
      this.#entries.delete(sid);
      if (entry.used) {
        entry.used = false;
        this.#entries.set(sid, entry);
      }
    }
  }

  #sweep(): void {
    const now = Date.now();
    for (const [sid, entry] of this.#entries) {
      if (isExpired(entry, now)) this.#entries.delete(sid);
    }
  }
}

function isExpired(entry: Entry, now: number): boolean {
  return entry.expiresAt !== undefined && entry.expiresAt <= now;
}

function expiryOf(ttlMs: number | undefined): number | undefined {
  return ttlMs === undefined ? undefined : Date.now() + ttlMs;
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
