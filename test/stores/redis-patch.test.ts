// The Lua scanner behind RedisStore.patch, checked on the raw text Redis holds
// afterwards (a raw GET, not the store's load): the patched keys change, and
// every other value keeps its exact original text.
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { Redis } from 'ioredis';
import { RedisStore } from '../../src/redis.js';
import { REDIS_URL, redisSkip } from '../support/services.js';
import { RUN_PREFIX, deleteKeys } from './redis-helpers.js';

const skip = await redisSkip();
const prefix = `${RUN_PREFIX}patch:`;

/** A null-prototype `set` from (key, JSON text) pairs, as the middleware builds it. */
function setOf(entries: ReadonlyArray<readonly [string, string]>): Record<string, string> {
  const set = Object.create(null) as Record<string, string>;
  for (const [key, json] of entries) set[key] = json;
  return set;
}

/** `{k:v,...}` from (key, JSON text) pairs, the way the script writes it: no whitespace, order kept. */
function objectText(entries: ReadonlyArray<readonly [string, string]>): string {
  return `{${entries.map(([key, json]) => `${JSON.stringify(key)}:${json}`).join(',')}}`;
}

describe('RedisStore.patch on the stored text', { skip }, () => {
  let client: Redis;
  let store: RedisStore;

  before(() => {
    client = new Redis(REDIS_URL);
    store = new RedisStore({ client, prefix });
  });
  after(async () => {
    await deleteKeys(client, prefix);
    await client.quit();
  });

  /** Stores `stored` raw, patches it, and resolves to the raw text Redis holds afterwards. */
  async function patchText(stored: string, set: ReadonlyArray<readonly [string, string]>, unset: string[] = []): Promise<string | null> {
    const sid = randomUUID();
    await client.set(prefix + sid, stored, 'PX', 60_000);
    assert.equal(await store.patch(sid, { set: setOf(set), unset }, 60_000), true);
    return client.get(prefix + sid);
  }

  it('keeps keys and values holding quotes, backslashes, braces, brackets, commas, colons and Unicode exactly', async () => {
    const stored = String.raw`{"q\"uote":"a\"b","back\\slash":"c:\\","{":"}","[":"]",",":",",":":":","ключ🔑":"значение","\u00e9":"escaped key","nested":[{"a":[{"b":"]}"}]},[],{}],"n1":1e21,"n2":-0.5,"n3":1E+2,"t":true,"f":false,"z":null,"empty":"","endsWithBackslash":"\\","quoteBackslashQuote":"\\\"","esc":"\ud83d\ude00\n\t\/"}`;
    const result = await patchText(
      stored,
      [
        ['nested', '[1]'],
        ['new"key', '{"x":"}"}'],
        ['{', '"{{"'],
      ],
      ['back\\slash', ','],
    );
    assert.equal(
      result,
      String.raw`{"q\"uote":"a\"b","{":"{{","[":"]",":":":","ключ🔑":"значение","\u00e9":"escaped key","nested":[1],"n1":1e21,"n2":-0.5,"n3":1E+2,"t":true,"f":false,"z":null,"empty":"","endsWithBackslash":"\\","quoteBackslashQuote":"\\\"","esc":"\ud83d\ude00\n\t\/","new\"key":{"x":"}"}}`,
    );
    const expected = JSON.parse(stored) as Record<string, unknown>;
    expected.nested = [1];
    expected['new"key'] = { x: '}' };
    expected['{'] = '{{';
    delete expected['back\\slash'];
    delete expected[','];
    assert.deepEqual(JSON.parse(result as string), expected);
  });

  it('keeps [] as an array and numbers with all their digits (no cjson round trip)', async () => {
    const stored = '{"emptyArray":[],"emptyObject":{},"digits":12345678901234567890123,"pi":3.141592653589793238,"tiny":5e-324,"negZero":-0,"neg":-0.5}';
    const result = await patchText(stored, [['added', '[]']]);
    assert.equal(result, stored.slice(0, -1) + ',"added":[]}');
  });

  it('drops the whitespace between entries of hand-written JSON but keeps each value as written', async () => {
    const stored = '  {\n "a" : 1\t,\n "b" : [ 1, 2 ]\r\n,"c":"x" ,\t"d" :{ "e" : [ ] }\r\n}  ';
    assert.equal(await patchText(stored, [['c', '"y"']]), '{"a":1,"b":[ 1, 2 ],"c":"y","d":{ "e" : [ ] }}');
  });

  it('patches the empty object and can empty an object', async () => {
    assert.equal(await patchText('{}', [['x', '1']]), '{"x":1}');
    assert.equal(await patchText('{ }', []), '{}');
    assert.equal(await patchText('{"only":1}', [], ['only']), '{}');
    assert.equal(await patchText('{"a":1,"b":2}', [], ['a', 'b', 'missing']), '{}');
    assert.equal(await patchText('{"a":1,"b":2}', [['a', '3'], ['b', '4']]), '{"a":3,"b":4}');
  });

  it('changes nothing but the ttl on an unset of a missing key or an empty patch', async () => {
    const stored = '{"a":{"b":[1,{"c":"d"}]},"e":"\\u0000"}';
    assert.equal(await patchText(stored, [], ['missing']), stored);
    assert.equal(await patchText(stored, []), stored);
  });

  it('lets set win when a key is both set and unset', async () => {
    assert.equal(await patchText('{"a":1,"b":2}', [['a', '"set"']], ['a']), '{"a":"set","b":2}');
  });

  it('handles values nested 500 deep and arrays of objects holding every delimiter', async () => {
    let deep: unknown = { leaf: '}]"\\,:{[' };
    for (let depth = 0; depth < 500; depth += 1) deep = depth % 2 ? { d: deep, s: ']' } : [deep, '}', depth];
    const list = Array.from({ length: 50 }, (_, i) => ({ i, text: `"${'{['.repeat(i % 5)},:\\` }));
    const stored = objectText([
      ['deep', JSON.stringify(deep)],
      ['list', JSON.stringify(list)],
      ['after', '"end"'],
    ]);
    const result = await patchText(stored, [['after', '"changed"']], []);
    assert.equal(result, objectText([['deep', JSON.stringify(deep)], ['list', JSON.stringify(list)], ['after', '"changed"']]));
  });

  it('leaves a 1 MB value full of quotes, backslashes and braces intact when a small key changes', async () => {
    const chunk = '{"x":["\\"}{][,:"]} \\\\ é漢😀 \\u2028 ';
    const blob = JSON.stringify(chunk.repeat(Math.ceil((1024 * 1024) / chunk.length)));
    const stored = objectText([['blob', blob], ['n', '1']]);
    const result = await patchText(stored, [['n', '2']]);
    assert.ok(result === objectText([['blob', blob], ['n', '2']]), 'the large value must come back byte for byte');
  });

  it('patches an object of 10,000 keys, keeping all the others', async () => {
    const entries = Array.from({ length: 10_000 }, (_, i) => [`key${i}`, JSON.stringify({ i })] as const);
    const result = await patchText(objectText(entries), [['key5000', 'null']], ['key9999']);
    const expected = entries.slice(0, 9999).map(([key, json]) => [key, key === 'key5000' ? 'null' : json] as const);
    assert.ok(result === objectText(expected), 'the other 9,998 keys must keep their text');
  });

  it('agrees with JSON.parse on 300 random objects and patches, keeping untouched text exactly', async () => {
    const random = seeded(0x5e55);
    for (let round = 0; round < 300; round += 1) {
      const keys = unique(Array.from({ length: Math.floor(random() * 12) }, () => randomKey(random)));
      const entries = keys.map((key) => [key, JSON.stringify(randomValue(random, 3))] as const);
      const toSet = keys.filter(() => random() < 0.3).map((key) => [key, JSON.stringify(randomValue(random, 2))] as const);
      const fresh = unique(Array.from({ length: Math.floor(random() * 3) }, () => randomKey(random))).filter((key) => !keys.includes(key));
      toSet.push(...fresh.map((key) => [key, JSON.stringify(randomValue(random, 2))] as const));
      const toUnset = keys.filter((key) => !toSet.some(([name]) => name === key) && random() < 0.3);
      if (random() < 0.2) toUnset.push(randomKey(random) + '\u0000missing');

      const set = setOf(toSet);
      const expected: Array<readonly [string, string]> = [];
      for (const [key, json] of entries) {
        if (key in set) expected.push([key, set[key] as string]);
        else if (!toUnset.includes(key)) expected.push([key, json]);
      }
      // New keys follow in the order Object.keys gives them (integer-like keys first), as the store sends them.
      for (const key of Object.keys(set)) if (!keys.includes(key)) expected.push([key, set[key] as string]);

      const result = await patchText(objectText(entries), toSet, toUnset);
      const context = `round ${round}: ${objectText(entries)} set ${JSON.stringify(toSet)} unset ${JSON.stringify(toUnset)}`;
      assert.equal(result, objectText(expected), context);
      assert.deepEqual(JSON.parse(result as string), JSON.parse(objectText(expected)), context);
    }
  });

  it('rejects, naming the problem and changing nothing, when the stored value is not a JSON object', async () => {
    for (const stored of ['[]', '"text"', 'nope', '', '{"a":1', '{"a":}', '{"a" 1}', '{"a":1,}x', '{"a":"unterminated}', '{"a":[1]]}']) {
      const sid = randomUUID();
      await client.set(prefix + sid, stored, 'PX', 60_000);
      await assert.rejects(store.patch(sid, { set: setOf([['b', '2']]), unset: [] }, 60_000), (error: Error) => {
        assert.match(error.message, /^koa-session-store: Redis EVALSHA failed \(the stored session is not a JSON object/, `for ${JSON.stringify(stored)}`);
        assert.ok(!error.message.includes(sid), 'the session id must not appear in the error');
        assert.ok(error.cause instanceof Error, 'the client error must be kept as cause');
        return true;
      });
      assert.equal(await client.get(prefix + sid), stored, `${JSON.stringify(stored)} must be left as it was`);
    }
  });

  it('sets the ttl with PX, and clears it when the patch has none, as save does', async () => {
    const sid = randomUUID();
    await client.set(prefix + sid, '{"a":1}', 'PX', 5_000);
    await store.patch(sid, { set: setOf([['b', '2']]), unset: [] }, 600_000);
    const pttl = await client.pttl(prefix + sid);
    assert.ok(pttl > 5_000 && pttl <= 600_000, `PTTL after a patch with ttl 600000 was ${pttl}`);
    await store.patch(sid, { set: setOf([['c', '3']]), unset: [] });
    assert.equal(await client.pttl(prefix + sid), -1, 'a patch without ttl leaves a key that never expires');
    assert.equal(await client.get(prefix + sid), '{"a":1,"b":2,"c":3}');
  });

  it('resolves to false and writes nothing for a missing key', async () => {
    const sid = randomUUID();
    assert.equal(await store.patch(sid, { set: setOf([['a', '1']]), unset: [] }, 60_000), false);
    assert.equal(await client.exists(prefix + sid), 0);
  });
});

/** A small deterministic PRNG (mulberry32), so a failing round can be replayed. */
function seeded(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const TRICKY_TEXT = ['"', '\\', '\\"', '{', '}', '[', ']', ',', ':', ' ', '\n', '\u0000', '\u2028', 'é', '漢', '😀', '\ud800', 'a', 'b', '1', '__proto__'];

function randomText(random: () => number, maxParts: number): string {
  let text = '';
  const parts = Math.floor(random() * maxParts);
  for (let i = 0; i < parts; i += 1) text += TRICKY_TEXT[Math.floor(random() * TRICKY_TEXT.length)];
  return text;
}

function randomKey(random: () => number): string {
  const pick = random();
  if (pick < 0.1) return String(Math.floor(random() * 20));
  if (pick < 0.15) return '__proto__';
  return randomText(random, 5);
}

const NUMBERS = [0, -0.5, 1e21, 1e-7, 5e-324, Number.MAX_SAFE_INTEGER, 2 ** 64, 0.1 + 0.2, -273.15, 42];

function randomValue(random: () => number, depth: number): unknown {
  const pick = Math.floor(random() * (depth > 0 ? 8 : 6));
  switch (pick) {
    case 0:
      return null;
    case 1:
      return random() < 0.5;
    case 2:
      return NUMBERS[Math.floor(random() * NUMBERS.length)];
    case 3:
    case 4:
      return randomText(random, 6);
    case 5:
      return random() < 0.5 ? [] : {};
    case 6:
      return Array.from({ length: Math.floor(random() * 4) }, () => randomValue(random, depth - 1));
    default: {
      // Built from entries so that a __proto__ key is an own key, as JSON.parse makes it.
      const object = JSON.parse(
        objectText(unique(Array.from({ length: Math.floor(random() * 4) }, () => randomKey(random))).map((key) => [key, JSON.stringify(randomValue(random, depth - 1))] as const)),
      ) as unknown;
      return object;
    }
  }
}

function unique(keys: string[]): string[] {
  return [...new Set(keys)];
}
