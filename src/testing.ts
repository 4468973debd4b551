/**
 * The store conformance kit: the store contract's test cases on node's test
 * runner, for the stores this package ships and for third-party adapters.
 *
 * ```ts
 * import { runStoreConformance } from 'koa-session-store/testing';
 * runStoreConformance('MongoStore', { create: () => new MongoStore({ … }), destroy: (s) => s.close() });
 * ```
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, describe, it as nodeIt } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { isDeepStrictEqual } from 'node:util';
import { assertStore, settle } from './store.js';
import type { SessionPatch, SessionStore } from './store.js';

/** Options of {@link runStoreConformance}; `S` is your store's own class, so `destroy` can call its `close()`. */
export interface StoreConformanceOptions<S extends SessionStore = SessionStore> {
  /** Makes the store under test; called once before the cases. */
  create: () => S | Promise<S>;
  /** Tears the store down after the cases (close connections, drop tables). */
  destroy?: (store: S) => unknown;
  /**
   * Time to live, in ms, used by the expiry cases; must be one the store honours precisely.
   * @default 150
   */
  shortTtlMs?: number;
  /**
   * Skips the whole suite, `create` included, when truthy; a string says why
   * (for example "Redis is not reachable"). Never skip in CI.
   * @default false
   */
  skip?: boolean | string;
}

const DEFAULT_SHORT_TTL = 150;
/** A store that never answers fails its case after this long instead of stalling the run. */
const CASE_TIMEOUT = 60_000;
/** Attempts of a ttl case before concluding the store answers too slowly for `shortTtlMs`. */
const TTL_ATTEMPTS = 3;

/**
 * Registers a `describe(name)` block that checks `create()`'s store against the
 * store contract: load/save/remove, exact round trips of tricky JSON, ttl
 * expiry, and `touch` and `patch` when the store has them. Every method is
 * called through the same normalization as the middleware uses, so stores
 * written with promises, generators, thunks or plain values are all tested.
 *
 * Each case uses its own random session ids, so a store shared with other
 * tests is fine. The ttl cases wait for real, a few times `shortTtlMs`.
 */
export function runStoreConformance<S extends SessionStore>(name: string, options: StoreConformanceOptions<S>): void {
  const shortTtl = options.shortTtlMs ?? DEFAULT_SHORT_TTL;
  if (!Number.isSafeInteger(shortTtl) || shortTtl < 1) {
    throw new TypeError(`koa-session-store: runStoreConformance option shortTtlMs is invalid: ${String(shortTtl)}; use a positive integer of ms`);
  }
  if (typeof options.create !== 'function') {
    throw new TypeError('koa-session-store: runStoreConformance needs option create, a function that returns the store to test');
  }
  const skip = options.skip ?? false;
  if (skip) {
    describe(name, { skip }, () => {});
    return;
  }
  // The suite is registered once the store exists: which cases apply depends on whether it has touch and patch.
  describe(name, async () => {
    const store = await options.create();
    after(async () => {
      await options.destroy?.(store);
    });
    defineContractCases(store, shortTtl);
    if (typeof store.touch === 'function') defineTouchCases(store, shortTtl);
    if (typeof store.patch === 'function') definePatchCases(store, shortTtl);
    if (typeof store.loadsSynchronously === 'function') defineSynchronousLoadCases(store);
  });
}

/** For a store with `loadsSynchronously`: while it says true, `load` answers with plain values. */
function defineSynchronousLoadCases(store: SessionStore): void {
  it('answers load with a plain value, for a saved and a missing id, whenever loadsSynchronously() says true', async () => {
    const sid = newSid();
    await settle(store.save(sid, '{"a":1}'));
    for (const id of [sid, newSid()]) {
      if (store.loadsSynchronously?.() !== true) continue;
      const loaded: unknown = store.load(id);
      const plain = loaded === null || loaded === undefined || typeof loaded === 'string';
      assert.ok(plain, `loadsSynchronously() said true, but load answered with ${typeof loaded === 'object' ? 'an object (a promise?)' : `a ${typeof loaded}`}`);
    }
    assert.equal(await settle(store.load(sid)), '{"a":1}');
    await settle(store.remove(sid));
  });
}

