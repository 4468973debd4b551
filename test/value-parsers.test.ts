// The session id check, the server-store cookie value `id.ctime.touched` and
// the cookie-store text `["id",ctime,exp,{data}]` are taken apart by hand
// (no capture regex, no parseInt) because they are read on every request.
// This checks each against the rule it replaces, written here as that regular
// expression, on edge cases and on many random values (2.0's JSON values,
// which start with '{', are another path and tested elsewhere). A value the
// app's keys authenticated skips the id's character check, and only that: its
// rule is the same with any character but the delimiter allowed in the id.
import assert from 'node:assert/strict';
import { randomInt } from 'node:crypto';
import { describe, it } from 'node:test';
import { base36Time } from '../src/base36-time.js';
import { decodeIdValue, decodePayloadText, encodeIdValue, isSessionId } from '../src/payload.js';

const RULE = /^([A-Za-z0-9_-]{1,128})\.([0-9a-z]{1,11})\.([0-9a-z]{1,11})$/;
// Authenticated: the id is whatever precedes the last two dots (only the middleware's own values
// authenticate, and none has a dot in its id). A value starting with '{' is 2.0's JSON, read on another path.
const AUTHENTICATED_RULE = /^([^{][\s\S]{0,127})\.([0-9a-z]{1,11})\.([0-9a-z]{1,11})$/;
const SESSION_ID = /^[A-Za-z0-9_-]{1,128}$/;

/** What the rule makes of `value` (times of up to 10 digits are exact in a double, as parseInt gives them). */
function byRule(value: string, authenticated = false) {
  const match = (authenticated ? AUTHENTICATED_RULE : RULE).exec(value);
  if (match !== null) {
    return { sid: match[1], ctime: parseInt(match[2] as string, 36), exp: undefined, touched: parseInt(match[3] as string, 36), json: undefined };
  }
  if (SESSION_ID.test(value)) return { sid: value, ctime: undefined, exp: undefined, touched: undefined, json: undefined };
  return undefined;
}

/** Characters around the id rule's edges: its own, dots, the ASCII neighbours of its ranges, and letters that fold into them. */
const ID_ALPHABET = 'ABCXYZabcxyz0189_-.:@[`{/ \u00e9\u0130\u212a';

/** Base36 digits at their edges, and a few characters that are not: a dot, a capital, a sign. */
const TIME_ALPHABET = '0123456789abcxyz.Z-';

/** Up to `maxLength` characters drawn from `alphabet`. */
function randomText(maxLength: number, alphabet = ID_ALPHABET): string {
  let text = '';
  const length = randomInt(0, maxLength + 1);
  for (let i = 0; i < length; i++) text += alphabet[randomInt(alphabet.length)];
  return text;
}

describe('session ids', () => {
  it('are 1 to 128 of A-Z, a-z, 0-9, _ and -, as the anchored rule says', () => {
    const cases = ['', 'a', 'A-z_09', 'a'.repeat(128), 'a'.repeat(129), 'a.b', 'a b', 'a\n', '\na', '\u00e9', 'a\u212a', '-', '_'];
    for (let i = 0; i < 5000; i++) cases.push(randomText(140));
    for (const value of cases) assert.equal(isSessionId(value), SESSION_ID.test(value), JSON.stringify(value));
  });
});

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
      // Dots before the last two: an id never has one, so only an authenticated value (one the middleware wrote) could.
      'a.b.1.1', '.a.1.1', '..1.1', `${'a.'.repeat(63)}a.1.1`, `${'a.'.repeat(64)}a.1.1`, '{a.1.1',
      // Times of the usual 8 digits (2026's), which are read by their place from the end, and values shaped
      // like them that are not: a dot, a capital or a sign among the 8, an id too long or with a dot.
      'a.mxbbm6kr.mxbbm6kr', `${id128}.mxbbm6kr.mxbbm6kr`, `${id128}a.mxbbm6kr.mxbbm6kr`, '.mxbbm6kr.mxbbm6kr', 'mxbbm6kr.mxbbm6kr',
      'a.b.mxbbm6kr.mxbbm6kr', 'a.1234.678.12345678', 'a.12345678.1234.678', 'a.1234567.1.2345678', 'a.mxbBm6kr.mxbbm6kr',
      'a.mxbbm6kr.-xbbm6kr', 'a.mxbbm6kr.mxbbm6k.', 'a..mxbbm6k.mxbbm6kr', 'a@.mxbbm6kr.mxbbm6kr', '{a.mxbbm6kr.mxbbm6kr',
    ];
    for (const value of cases) {
      assert.deepEqual(decodeIdValue(value), byRule(value), JSON.stringify(value));
      assert.deepEqual(decodeIdValue(value, true), byRule(value, true), `authenticated ${JSON.stringify(value)}`);
    }
  });

  it('agrees with the rule on 20,000 random values', () => {
    for (let i = 0; i < 20_000; i++) {
      const value = i % 2 === 0 ? randomText(24) : `${randomText(12)}.${randomText(4)}.${randomText(4)}`;
      assert.deepEqual(decodeIdValue(value), byRule(value), JSON.stringify(value));
      assert.deepEqual(decodeIdValue(value, true), byRule(value, true), `authenticated ${JSON.stringify(value)}`);
    }
  });

  it('agrees with the rule on 20,000 random values shaped like ids with 8-digit times', () => {
    for (let i = 0; i < 20_000; i++) {
      const time = (): string => (i % 4 === 0 ? randomText(9, TIME_ALPHABET) : Array.from({ length: 8 }, () => TIME_ALPHABET[randomInt(TIME_ALPHABET.length)]).join(''));
      const value = `${randomText(i % 3 === 0 ? 130 : 12)}.${time()}.${time()}`;
      assert.deepEqual(decodeIdValue(value), byRule(value), JSON.stringify(value));
      assert.deepEqual(decodeIdValue(value, true), byRule(value, true), `authenticated ${JSON.stringify(value)}`);
    }
  });

  it('writes its times as toString(36) does, at the edges of 8 digits, on 100,000 random times and on what is not a time', () => {
    const edges = [36 ** 7 - 1, 36 ** 7, 36 ** 7 + 1, 36 ** 8 - 1, 36 ** 8, 36 ** 8 + 1, 36 ** 7 + 36 ** 4, 36 ** 8 - 36 ** 4, 1_796_530_045_624, Date.now()];
    const odd = [0, 1, 35, 36, -1, -(36 ** 7) - 5, 36 ** 7 + 0.5, 1e21, 2 ** 53 + 2, Number.MAX_VALUE, Infinity, -Infinity, NaN, -0];
    const random = Array.from({ length: 100_000 }, () => 36 ** 7 + Math.floor(Math.random() * (36 ** 8 - 36 ** 7)));
    for (const time of [...edges, ...odd, ...random]) assert.equal(base36Time(time), time.toString(36), String(time));
    const now = Date.now();
    assert.equal(encodeIdValue('abc', now, now), `abc.${now.toString(36)}.${now.toString(36)}`);
    assert.equal(encodeIdValue('abc', now, now + 1), `abc.${now.toString(36)}.${(now + 1).toString(36)}`);
    assert.deepEqual(decodeIdValue(encodeIdValue('abc', now - 5, now), true), { sid: 'abc', ctime: now - 5, exp: undefined, touched: now, json: undefined });
  });

  it('checks every character of an id the keys did not authenticate', () => {
    for (const id of ['a b', 'a@b', 'a\nb', '\u00e9', 'a/b']) {
      assert.equal(decodeIdValue(`${id}.1.1`), undefined, JSON.stringify(id));
      assert.equal(decodeIdValue(`${id}.1.1`, true)?.sid, id, JSON.stringify(id));
    }
  });
});

