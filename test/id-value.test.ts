// The server-store cookie value `id.ctime.touched` is taken apart by hand (no
// regular expression, no parseInt) because it is read on every request. This
// checks the hand-written parser against the rule it replaces, written here
// as that regular expression, on edge cases and on many random values (2.0's
// JSON values, which start with '{', are another path and tested elsewhere).
import assert from 'node:assert/strict';
import { randomInt } from 'node:crypto';
import { describe, it } from 'node:test';
import { decodeIdValue, SESSION_ID } from '../src/payload.js';

const RULE = /^([A-Za-z0-9_-]{1,128})\.([0-9a-z]{1,11})\.([0-9a-z]{1,11})$/;

/** What the rule makes of `value` (times of up to 10 digits are exact in a double, as parseInt gives them). */
function byRule(value: string) {
  const match = RULE.exec(value);
  if (match !== null) {
    return { sid: match[1], ctime: parseInt(match[2] as string, 36), exp: undefined, touched: parseInt(match[3] as string, 36), json: undefined };
  }
  if (SESSION_ID.test(value)) return { sid: value, ctime: undefined, exp: undefined, touched: undefined, json: undefined };
  return undefined;
}

const ALPHABET = 'ABCXYZabcxyz0189_-.:@[`{/ \u00e9\u0130\u212a';

function randomText(maxLength: number): string {
  let text = '';
  const length = randomInt(0, maxLength + 1);
  for (let i = 0; i < length; i++) text += ALPHABET[randomInt(ALPHABET.length)];
  return text;
}

describe('the server-store cookie value', () => {
  it('decodes what the middleware writes, with its times', () => {
    const now = Date.now();
    assert.deepEqual(decodeIdValue(`abc_DEF-123.${now.toString(36)}.${(now + 5).toString(36)}`), {
      sid: 'abc_DEF-123',
      ctime: now,
      exp: undefined,
      touched: now + 5,
      json: undefined,
    });
  });

  it('agrees with the rule on edge cases', () => {
    const id128 = 'a'.repeat(128);
    const cases = [
      '', '.', '..', 'a..b', '.1.2', 'a.1.', 'a.1', 'a', 'a.b.c.d', 'a.b.c', 'a.B.c', 'a.b.C', 'a.0.0',
      `${id128}.1.1`, `${id128}a.1.1`, 'a.zzzzzzzzzz.1', 'a.0123456789a.1', 'a.0123456789ab.1', 'a.1.0123456789ab',
      'a b.1.1', 'a@.1.1', 'a[.1.1', 'a`.1.1', 'a{.1.1', 'a/.1.1', 'a:.1.1', 'a.1:.1', 'a.1.1\n', '\u0130.1.1', '\u212a.1.1', 'a.\u0130.1',
      'a.-1.1', 'a.1.+1', 'a.1 .1', 'a. 1.1',
    ];
    for (const value of cases) assert.deepEqual(decodeIdValue(value), byRule(value), JSON.stringify(value));
  });

  it('agrees with the rule on 20,000 random values', () => {
    for (let i = 0; i < 20_000; i++) {
      const value = i % 2 === 0 ? randomText(24) : `${randomText(12)}.${randomText(4)}.${randomText(4)}`;
      assert.deepEqual(decodeIdValue(value), byRule(value), JSON.stringify(value));
    }
  });
});