/** A wait that is long enough past a ttl for any store that honours it precisely. */
function marginFor(shortTtl: number): number {
  return Math.max(100, Math.round(shortTtl / 2));
}

/** Sleeps until the absolute time `at` (ms since the epoch). */
async function sleepUntil(at: number): Promise<void> {
  const delay = at - Date.now();
  if (delay > 0) await sleep(delay);
}

function newSid(): string {
  return `kit-${randomUUID()}`;
}

/** A null-prototype `set`, so a `__proto__` entry is an ordinary key, as the middleware builds it. */
function setOf(entries: ReadonlyArray<readonly [string, unknown]>): Record<string, string> {
  const set = Object.create(null) as Record<string, string>;
  for (const [key, value] of entries) set[key] = JSON.stringify(value);
  return set;
}

function patchOf(entries: ReadonlyArray<readonly [string, unknown]>, unset: readonly string[] = []): SessionPatch {
  return { set: setOf(entries), unset };
}

/** JSON text of an object with these entries, built as text so that `__proto__` is an ordinary key. */
function objectJson(entries: ReadonlyArray<readonly [string, unknown]>): string {
  return `{${entries.map(([key, value]) => `${JSON.stringify(key)}:${JSON.stringify(value)}`).join(',')}}`;
}

/**
 * Keys a JavaScript string can be that a store which decodes JSON (into UTF-8,
 * into C strings, into a JSON engine) can merge, rename or drop: lone and
 * reversed surrogates, U+0000, noncharacters, and keys whose JSON spellings
 * differ only in an escape. `__proto__` is covered by its own cases.
 */
const UNUSUAL_KEYS: readonly string[] = [
  '\ud800',
  '\ud801',
  '\udbff',
  '\udc00',
  '\udfff',
  '\udc00\ud800',
  '\ud83d\ude00',
  'x\ud800y',
  '\ud800\ud800',
  '\ufffd',
  '\uffff',
  '\ufffe',
  '\u0000',
  'k\u0000',
  'k',
  '\u0000\u0000',
  '\u001f',
  '\u007f',
  '\u2028',
  '\\ud800',
  '\\u0000',
  '\\u00e9',
  '\u00e9',
  'e\u0301',
  '"',
  '\\',
  '/',
];

/** Values holding lone surrogates and U+0000, one per unusual key. */
function unusualEntries(tag: string): Array<readonly [string, unknown]> {
  return UNUSUAL_KEYS.map((key, i) => [key, i % 3 === 0 ? `${tag} ${i} \ud800` : i % 3 === 1 ? { [key]: `${tag} \udfff\ud800 ${i}`, nul: '\u0000' } : [`${tag} ${i}`, '\udbff']] as const);
}

/**
 * Runs a ttl case whose timing can be spoiled by a slow answer. `attempt`
 * returns false when the store answered too late for the case to prove
 * anything; it is then run again, with fresh ids, a few times.
 */
async function withTimingRetries(shortTtl: number, attempt: () => Promise<boolean>): Promise<void> {
  for (let i = 0; i < TTL_ATTEMPTS; i += 1) {
    if (await attempt()) return;
  }
  assert.fail(
    `koa-session-store: the store answered slower than shortTtlMs (${shortTtl} ms) ${TTL_ATTEMPTS} times in a row, so the ttl could not be checked; pass a larger shortTtlMs to runStoreConformance`,
  );
}

/** One case, with a timeout so a store that never answers fails by name. */
function it(name: string, fn: () => void | Promise<void>): void {
  nodeIt(name, { timeout: CASE_TIMEOUT }, fn);
}