const PAYLOAD_RULE = /^\["([A-Za-z0-9_-]{1,128})",(\d{1,15}),(\d{1,15}),\{/;
const AUTHENTICATED_PAYLOAD_RULE = /^\["([^"]{1,128})",(\d{1,15}),(\d{1,15}),\{/;

/** What the rule makes of cookie-store text. */
function payloadByRule(text: string, authenticated = false) {
  const match = (authenticated ? AUTHENTICATED_PAYLOAD_RULE : PAYLOAD_RULE).exec(text);
  if (match === null || !text.endsWith('}]')) return undefined;
  const exp = Number(match[3]);
  return { sid: match[1], ctime: Number(match[2]), exp: exp === 0 ? undefined : exp, touched: undefined, json: text.slice(match[0].length - 1, -1) };
}

const PAYLOAD_ALPHABET = 'ab_-09,"[]{}: .\u00e9';
const randomPayloadPart = (maxLength: number): string => randomText(maxLength, PAYLOAD_ALPHABET);

describe('the cookie-store text', () => {
  it('decodes what the middleware writes', () => {
    assert.deepEqual(decodePayloadText('["abc",1733400000000,1733486400000,{"n":1,"s":"]"}]'), {
      sid: 'abc', ctime: 1733400000000, exp: 1733486400000, touched: undefined, json: '{"n":1,"s":"]"}',
    });
    assert.equal(decodePayloadText('["abc",1,0,{}]')?.exp, undefined, 'an expiry of 0 is none');
  });

  it('agrees with the rule on edge cases', () => {
    const cases = [
      '', '[', '["', '["a",1,2,{}]', '["a",1,2,{}', '["a",1,2,[]]', '["",1,2,{}]', '["a",,2,{}]', '["a",1,,{}]', '["a",1,2{}]',
      '["a" ,1,2,{}]', '["a",1 ,2,{}]', '["a",-1,2,{}]', '["a",1,2,3,{}]', '["a",1.5,2,{}]', '["a",1e3,2,{}]',
      `["${'a'.repeat(128)}",1,2,{}]`, `["${'a'.repeat(129)}",1,2,{}]`, '["a",123456789012345,2,{}]', '["a",1234567890123456,2,{}]',
      '["a.b",1,2,{}]', '["a\u00e9",1,2,{}]', '[\\"a",1,2,{}]', '["a",1,2,{"x":"}]"}]', '["a",0,0,{}]',
    ];
    for (const text of cases) {
      assert.deepEqual(decodePayloadText(text), payloadByRule(text), JSON.stringify(text));
      assert.deepEqual(decodePayloadText(text, true), payloadByRule(text, true), `authenticated ${JSON.stringify(text)}`);
    }
  });

  it('agrees with the rule on 20,000 random texts', () => {
    for (let i = 0; i < 20_000; i++) {
      const text =
        i % 2 === 0
          ? randomPayloadPart(30)
          : `["${randomPayloadPart(6)}",${randomPayloadPart(4)},${randomPayloadPart(4)},{${randomPayloadPart(6)}}]`;
      assert.deepEqual(decodePayloadText(text), payloadByRule(text), JSON.stringify(text));
      assert.deepEqual(decodePayloadText(text, true), payloadByRule(text, true), `authenticated ${JSON.stringify(text)}`);
    }
  });
});
