// patchJsonText, the patch SqliteStore applies in JavaScript: untouched members
// keep their exact text, keys are compared as the strings they decode to, and
// text that is not a JSON object is refused, whatever the spacing and escapes.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { SessionPatch } from '../../src/store.js';
import { patchJsonText } from '../../src/stores/patch-text.js';

function patchOf(set: ReadonlyArray<readonly [string, string]>, unset: string[] = []): SessionPatch {
  const values = Object.create(null) as Record<string, string>;
  for (const [key, json] of set) values[key] = json;
  return { set: values, unset };
}

const apply = (json: string, set: ReadonlyArray<readonly [string, string]>, unset: string[] = []): string => patchJsonText('TestStore', json, patchOf(set, unset));

describe('patchJsonText', () => {
  it('keeps untouched members exactly as written and appends the keys it sets', () => {
    const stored = ' {\n "n" : 1.50 ,"big":1E400,\t"deep": { "a" : [1 , "x,}]"] } , "s":"\\u00e9\\"","drop":true , "change":0 }\r\n';
    assert.equal(apply(stored, [['change', '1'], ['added', '{"x":[]}']], ['drop', 'never']), '{"n":1.50,"big":1E400,"deep":{ "a" : [1 , "x,}]"] },"s":"\\u00e9\\"","change":1,"added":{"x":[]}}');
  });

  it('compares keys as the strings they decode to, whatever their escapes', () => {
    const stored = '{"\\u0041":1,"\\ud800":2,"\\uD801":3,"\\\\ud800":4,"k\\u0000":5,"k":6,"\\/":7,"é":8}';
    assert.equal(apply(stored, [['A', '"a"']], ['\ud801', '/']), '{"\\ud800":2,"\\\\ud800":4,"k\\u0000":5,"k":6,"é":8,"A":"a"}');
    assert.equal(apply(stored, [], ['\ud800', 'k']), '{"\\u0041":1,"\\uD801":3,"\\\\ud800":4,"k\\u0000":5,"\\/":7,"é":8}');
    assert.equal(apply(stored, [], ['\\ud800', 'k\u0000', '\u00e9']), '{"\\u0041":1,"\\ud800":2,"\\uD801":3,"k":6,"\\/":7}');
  });

  it('drops every copy of a key the stored text has twice', () => {
    assert.equal(apply('{"a":1,"b":2,"a":3}', [['a', '4']]), '{"b":2,"a":4}');
    assert.equal(apply('{"a":1,"b":2,"\\u0061":3}', [], ['a']), '{"b":2}');
  });

  it('writes {} when every key goes, and patches {} and an object with spaces only', () => {
    assert.equal(apply('{"a":1}', [], ['a']), '{}');
    assert.equal(apply('{}', [['a', '1']]), '{"a":1}');
    assert.equal(apply(' { \n } ', []), '{}');
  });

  it('leaves a 1 MB value full of quotes, backslashes and braces intact', () => {
    const blob = JSON.stringify('{"x":["\\"}{][,:"]} \\\\ é漢😀 \u2028 \ud800 '.repeat(30_000));
    const result = apply(`{"blob":${blob},"n":1}`, [['n', '2']]);
    assert.ok(result === `{"blob":${blob},"n":2}`, 'the large value must come back character for character');
  });

  it('handles values nested 1,000 deep', () => {
    let deep: unknown = { leaf: '}]"\\,:{[' };
    for (let depth = 0; depth < 1000; depth += 1) deep = depth % 2 ? { d: deep, s: ']' } : [deep, '}', depth];
    const text = JSON.stringify(deep);
    assert.equal(apply(`{"deep":${text},"after":"x"}`, [['after', '"y"']]), `{"deep":${text},"after":"y"}`);
  });

  it('agrees with JSON.parse on 500 random objects with random spacing and escapes', () => {
    let seed = 7;
    const random = (): number => {
      seed = (Math.imul(seed, 1664525) + 1013904223) >>> 0;
      return seed / 2 ** 32;
    };
    const pick = <T>(items: readonly T[]): T => items[Math.floor(random() * items.length)] as T;
    const space = (): string => pick(['', '', ' ', '\n', '\t ', '\r\n  ']);
    const parts = ['a', 'k', '\u0000', '\ud800', '\udc00', '\ud83d\ude00', '\uffff', '"', '\\', '/', 'é', '}', ']', ',', ':', '{', '[', ' '];
    const text = (): string => Array.from({ length: Math.floor(random() * 4) }, () => pick(parts)).join('');
    /** A JSON string token for `value`, sometimes with every character escaped as \uXXXX. */
    const token = (value: string): string =>
      random() < 0.3 ? `"${Array.from({ length: value.length }, (_, i) => `\\u${value.charCodeAt(i).toString(16).padStart(4, '0')}`).join('')}"` : JSON.stringify(value);
    const value = (depth: number): string => {
      const kind = Math.floor(random() * (depth > 0 ? 6 : 4));
      if (kind === 0) return pick(['null', 'true', 'false', '0', '-1.50', '1E400', '12345678901234567890123']);
      if (kind === 1 || kind === 2) return token(text());
      if (kind === 3) return pick(['[]', '{}', '[ ]', '{ }']);
      if (kind === 4) return `[${space()}${Array.from({ length: 1 + Math.floor(random() * 3) }, () => value(depth - 1)).join(`${space()},${space()}`)}${space()}]`;
      return `{${Array.from({ length: 1 + Math.floor(random() * 3) }, () => `${space()}${token(text())}${space()}:${space()}${value(depth - 1)}`).join(',')}${space()}}`;
    };
    for (let round = 0; round < 500; round += 1) {
      const keys = [...new Set(Array.from({ length: Math.floor(random() * 8) }, text))];
      const members = keys.map((key) => [key, token(key), value(3)] as const);
      const stored = `${space()}{${members.map(([, keyText, json]) => `${space()}${keyText}${space()}:${space()}${json}${space()}`).join(',')}${space()}}${space()}`;
      const set = [...keys.filter(() => random() < 0.3), text()].map((key) => [key, JSON.stringify(text())] as const);
      const unset = [...keys.filter(() => random() < 0.3), text()];
      const setKeys = new Set(set.map(([key]) => key));
      const expected: string[] = [];
      for (const [key, keyText, json] of members) if (!setKeys.has(key) && !unset.includes(key)) expected.push(`${keyText}:${json}`);
      for (const key of Object.keys(patchOf(set).set)) expected.push(`${JSON.stringify(key)}:${patchOf(set).set[key]}`);
      const context = `round ${round}: ${JSON.stringify(stored)} set ${JSON.stringify(set)} unset ${JSON.stringify(unset)}`;
      assert.equal(apply(stored, set, unset), `{${expected.join(',')}}`, context);
    }
  });

  it('refuses text that is not a JSON object, naming the store and never quoting the data', () => {
    for (const stored of ['', '[]', '"text"', 'null', '{', '{"a":1', '{"a":}', '{"a" 1}', '{a:1}', '{"a":1,}', '{"a":1}x', '{"a":1}{}', '{"a":"unterminated}', '{"a":[1]]}', '{"\\x":1}']) {
      assert.throws(
        () => apply(stored, [['secret', '1']]),
        (error: unknown) =>
          error instanceof TypeError &&
          /^koa-session-store: TestStore\.patch found a stored session that is not a JSON object \([^)]+\); it was left as it is$/.test(error.message),
        JSON.stringify(stored),
      );
    }
  });

  it('refuses a value in set that is not JSON text, naming neither the key nor the value', () => {
    for (const json of ['', '{not json', '1,"b":2', 'undefined', '[1]]']) {
      assert.throws(
        () => apply('{"a":1}', [['b', json]]),
        (error: unknown) =>
          error instanceof TypeError &&
          /^koa-session-store: TestStore\.patch needs each value of set as JSON text, got text that is not JSON; nothing was written$/.test(error.message),
        JSON.stringify(json),
      );
    }
  });
});