function defineContractCases(store: SessionStore, shortTtl: number): void {
  const margin = marginFor(shortTtl);
  const load = (sid: string): Promise<string | null | undefined> => settle(store.load(sid));
  const save = (sid: string, json: string, ttlMs?: number): Promise<unknown> => settle(store.save(sid, json, ttlMs));
  const remove = (sid: string): Promise<unknown> => settle(store.remove(sid));

  async function assertRoundTrip(json: string): Promise<void> {
    const sid = newSid();
    await save(sid, json);
    const loaded = await load(sid);
    assert.equal(typeof loaded, 'string', 'load must resolve to the saved string');
    // Not assert.equal: on a mismatch it would print up to a megabyte twice.
    if (loaded !== json) {
      const at = firstDifference(json, loaded as string);
      assert.fail(
        `the loaded string differs from the saved one (saved ${json.length} chars, loaded ${(loaded as string).length}; first difference at index ${at}: saved ${JSON.stringify(json.slice(at, at + 40))}, loaded ${JSON.stringify((loaded as string).slice(at, at + 40))})`,
      );
    }
    await remove(sid);
  }

  it('has load, save and remove methods, and touch and patch are functions when present', () => {
    assertStore(store);
  });

  it('resolves load of a missing id to null or undefined', async () => {
    const loaded = await load(newSid());
    assert.ok(loaded === null || loaded === undefined, `load of a missing id resolved to ${typeof loaded}`);
  });

  it('returns exactly the saved string for Unicode text', async () => {
    await assertRoundTrip(
      JSON.stringify({
        emoji: '😀👍🏽👨‍👩‍👧‍👦🏳️‍🌈',
        cjk: '漢字かなカナ한국어',
        rtl: 'مرحبا بالعالم שלום',
        combining: 'e\u0301 n\u0303',
        separators: 'line\u2028paragraph\u2029end',
        loneSurrogates: '\ud800 \udfff \udbff',
        controls: '\u0000\u0001\u001f\u007f\t\n\r\b\f',
        quotes: 'single \' double " backslash \\ slash /',
        bom: '\ufeff',
        'ключ 🔑': 'key in Cyrillic',
      }),
    );
    // Hand-written JSON with escapes and spacing: a store keeps the text as it is, not a re-encoding of it.
    await assertRoundTrip('{ "esc": "\\u00e9\\u2028\\ud83d\\ude00\\/", "raw": "é", "n" : [ 1 , 2 ] }');
  });

  it('returns exactly the saved string for keys and values with lone surrogates, U+0000 and U+FFFF', async () => {
    const json = objectJson(unusualEntries('saved'));
    assert.equal(Object.keys(JSON.parse(json) as object).length, UNUSUAL_KEYS.length, 'the test keys must all be different');
    await assertRoundTrip(json);
    // As a client may write them: escapes where JSON.stringify writes characters, and the other way round.
    await assertRoundTrip('{"\\u0041":1,"\\ud800":2,"\\uDC01":3,"\\u00e9":4,"\\/":5,"\\u0000":6,"\\uffff":[7]}');
  });

  it('returns exactly the saved string for a value of about 1 MB', async () => {
    const chunk = 'abcdefghijklmnopqrstuvwxyz0123456789 "quoted" \\ é漢😀\n';
    const blob = chunk.repeat(Math.ceil((1024 * 1024) / chunk.length));
    await assertRoundTrip(JSON.stringify({ blob, after: 'end' }));
  });

  it('returns exactly the saved string for deeply nested objects and arrays', async () => {
    let value: unknown = { leaf: true, empty: {}, none: [] };
    for (let depth = 0; depth < 200; depth += 1) value = depth % 2 === 0 ? [value, depth] : { depth, child: value };
    await assertRoundTrip(JSON.stringify({ value }));
  });

  it('returns exactly the saved string for __proto__, constructor and prototype keys and pollutes no prototype', async () => {
    const json = objectJson([
      ['__proto__', { polluted: 'yes' }],
      ['constructor', { prototype: { polluted: 'yes' } }],
      ['prototype', { polluted: 'yes' }],
      ['nested', JSON.parse(objectJson([['__proto__', { polluted: 'yes' }]]))],
    ]);
    assert.ok(json.startsWith('{"__proto__":'), 'the test data itself must carry a __proto__ key');
    await assertRoundTrip(json);
    assert.equal(({} as { polluted?: unknown }).polluted, undefined);
    assert.equal(Object.prototype.hasOwnProperty.call(Object.prototype, 'polluted'), false);
  });

  it('returns exactly the saved string for numbers such as 1e21, -0 and 0.1', async () => {
    await assertRoundTrip(
      JSON.stringify({
        big: 1e21,
        negativeZero: -0,
        tenth: 0.1,
        sum: 0.1 + 0.2,
        maxSafe: Number.MAX_SAFE_INTEGER,
        unsafe: 2 ** 64,
        tiny: 5e-324,
        huge: Number.MAX_VALUE,
        negative: -273.15,
      }),
    );
    // Text a JSON.stringify would not write: a text store keeps it, a re-encoding store would not.
    await assertRoundTrip('{"big":1e21,"z":-0,"t":0.10,"e":1E-7,"n":-0.0,"i":12345678901234567890123}');
  });

  it('overwrites the previous value on save', async () => {
    const sid = newSid();
    await save(sid, '{"version":1,"extra":"dropped"}');
    await save(sid, '{"version":2}');
    assert.equal(await load(sid), '{"version":2}');
    await remove(sid);
  });

  it('deletes the entry on remove', async () => {
    const sid = newSid();
    const other = newSid();
    await save(sid, '{"a":1}');
    await save(other, '{"b":2}');
    await remove(sid);
    assert.equal(await load(sid) ?? null, null);
    assert.equal(await load(other), '{"b":2}', 'remove must delete only its own entry');
    await remove(other);
  });

  it('does not throw on remove of a missing id', async () => {
    await remove(newSid());
  });

  it('expires an entry saved with a ttl after it, while one saved without a ttl stays', async () => {
    const json = '{"expires":true}';
    await withTimingRetries(shortTtl, async () => {
      const withTtl = newSid();
      const withoutTtl = newSid();
      const started = Date.now();
      await Promise.all([save(withTtl, json, shortTtl), save(withoutTtl, json)]);
      const loaded = await load(withTtl);
      // Only an answer that came back within the ttl proves the entry was there at all; a later one proves
      // nothing, so the attempt is retried instead of letting a store that never kept the entry pass.
      if (Date.now() - started >= shortTtl) {
        await remove(withoutTtl);
        return false;
      }
      assert.equal(loaded, json, 'the entry must be there before its ttl');
      const saved = Date.now();
      await sleepUntil(saved + shortTtl + margin);
      assert.equal(await load(withTtl) ?? null, null, `the entry must be gone ${shortTtl + margin} ms after a save with ttl ${shortTtl} ms`);
      assert.equal(await load(withoutTtl), json, 'an entry saved without a ttl must not expire');
      await Promise.all([remove(withTtl), remove(withoutTtl)]);
      return true;
    });
  });

  it('lands all of 100 concurrent saves to different ids', async () => {
    const sids = Array.from({ length: 100 }, () => newSid());
    await Promise.all(sids.map((sid, i) => save(sid, JSON.stringify({ i, sid }))));
    const loaded = await Promise.all(sids.map((sid) => load(sid)));
    loaded.forEach((json, i) => assert.equal(json, JSON.stringify({ i, sid: sids[i] }), `save number ${i} was lost`));
    await Promise.all(sids.map((sid) => remove(sid)));
  });

  it('works with 128-character ids made of A-Z, a-z, 0-9, _ and -', async () => {
    const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-';
    const random = randomUUID().replace(/-/g, '') + randomUUID().replace(/-/g, '');
    const sid = alphabet + random;
    assert.equal(sid.length, 128);
    await save(sid, '{"long":"id"}', 60_000);
    assert.equal(await load(sid), '{"long":"id"}');
    if (typeof store.touch === 'function') {
      await settle(store.touch(sid, 60_000));
      assert.equal(await load(sid), '{"long":"id"}');
    }
    if (typeof store.patch === 'function') {
      await settle(store.patch(sid, patchOf([['more', 1]]), 60_000));
      assert.deepEqual(JSON.parse((await load(sid)) as string), { long: 'id', more: 1 });
    }
    await remove(sid);
    assert.equal(await load(sid) ?? null, null);
  });
}

