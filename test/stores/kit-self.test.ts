// The kit's own test: each store below breaks one rule of the contract, and
// the kit, run on it in a child process, must fail exactly the cases about
// that rule. This proves the kit's cases can fail, and fail for the right reason.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, it } from 'node:test';
import { setTimeout as sleep, setImmediate as tick } from 'node:timers/promises';
import type { SessionPatch, SessionStore } from '../../src/store.js';
import { runStoreConformance } from '../../src/testing.js';

interface Row {
  json: string;
  expiresAt: number | null;
}

/** A correct store, asynchronous like a real one; each broken store overrides one thing. */
class GoodStore implements SessionStore {
  protected readonly rows = new Map<string, Row>();

  async load(sid: string): Promise<string | null> {
    await tick();
    return this.live(sid)?.json ?? null;
  }

  async save(sid: string, json: string, ttlMs?: number): Promise<void> {
    await tick();
    this.rows.set(sid, { json, expiresAt: expiryOf(ttlMs) });
  }

  async remove(sid: string): Promise<void> {
    await tick();
    this.rows.delete(sid);
  }

  async touch(sid: string, ttlMs?: number): Promise<void> {
    await tick();
    const row = this.live(sid);
    if (row) row.expiresAt = expiryOf(ttlMs);
  }

  async patch(sid: string, patch: SessionPatch, ttlMs?: number): Promise<void> {
    await tick();
    const row = this.live(sid);
    if (!row) return;
    row.json = this.apply(row.json, patch);
    row.expiresAt = expiryOf(ttlMs);
  }

  protected apply(json: string, patch: SessionPatch): string {
    const data = JSON.parse(json) as Record<string, unknown>;
    for (const key of patch.unset) delete data[key];
    for (const [key, value] of Object.entries(patch.set)) {
      Object.defineProperty(data, key, { value: JSON.parse(value), enumerable: true, writable: true, configurable: true });
    }
    return JSON.stringify(data);
  }

  protected live(sid: string): Row | undefined {
    const row = this.rows.get(sid);
    if (row && row.expiresAt !== null && row.expiresAt <= Date.now()) {
      this.rows.delete(sid);
      return undefined;
    }
    return row;
  }
}

function expiryOf(ttlMs: number | undefined): number | null {
  return ttlMs === undefined ? null : Date.now() + ttlMs;
}

/** A correct store whose load answers with plain values, and says so; no touch or patch. */
class SynchronousStore implements SessionStore {
  readonly #rows = new Map<string, Row>();
  loadsSynchronously(): boolean {
    return true;
  }
  load(sid: string): string | null {
    const row = this.#rows.get(sid);
    if (row === undefined) return null;
    if (row.expiresAt !== null && row.expiresAt <= Date.now()) {
      this.#rows.delete(sid);
      return null;
    }
    return row.json;
  }
  save(sid: string, json: string, ttlMs?: number): void {
    this.#rows.set(sid, { json, expiresAt: expiryOf(ttlMs) });
  }
  remove(sid: string): void {
    this.#rows.delete(sid);
  }
}

/** A store without touch and patch: only the contract's required cases apply. */
class MinimalStore implements SessionStore {
  readonly #inner = new GoodStore();
  load(sid: string): Promise<string | null> {
    return this.#inner.load(sid);
  }
  save(sid: string, json: string, ttlMs?: number): Promise<void> {
    return this.#inner.save(sid, json, ttlMs);
  }
  remove(sid: string): Promise<void> {
    return this.#inner.remove(sid);
  }
}

