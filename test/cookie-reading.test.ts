// The Cookie header is searched by hand on every request (readCookie in
// src/cookie.ts, with indexOf). It must give exactly what the `cookies`
// package's rule `(?:^|;) *name=([^;]*)` gives, written here as that regular
// expression, on edge cases and on many random headers built from the names,
// separators and characters that could confuse a search.
import assert from 'node:assert/strict';
import { randomInt } from 'node:crypto';
import { describe, it } from 'node:test';
import { cookiePrefix, readCookie } from '../src/cookie.js';

const escape = (name: string) => name.replace(/[-[\]{}()*+?.,\\^$|#\s]/g, '\\$&');

/** The `cookies` package's rule for the value of cookie `name` in `header`. */
function byRule(header: string | undefined, name: string): string | undefined {
  if (header === undefined) return undefined;
  return new RegExp(`(?:^|;) *${escape(name)}=([^;]*)`).exec(header)?.[1];
}

const VALUE = 'koa:sess';
const SIG = 'koa:sess.sig';
const NAMES = [VALUE, SIG, 'koa:ses', 'koa:sessx', 'xkoa:sess', 'a', 'koa:sess.sigx', 'sess.sig'];
const SEPARATORS = [';', '; ', ';  ', ' ', '', ';;', ' ; '];
const VALUE_CHARS = 'abcXYZ019_-=. :k';

function randomValue(): string {
  let value = '';
  const length = randomInt(0, 12);
  for (let i = 0; i < length; i++) value += VALUE_CHARS[randomInt(VALUE_CHARS.length)];
  return value;
}

function randomHeader(): string {
  let header = randomInt(4) === 0 ? ' '.repeat(randomInt(1, 3)) : '';
  const cookies = randomInt(0, 5);
  for (let i = 0; i < cookies; i++) {
    if (i > 0) header += SEPARATORS[randomInt(SEPARATORS.length)];
    header += `${NAMES[randomInt(NAMES.length)]}=${randomValue()}`;
  }
  if (randomInt(6) === 0) header += SEPARATORS[randomInt(SEPARATORS.length)];
  return header;
}

const EDGE_CASES: Array<string | undefined> = [
  undefined,
  '',
  'koa:sess=',
  'koa:sess=abc',
  'koa:sess=abc; koa:sess.sig=def',
  'koa:sess=abc;koa:sess.sig=def',
  'koa:sess=abc;  koa:sess.sig=def; koa:sess.sig=ghi',
  'koa:sess.sig=first; koa:sess=abc; koa:sess.sig=second',
  'koa:sess=abc; other=1; koa:sess.sig=def',
  'koa:sess=abc; xkoa:sess.sig=no; koa:sess.sig=yes',
  'koa:sess=abc koa:sess.sig=not-a-cookie',
  'koa:sess=abc;',
  'koa:sess=abc; ',
  ' koa:sess=abc; koa:sess.sig=def',
  'koa:sessx=1; koa:sess=2',
  'koa:sess=a=b; koa:sess.sig=c=d',
  'koa:sess=abc;; koa:sess.sig=def',
  'koa:sess=abc; koa:sess.sig',
  'koa:sess=abc; koa:sess.sigx=1; koa:sess.sig=2',
];

describe('reading a cookie from the Cookie header', () => {
  it('gives what the rule gives on edge cases, for the session cookie and for its signature', () => {
    for (const header of EDGE_CASES) {
      for (const name of [VALUE, SIG]) {
        assert.equal(readCookie(header, cookiePrefix(name)), byRule(header, name), `${name} in ${JSON.stringify(header)}`);
      }
    }
  });

  it('gives what the rule gives on 30,000 random headers', () => {
    for (let i = 0; i < 30_000; i++) {
      const header = randomHeader();
      const name = NAMES[randomInt(NAMES.length)] as string;
      assert.equal(readCookie(header, cookiePrefix(name)), byRule(header, name), `${name} in ${JSON.stringify(header)}`);
    }
  });
});