function defineTouchCases(store: SessionStore, shortTtl: number): void {
  const margin = marginFor(shortTtl);
  const touch = (sid: string, ttlMs?: number): Promise<unknown> => settle(store.touch?.(sid, ttlMs));
  const load = (sid: string): Promise<string | null | undefined> => settle(store.load(sid));

  it('extends the life of an entry on touch, until the new ttl has passed', async () => {
    const longTtl = shortTtl * 4;
    const json = '{"touched":"yes"}';
    await withTimingRetries(shortTtl, async () => {
      const sid = newSid();
      const started = Date.now();
      await settle(store.save(sid, json, shortTtl));
      await touch(sid, longTtl);
      const touched = Date.now();
      if (touched - started >= shortTtl) return false;
      await sleepUntil(started + shortTtl + margin);
      const during = await load(sid);
      // The touch began after `started`, so its ttl runs at least until started + longTtl.
      if (Date.now() >= started + longTtl) return false;
      assert.equal(during, json, 'the touched entry must outlive its original ttl, unchanged');
      await sleepUntil(touched + longTtl + margin);
      assert.equal(await load(sid) ?? null, null, 'the touched entry must be gone once the ttl given to touch has passed');
      return true;
    });
  });

  it('does not create an entry on touch of a missing id', async () => {
    const sid = newSid();
    await touch(sid, 60_000);
    assert.equal(await load(sid) ?? null, null);
  });
}