const ROUND_TRIP_UNICODE = 'returns exactly the saved string for Unicode text';
const ROUND_TRIP_1MB = 'returns exactly the saved string for a value of about 1 MB';
const ROUND_TRIP_NUMBERS = 'returns exactly the saved string for numbers such as 1e21, -0 and 0.1';
const MISSING_LOAD = 'resolves load of a missing id to null or undefined';
const REMOVE = 'deletes the entry on remove';
const REMOVE_MISSING = 'does not throw on remove of a missing id';
const EXPIRY = 'expires an entry saved with a ttl after it, while one saved without a ttl stays';
const CONCURRENT_SAVES = 'lands all of 100 concurrent saves to different ids';
const LONG_IDS = 'works with 128-character ids made of A-Z, a-z, 0-9, _ and -';
const TOUCH_EXTENDS = 'extends the life of an entry on touch, until the new ttl has passed';
const TOUCH_MISSING = 'does not create an entry on touch of a missing id';
const PATCH_APPLIES = 'applies set and unset on patch and keeps untouched keys exactly';
const PATCH_VALUES = 'round-trips set values that are objects, arrays, strings with quotes, escapes and Unicode, null and large numbers';
const PATCH_KEYS = 'treats keys with dots, quotes, spaces, $, Unicode and __proto__ as ordinary keys on patch';
const PATCH_MISSING = 'does not create an entry on patch of a missing id';
const PATCH_EXPIRED = 'does not resurrect an expired entry on patch';
const PATCH_REMOVED = 'does not resurrect a removed entry on patch';
const PATCH_TTL = 'resets the ttl of the entry on patch';
const PATCH_50 = 'keeps all 50 keys when 50 concurrent patches each set their own key on one session';
const PATCH_UNSET_SET = 'keeps both effects of a concurrent unset of one key and set of another';
const PATCH_EMPTY = 'leaves the data intact on an empty patch';
const PATCH_50_RESULTS = 'keeps all 50 keys when 50 concurrent patches carry the same base and each its own whole result';
const PATCH_STALE_BASE = 'applies the keys of a patch whose base no longer matches the entry, ignoring its result';
const ROUND_TRIP_UNUSUAL_KEYS = 'returns exactly the saved string for keys and values with lone surrogates, U+0000 and U+FFFF';
const PATCH_KEEPS_UNUSUAL_KEYS = 'keeps every key with lone surrogates, U+0000 and U+FFFF, apart and with its value, when another key is patched';
const PATCH_UNUSUAL_KEYS = 'sets, overwrites and unsets keys with lone surrogates, U+0000 and U+FFFF on patch';
const SYNCHRONOUS_LOAD = 'answers load with a plain value, for a saved and a missing id, whenever loadsSynchronously() says true';
const PATCH_UNSET_EXACT = 'unsets only the exact key named: one with a lone surrogate or U+0000 never removes U+FFFD, ? or a shorter key';

