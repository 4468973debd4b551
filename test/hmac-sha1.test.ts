// The session cookie's HMAC-SHA1 is computed in JavaScript (src/hmac-sha1.ts),
// so it must give exactly what Node's createHmac gives, which is what the
// `cookies` package and koa-session-store 2.0 signed with: RFC 2202's test
// vectors, then random keys (strings and Buffers, shorter and longer than a
// block) and messages (ASCII, non-ASCII, lone surrogates, every length around
// the padding's block boundaries).
import assert from 'node:assert/strict';
import { createHmac, randomBytes, randomInt } from 'node:crypto';
import { describe, it } from 'node:test';
import { hmacKey, hmacSha1, hmacSha1Matches } from '../src/hmac-sha1.js';
import { sign, verify } from '../src/signature.js';

const hex = (text: string): string => Buffer.from(text, 'hex').toString('base64url');

// RFC 2202 section 3, the cases whose data is text (the middleware signs text).
const VECTORS: Array<[key: Buffer | string, data: string, digest: string]> = [
  [Buffer.alloc(20, 0x0b), 'Hi There', 'b617318655057264e28bc0b6fb378c8ef146be00'],
  ['Jefe', 'what do ya want for nothing?', 'effcdf6ae5eb2fa2d27416d5f184df9c259a7c79'],
  [Buffer.alloc(20, 0x0c), 'Test With Truncation', '4c1a03424b55e07fe7f27be1d58bb9324a9a5a04'],
  [Buffer.alloc(80, 0xaa), 'Test Using Larger Than Block-Size Key - Hash Key First', 'aa4ae5e15272d00e95705637ce8a3b55ed402112'],
  [Buffer.alloc(80, 0xaa), 'Test Using Larger Than Block-Size Key and Larger Than One Block-Size Data', 'e8e99d0f45237d786d6bbaa7965c7808bbff1a91'],
];

const reference = (key: Buffer | string, data: string): string => createHmac('sha1', key).update(data).digest('base64url');

/** `length` UTF-16 units: mostly printable ASCII, some Latin-1, some beyond, some lone surrogates. */
function randomMessage(length: number): string {
  let text = '';
  for (let i = 0; i < length; i++) {
    const kind = randomInt(20);
    text += String.fromCharCode(kind < 16 ? randomInt(32, 127) : kind === 16 ? randomInt(128, 256) : kind === 17 ? randomInt(0x100, 0xd800) : kind === 18 ? randomInt(0xd800, 0xe000) : randomInt(0xe000, 0x10000));
  }
  return text;
}

function randomKey(): Buffer | string {
  const length = [0, 1, 32, 63, 64, 65, 100, 200][randomInt(8)] as number;
  return randomInt(2) === 0 ? randomBytes(length) : randomMessage(length);
}

describe('HMAC-SHA1', () => {
  it("gives RFC 2202's digests", () => {
    for (const [key, data, digest] of VECTORS) assert.equal(hmacSha1(hmacKey(key), data), hex(digest), data);
  });

  it('gives what createHmac gives, for messages of every length around the block boundaries', () => {
    const key = 'app key';
    for (let length = 0; length <= 200; length++) {
      const ascii = 'k'.repeat(length);
      assert.equal(hmacSha1(hmacKey(key), ascii), reference(key, ascii), `ASCII, ${length} characters`);
      const mixed = randomMessage(length);
      assert.equal(hmacSha1(hmacKey(key), mixed), reference(key, mixed), `mixed, ${length} characters`);
    }
  });

  it('gives what createHmac gives, for 5,000 random keys and messages', () => {
    for (let i = 0; i < 5000; i++) {
      const key = randomKey();
      const data = randomMessage(randomInt(i % 10 === 0 ? 5000 : 300));
      const pads = hmacKey(key);
      const expected = reference(key, data);
      assert.equal(hmacSha1(pads, data), expected);
      assert.ok(hmacSha1Matches(pads, data, expected));
    }
  });

  it('matches only the exact signature: any one character changed, a prefix, or a longer value fails', () => {
    const pads = hmacKey('app key');
    const data = 'koa:sess=some value';
    const signature = reference('app key', data);
    assert.ok(hmacSha1Matches(pads, data, signature));
    for (let i = 0; i < signature.length; i++) {
      for (const replacement of ['A', '-', '_', '+', '/', '=', '\u00ff']) {
        const changed = signature.slice(0, i) + replacement + signature.slice(i + 1);
        if (changed !== signature) assert.equal(hmacSha1Matches(pads, data, changed), false, changed);
      }
    }
    // A character beyond Latin-1 whose low byte is the right digit (as a latin1 write would see it).
    for (let i = 0; i < signature.length; i++) {
      const lookalike = signature.slice(0, i) + String.fromCharCode(0x100 | signature.charCodeAt(i)) + signature.slice(i + 1);
      assert.equal(hmacSha1Matches(pads, data, lookalike), false, `look-alike at ${i}`);
    }
    assert.equal(hmacSha1Matches(pads, data, signature.slice(0, -1)), false);
    assert.equal(hmacSha1Matches(pads, data, `${signature}A`), false);
    assert.equal(hmacSha1Matches(pads, `${data}x`, signature), false);
  });

  it('signs with the first of app.keys and verifies with any, a Buffer key changed in place at once', () => {
    const old = Buffer.from('old secret');
    const keys = ['new secret', old];
    assert.equal(sign('koa:sess=v', keys), reference('new secret', 'koa:sess=v'));
    assert.equal(verify('koa:sess=v', reference(old, 'koa:sess=v'), keys), 1);
    const signedByOld = reference(old, 'koa:sess=v');
    old.write('OLD');
    assert.equal(verify('koa:sess=v', signedByOld, keys), -1);
    assert.equal(verify('koa:sess=v', reference(old, 'koa:sess=v'), keys), 1);
  });
});