function definePatchCases(store: SessionStore, shortTtl: number): void {
  const margin = marginFor(shortTtl);
  const patch = (sid: string, change: SessionPatch, ttlMs?: number): Promise<unknown> => settle(store.patch?.(sid, change, ttlMs));
  const load = (sid: string): Promise<string | null | undefined> => settle(store.load(sid));
  const save = (sid: string, json: string, ttlMs?: number): Promise<unknown> => settle(store.save(sid, json, ttlMs));
  const remove = (sid: string): Promise<unknown> => settle(store.remove(sid));
  const loadParsed = async (sid: string): Promise<unknown> => {
    const json = await load(sid);
    assert.equal(typeof json, 'string', 'the patched entry must still be there');
    return JSON.parse(json as string);
  };

  /** Values that a JSON engine re-encoding them could get wrong. */
  const trickyValues: ReadonlyArray<readonly [string, unknown]> = [
    ['object', { nested: { deeper: [1, 'two', { three: 3 }] }, empty: {} }],
    ['array', [1, [2, [3, []]], { a: null }]],
    ['emptyArray', []],
    ['emptyObject', {}],
    ['quotes', 'she said "hi" \\ and left / at \u2028 midnight\n\t'],
    ['unicode', '😀 漢字 مرحبا e\u0301 \ud800'],
    ['null', null],
    ['false', false],
    ['zero', 0],
    ['maxSafe', Number.MAX_SAFE_INTEGER],
    ['sum', 0.1 + 0.2],
    ['big', 1e21],
    ['unsafe', 2 ** 64],
    ['tiny', 5e-324],
    ['negative', -1.5],
    ['emptyString', ''],
  ];

  it('applies set and unset on patch and keeps untouched keys exactly', async () => {
    const sid = newSid();
    const untouched = { keep: 'me', keepNumber: Number.MAX_SAFE_INTEGER, keepSum: 0.1 + 0.2, keepEmptyArray: [], keepEmptyObject: {}, keepNested: { a: [1, { b: 'c' }] } };
    await save(sid, JSON.stringify({ ...untouched, change: 'old', drop: 'gone', dropToo: [1] }), 60_000);
    await patch(sid, patchOf([['change', 'new'], ['added', { x: 1 }]], ['drop', 'dropToo', 'neverThere']), 60_000);
    assert.deepEqual(await loadParsed(sid), { ...untouched, change: 'new', added: { x: 1 } });
    await remove(sid);
  });

  it('round-trips set values that are objects, arrays, strings with quotes, escapes and Unicode, null and large numbers', async () => {
    const sid = newSid();
    await save(sid, '{"before":true}', 60_000);
    await patch(sid, patchOf(trickyValues), 60_000);
    const expected = JSON.parse(objectJson([['before', true], ...trickyValues])) as unknown;
    assert.deepEqual(await loadParsed(sid), expected);
    await remove(sid);
  });

  it('treats keys with dots, quotes, spaces, $, Unicode and __proto__ as ordinary keys on patch', async () => {
    const oddKeys = ['a.b', 'a[0]', '"quoted"', "it's", 'with space', '$', '$.x', '$set', 'back\\slash', 'ключ', '🔑', '__proto__', 'constructor', 'prototype', '123', ''];
    const [absent, present, removed] = [newSid(), newSid(), newSid()];
    const before = oddKeys.map((key, i) => [key, `before ${i}`] as const);
    const after = oddKeys.map((key) => [key, { value: key }] as const);
    await Promise.all([
      save(absent, '{"plain":1}', 60_000),
      save(present, objectJson([['plain', 1], ...before]), 60_000),
      save(removed, objectJson([['plain', 1], ...before]), 60_000),
    ]);
    // Setting keys that are not there yet, overwriting keys that are, and deleting them.
    await patch(absent, patchOf(after), 60_000);
    await patch(present, patchOf(after), 60_000);
    await patch(removed, patchOf([], oddKeys), 60_000);
    const expected = JSON.parse(objectJson([['plain', 1], ...after])) as unknown;
    assert.deepEqual(await loadParsed(absent), expected, 'keys set where they were absent');
    assert.deepEqual(await loadParsed(present), expected, 'keys set where they were present');
    assert.deepEqual(await loadParsed(removed), { plain: 1 }, 'keys unset');
    assert.equal(({} as { value?: unknown }).value, undefined, 'a __proto__ key must not reach a prototype');
    await Promise.all([remove(absent), remove(present), remove(removed)]);
  });

  it('keeps every key with lone surrogates, U+0000 and U+FFFF, apart and with its value, when another key is patched', async () => {
    const [plain, both] = [newSid(), newSid()];
    const entries = unusualEntries('kept');
    await Promise.all([save(plain, objectJson([['other', 1], ...entries]), 60_000), save(both, objectJson([['other', 1], ...entries]), 60_000)]);
    await patch(plain, patchOf([['other', 2]]), 60_000);
    await patch(both, patchOf([['added', 'new \ud800']], ['other']), 60_000);
    // Compared parsed, key by key: a store may respell the JSON, never merge, rename or drop a key.
    const expected = JSON.parse(objectJson(entries)) as Record<string, unknown>;
    assertSameKeys((await loadParsed(plain)) as Record<string, unknown>, { other: 2, ...expected }, 'after a set of another key');
    assertSameKeys((await loadParsed(both)) as Record<string, unknown>, { ...expected, added: 'new \ud800' }, 'after an unset and a set of other keys');
    await Promise.all([remove(plain), remove(both)]);
  });

  it('sets, overwrites and unsets keys with lone surrogates, U+0000 and U+FFFF on patch', async () => {
    const [absent, present, removed] = [newSid(), newSid(), newSid()];
    const before = unusualEntries('before');
    const after = unusualEntries('after');
    await Promise.all([
      save(absent, '{"plain":1}', 60_000),
      save(present, objectJson([['plain', 1], ...before]), 60_000),
      save(removed, objectJson([['plain', 1], ...before]), 60_000),
    ]);
    await patch(absent, patchOf(after), 60_000);
    await patch(present, patchOf(after), 60_000);
    // Every other key unset: what remains must be exactly the others, none merged into a survivor.
    await patch(removed, patchOf([], UNUSUAL_KEYS.filter((_, i) => i % 2 === 0)), 60_000);
    const expected = JSON.parse(objectJson([['plain', 1], ...after])) as Record<string, unknown>;
    assertSameKeys((await loadParsed(absent)) as Record<string, unknown>, expected, 'keys set where they were absent');
    assertSameKeys((await loadParsed(present)) as Record<string, unknown>, expected, 'keys set where they were present');
    const kept = JSON.parse(objectJson([['plain', 1], ...before.filter((_, i) => i % 2 === 1)])) as Record<string, unknown>;
    assertSameKeys((await loadParsed(removed)) as Record<string, unknown>, kept, 'half of the keys unset');
    await Promise.all([remove(absent), remove(present), remove(removed)]);
  });

  it('unsets only the exact key named: one with a lone surrogate or U+0000 never removes U+FFFD, ? or a shorter key', async () => {
    // Keys an encoding that cannot carry lone surrogates or U+0000 would turn the unset keys into.
    const lookalikes = ['\ufffd', '\ufffd\ufffd', '\ufffd\ufffd\ufffd', 'x\ufffdy', '?', '??', 'x?y', 'k', '', 'x', 'y', 'xy'];
    const sid = newSid();
    await save(sid, objectJson([['other', 1], ...lookalikes.map((key, i) => [key, i] as const)]), 60_000);
    // Apart, so that a store failing on one kind still has to get the other right.
    await patch(sid, patchOf([], ['\ud800', '\udc00\ud800', '\ud800\ud800', 'x\ud800y']), 60_000);
    await patch(sid, patchOf([['other', 2]], ['k\u0000', '\u0000', 'x\u0000y']), 60_000);
    const expected = JSON.parse(objectJson([['other', 2], ...lookalikes.map((key, i) => [key, i] as const)])) as Record<string, unknown>;
    assertSameKeys((await loadParsed(sid)) as Record<string, unknown>, expected, 'after unsetting keys that are not there');
    await remove(sid);
  });

  it('does not create an entry on patch of a missing id', async () => {
    const sid = newSid();
    await patch(sid, patchOf([['resurrected', true]]), 60_000);
    assert.equal(await load(sid) ?? null, null);
    await patch(sid, patchOf([['resurrected', true]]));
    assert.equal(await load(sid) ?? null, null);
  });

  it('does not resurrect an expired entry on patch', async () => {
    const sid = newSid();
    await save(sid, '{"a":1}', shortTtl);
    await sleep(shortTtl + margin);
    await patch(sid, patchOf([['b', 2]]), 60_000);
    assert.equal(await load(sid) ?? null, null);
  });

  it('does not resurrect a removed entry on patch', async () => {
    const sid = newSid();
    await save(sid, '{"a":1}', 60_000);
    await remove(sid);
    await patch(sid, patchOf([['b', 2]], ['a']), 60_000);
    assert.equal(await load(sid) ?? null, null);
  });

  it('resets the ttl of the entry on patch', async () => {
    const longTtl = shortTtl * 4;
    await withTimingRetries(shortTtl, async () => {
      const sid = newSid();
      const started = Date.now();
      await save(sid, '{"a":1}', shortTtl);
      await patch(sid, patchOf([['b', 2]]), longTtl);
      const patched = Date.now();
      if (patched - started >= shortTtl) return false;
      await sleepUntil(started + shortTtl + margin);
      const during = await load(sid);
      if (Date.now() >= started + longTtl) return false;
      assert.equal(typeof during, 'string', 'the patched entry must outlive its original ttl');
      assert.deepEqual(JSON.parse(during as string), { a: 1, b: 2 });
      await sleepUntil(patched + longTtl + margin);
      assert.equal(await load(sid) ?? null, null, 'the patched entry must be gone once the ttl given to patch has passed');
      return true;
    });
  });

  it('keeps all 50 keys when 50 concurrent patches each set their own key on one session', async () => {
    const sid = newSid();
    await save(sid, '{"base":"kept"}', 60_000);
    const keys = Array.from({ length: 50 }, (_, i) => `writer${i}`);
    await Promise.all(keys.map((key, i) => patch(sid, patchOf([[key, { i, text: `value ${i}` }]]), 60_000)));
    const expected: Record<string, unknown> = { base: 'kept' };
    keys.forEach((key, i) => (expected[key] = { i, text: `value ${i}` }));
    const data = (await loadParsed(sid)) as Record<string, unknown>;
    const lost = keys.filter((key) => !(key in data));
    assert.deepEqual(lost, [], `${lost.length} of 50 concurrent patches were lost`);
    assert.deepEqual(data, expected);
    await remove(sid);
  });

  it('keeps all 50 keys when 50 concurrent patches carry the same base and each its own whole result', async () => {
    // As the middleware sends them: every writer loaded the same text. Only the first may write its
    // result whole; for the others the entry no longer equals their base, so their keys must be applied.
    const sid = newSid();
    const base = '{"base":"kept"}';
    await save(sid, base, 60_000);
    const keys = Array.from({ length: 50 }, (_, i) => `writer${i}`);
    await Promise.all(
      keys.map((key, i) => {
        const value = { i };
        const change = patchOf([[key, value]]);
        return patch(sid, { ...change, base, result: JSON.stringify({ base: 'kept', [key]: value }) }, 60_000);
      }),
    );
    const data = (await loadParsed(sid)) as Record<string, unknown>;
    const lost = keys.filter((key) => !(key in data));
    assert.deepEqual(lost, [], `${lost.length} of 50 concurrent patches were lost: a whole result may only replace an entry still equal to its base`);
    assert.equal(data.base, 'kept');
    await remove(sid);
  });

  it('applies the keys of a patch whose base no longer matches the entry, ignoring its result', async () => {
    const sid = newSid();
    await save(sid, '{"a":1,"b":2,"other":"written meanwhile"}', 60_000);
    const change = patchOf([['b', 3]], ['a']);
    await patch(sid, { ...change, base: '{"a":1,"b":2}', result: '{"b":3}' }, 60_000);
    assert.deepEqual(await loadParsed(sid), { b: 3, other: 'written meanwhile' });
    await remove(sid);
  });

  it('keeps both effects of a concurrent unset of one key and set of another', async () => {
    // Several sessions at once, so that a read-modify-write race has many chances to show.
    const sids = Array.from({ length: 20 }, () => newSid());
    await Promise.all(sids.map((sid) => save(sid, '{"drop":"me","keep":"me"}', 60_000)));
    await Promise.all(sids.flatMap((sid) => [patch(sid, patchOf([], ['drop']), 60_000), patch(sid, patchOf([['added', [1, 2]]]), 60_000)]));
    for (const sid of sids) assert.deepEqual(await loadParsed(sid), { keep: 'me', added: [1, 2] });
    await Promise.all(sids.map((sid) => remove(sid)));
  });

  it('leaves the data intact on an empty patch', async () => {
    const sid = newSid();
    const data = { a: 1, b: [true, null], c: { d: 'é😀' }, e: 0.1 + 0.2 };
    await save(sid, JSON.stringify(data), 60_000);
    await patch(sid, { set: Object.create(null) as Record<string, string>, unset: [] }, 60_000);
    assert.deepEqual(await loadParsed(sid), data);
    await remove(sid);
  });
}

/**
 * deepEqual with a message that names the keys lost, added or changed, escaped
 * so that a lone surrogate or U+0000 is readable in the report.
 */
function assertSameKeys(actual: Record<string, unknown>, expected: Record<string, unknown>, what: string): void {
  const name = (key: string): string => JSON.stringify(key).replace(/[^\x20-\x7e]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
  const missing = Object.keys(expected).filter((key) => !Object.prototype.hasOwnProperty.call(actual, key));
  const extra = Object.keys(actual).filter((key) => !Object.prototype.hasOwnProperty.call(expected, key));
  const changed = Object.keys(expected).filter((key) => !missing.includes(key) && !isDeepStrictEqual(actual[key], expected[key]));
  if (missing.length + extra.length + changed.length === 0) return;
  assert.fail(
    `${what}: keys missing [${missing.map(name).join(', ')}], keys that should not be there [${extra.map(name).join(', ')}], values changed under [${changed.map(name).join(', ')}]`,
  );
}

function firstDifference(a: string, b: string): number {
  const length = Math.min(a.length, b.length);
  for (let i = 0; i < length; i += 1) if (a[i] !== b[i]) return i;
  return length;
}