/** What UTF-8 text does to a lone surrogate: it becomes U+FFFD, so keys that differed only there become one. */
function wellFormed(text: string): string {
  return text.replace(/[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/g, '\ufffd');
}

interface Case {
  readonly create: () => SessionStore;
  /** The kit cases that must fail on this store, and no others. */
  readonly fails: readonly string[];
}

const cases: Record<string, Case> = {
  'a correct store': { create: () => new GoodStore(), fails: [] },
  'a correct store without touch and patch': { create: () => new MinimalStore(), fails: [] },
  'a correct store that loads synchronously and says so': { create: () => new SynchronousStore(), fails: [] },
  'a store that says it loads synchronously and answers load with a promise': {
    create: () =>
      new (class extends GoodStore {
        loadsSynchronously(): boolean {
          return true;
        }
      })(),
    fails: [SYNCHRONOUS_LOAD],
  },
  'a store that re-encodes JSON on save': {
    create: () =>
      new (class extends GoodStore {
        override save(sid: string, json: string, ttlMs?: number): Promise<void> {
          return super.save(sid, JSON.stringify(JSON.parse(json)), ttlMs);
        }
      })(),
    fails: [ROUND_TRIP_UNICODE, ROUND_TRIP_NUMBERS, ROUND_TRIP_UNUSUAL_KEYS],
  },
  'a store that truncates large values': {
    create: () =>
      new (class extends GoodStore {
        override save(sid: string, json: string, ttlMs?: number): Promise<void> {
          return super.save(sid, json.slice(0, 512 * 1024), ttlMs);
        }
      })(),
    fails: [ROUND_TRIP_1MB],
  },
  'a store that loads {} for a missing id': {
    create: () =>
      new (class extends GoodStore {
        override async load(sid: string): Promise<string> {
          return (await super.load(sid)) ?? '{}';
        }
      })(),
    fails: [MISSING_LOAD, REMOVE, EXPIRY, LONG_IDS, TOUCH_EXTENDS, TOUCH_MISSING, PATCH_MISSING, PATCH_EXPIRED, PATCH_REMOVED, PATCH_TTL],
  },
  'a store whose remove clears everything': {
    create: () =>
      new (class extends GoodStore {
        override async remove(): Promise<void> {
          this.rows.clear();
        }
      })(),
    fails: [REMOVE],
  },
  'a store whose remove throws on a missing id': {
    create: () =>
      new (class extends GoodStore {
        override async remove(sid: string): Promise<void> {
          if (!this.rows.has(sid)) throw new Error('no such session');
          return super.remove(sid);
        }
      })(),
    // The expiry case removes its entries after they expired.
    fails: [REMOVE_MISSING, EXPIRY],
  },
  'a store that ignores the ttl': {
    create: () =>
      new (class extends GoodStore {
        override save(sid: string, json: string): Promise<void> {
          return super.save(sid, json);
        }
      })(),
    fails: [EXPIRY, PATCH_EXPIRED],
  },
  'a store that keeps only the last of concurrent saves': {
    create: () =>
      new (class extends GoodStore {
        #pending: [string, string, number | undefined] | undefined;
        override async save(sid: string, json: string, ttlMs?: number): Promise<void> {
          this.#pending = [sid, json, ttlMs];
          await tick();
          if (this.#pending) await super.save(...this.#pending);
          this.#pending = undefined;
        }
      })(),
    // More cases save several entries at once.
    fails: [CONCURRENT_SAVES, EXPIRY, PATCH_KEYS, PATCH_UNSET_SET, PATCH_KEEPS_UNUSUAL_KEYS, PATCH_UNUSUAL_KEYS],
  },
  'a store that rejects ids longer than 100 characters': {
    create: () =>
      new (class extends GoodStore {
        override save(sid: string, json: string, ttlMs?: number): Promise<void> {
          if (sid.length > 100) return Promise.reject(new Error('id too long'));
          return super.save(sid, json, ttlMs);
        }
      })(),
    fails: [LONG_IDS],
  },
  'a store slower than shortTtlMs that loses entries saved with a short ttl at once': {
    create: () =>
      new (class extends GoodStore {
        override async save(sid: string, json: string, ttlMs?: number): Promise<void> {
          if (ttlMs === undefined || ttlMs >= 1000) return super.save(sid, json, ttlMs);
          // Too slow for the kit to see the entry before its ttl, which hides that it is never there.
          await sleep(ttlMs + 50);
          this.rows.delete(sid);
        }
      })(),
    // Each ttl case fails saying the store was too slow to check, rather than passing unchecked.
    fails: [EXPIRY, TOUCH_EXTENDS, PATCH_TTL],
  },
  'a store whose touch creates missing entries': {
    create: () =>
      new (class extends GoodStore {
        override async touch(sid: string, ttlMs?: number): Promise<void> {
          if (!this.live(sid)) this.rows.set(sid, { json: '{}', expiresAt: expiryOf(ttlMs) });
          return super.touch(sid, ttlMs);
        }
      })(),
    fails: [TOUCH_MISSING],
  },
  'a store whose touch does nothing': {
    create: () =>
      new (class extends GoodStore {
        override async touch(): Promise<void> {}
      })(),
    fails: [TOUCH_EXTENDS],
  },
  'a store that patches by read-modify-write': {
    create: () =>
      new (class extends GoodStore {
        override async patch(sid: string, patch: SessionPatch, ttlMs?: number): Promise<void> {
          const json = await this.load(sid);
          if (json === null) return;
          await this.save(sid, this.apply(json, patch), ttlMs);
        }
      })(),
    fails: [PATCH_50, PATCH_UNSET_SET, PATCH_50_RESULTS],
  },
  'a store whose patch resurrects missing entries': {
    create: () =>
      new (class extends GoodStore {
        override async patch(sid: string, patch: SessionPatch, ttlMs?: number): Promise<void> {
          if (!this.live(sid)) this.rows.set(sid, { json: '{}', expiresAt: null });
          return super.patch(sid, patch, ttlMs);
        }
      })(),
    fails: [PATCH_MISSING, PATCH_EXPIRED, PATCH_REMOVED],
  },
  'a store whose patch assigns keys': {
    create: () =>
      new (class extends GoodStore {
        protected override apply(json: string, patch: SessionPatch): string {
          const data = JSON.parse(json) as Record<string, unknown>;
          for (const key of patch.unset) delete data[key];
          for (const [key, value] of Object.entries(patch.set)) data[key] = JSON.parse(value);
          return JSON.stringify(data);
        }
      })(),
    fails: [PATCH_KEYS],
  },
  'a store whose patch keeps the old ttl': {
    create: () =>
      new (class extends GoodStore {
        override async patch(sid: string, patch: SessionPatch): Promise<void> {
          const row = this.live(sid);
          if (row) row.json = this.apply(row.json, patch);
        }
      })(),
    fails: [PATCH_TTL],
  },
  'a store whose patch rounds numbers to 14 digits and turns [] into {}, as Lua cjson does': {
    create: () =>
      new (class extends GoodStore {
        protected override apply(json: string, patch: SessionPatch): string {
          const lossy = (_key: string, value: unknown): unknown => {
            if (typeof value === 'number') return Number(value.toPrecision(14));
            if (Array.isArray(value) && value.length === 0) return {};
            return value;
          };
          const data = JSON.parse(json, lossy) as Record<string, unknown>;
          for (const key of patch.unset) delete data[key];
          for (const [key, value] of Object.entries(patch.set)) {
            Object.defineProperty(data, key, { value: JSON.parse(value, lossy), enumerable: true, writable: true, configurable: true });
          }
          return JSON.stringify(data);
        }
      })(),
    fails: [PATCH_APPLIES, PATCH_VALUES, PATCH_EMPTY],
  },
  'a store whose patch replaces the whole object': {
    create: () =>
      new (class extends GoodStore {
        protected override apply(_json: string, patch: SessionPatch): string {
          return super.apply('{}', patch);
        }
      })(),
    fails: [
      PATCH_APPLIES,
      PATCH_VALUES,
      PATCH_KEYS,
      PATCH_50,
      PATCH_UNSET_SET,
      PATCH_EMPTY,
      LONG_IDS,
      PATCH_TTL,
      PATCH_50_RESULTS,
      PATCH_STALE_BASE,
      PATCH_KEEPS_UNUSUAL_KEYS,
      PATCH_UNUSUAL_KEYS,
      PATCH_UNSET_EXACT,
    ],
  },
  'a store whose patch writes keys back as UTF-8 text, turning lone surrogates into U+FFFD (as SQLite did)': {
    create: () =>
      new (class extends GoodStore {
        protected override apply(json: string, patch: SessionPatch): string {
          const data = JSON.parse(super.apply(json, { set: patch.set, unset: patch.unset.map(wellFormed) })) as Record<string, unknown>;
          return `{${Object.keys(data).map((key) => `${JSON.stringify(wellFormed(key))}:${JSON.stringify(data[key])}`).join(',')}}`;
        }
      })(),
    fails: [PATCH_KEEPS_UNUSUAL_KEYS, PATCH_UNUSUAL_KEYS, PATCH_UNSET_EXACT],
  },
  'a store whose patch sends the keys to unset as UTF-8 text, turning lone surrogates into U+FFFD (as PostgreSQL did)': {
    create: () =>
      new (class extends GoodStore {
        protected override apply(json: string, patch: SessionPatch): string {
          return super.apply(json, { set: patch.set, unset: patch.unset.map(wellFormed) });
        }
      })(),
    fails: [PATCH_UNUSUAL_KEYS, PATCH_UNSET_EXACT],
  },
  "a store that writes a patch's whole result without comparing its base": {
    create: () =>
      new (class extends GoodStore {
        protected override apply(json: string, patch: SessionPatch): string {
          return patch.result ?? super.apply(json, patch);
        }
      })(),
    fails: [PATCH_50_RESULTS, PATCH_STALE_BASE],
  },
  'a correct store that writes the whole result when the base matches': {
    create: () =>
      new (class extends GoodStore {
        protected override apply(json: string, patch: SessionPatch): string {
          return patch.result !== undefined && patch.base === json ? patch.result : super.apply(json, patch);
        }
      })(),
    fails: [],
  },
};

const CHILD_ENV = 'KOA_SESSION_STORE_KIT_SELF_CASE';
const childCase = process.env[CHILD_ENV];

if (childCase !== undefined) {
  const selected = cases[childCase];
  if (!selected) throw new Error(`koa-session-store: unknown kit self-test case ${childCase}`);
  runStoreConformance(childCase, { create: selected.create });
} else {
  describe('the conformance kit', () => {
    const file = fileURLToPath(import.meta.url);
    // A few children at a time: the ttl cases must not starve for CPU on a small machine.
    const results = runLimited(Object.keys(cases), 4, (name) => runKit(file, name));
    for (const [name, { fails }] of Object.entries(cases)) {
      const wanted = [...fails].sort();
      it(wanted.length === 0 ? `passes ${name}` : `fails ${name} on exactly the cases about it`, async () => {
        const outcome = await results.get(name);
        assert.ok(outcome, `no run for ${name}`);
        assert.ok(outcome.passed.length + outcome.failed.length > 0, `the kit ran no case on ${name}:\n${outcome.output}`);
        assert.deepEqual(outcome.failed.sort(), wanted);
      });
    }
  });
}

interface Outcome {
  passed: string[];
  failed: string[];
  output: string;
}

/** Runs the kit on one case in a child process and reads which of its cases passed and failed. */
function runKit(file: string, name: string): Promise<Outcome> {
  return new Promise((resolve, reject) => {
    const env: NodeJS.ProcessEnv = { ...process.env, [CHILD_ENV]: name };
    // Without this the child would talk to our test runner's protocol instead of printing TAP.
    delete env.NODE_TEST_CONTEXT;
    const child = spawn(process.execPath, ['--import', 'tsx', '--test-reporter=tap', file], { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => (output += chunk));
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => (output += chunk));
    child.once('error', reject);
    child.once('close', () => {
      const passed: string[] = [];
      const failed: string[] = [];
      // The kit's cases are nested one level inside the suite, so their lines are indented.
      for (const match of output.matchAll(/^ {4}(not ok|ok) \d+ - (.*)$/gm)) {
        (match[1] === 'ok' ? passed : failed).push(match[2] as string);
      }
      resolve({ passed, failed, output });
    });
  });
}

/** Starts `run` for every item, at most `limit` at once. */
function runLimited<T>(items: readonly string[], limit: number, run: (item: string) => Promise<T>): Map<string, Promise<T>> {
  const results = new Map<string, Promise<T>>();
  let active = 0;
  const queue: Array<() => void> = [];
  const release = (): void => {
    active -= 1;
    queue.shift()?.();
  };
  for (const item of items) {
    results.set(
      item,
      new Promise<void>((start) => {
        if (active < limit) start();
        else queue.push(start);
      }).then(() => {
        active += 1;
        return run(item).finally(release);
      }),
    );
  }
  return results;
}
