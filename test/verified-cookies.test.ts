// The memory of verified cookies admits a cookie when it verifies a second
// time soon after the first (within about 1,000 other verified cookies), so
// with many users each coming back only after thousands of others it holds
// almost nothing, and a busy cookie gets in at its second request. While
// fewer than one lookup in 32 hits, only one request in 16 looks.
// A hit always needs the exact signature and value that verified.
import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import { describe, it } from 'node:test';
import type { Carried } from '../src/carriers/carrier.js';
import { VerifiedCookies } from '../src/verified-cookies.js';

const KEY = 'key';

function contents(n: number): Carried {
  return { sid: `id${n}`, ctime: n, exp: undefined, touched: n, json: undefined, value: `value${n}`, reissue: false };
}

/** Cookie n's signature: an HMAC-SHA1 in base64url, as the middleware only remembers cookies whose signature verified. */
function sig(n: number): string {
  return createHmac('sha1', KEY).update(`value${n}`).digest('base64url');
}

/** What the middleware does with a cookie: look it up, and remember it when it was not known (it verified). */
function see(memory: VerifiedCookies, n: number): boolean {
  const hit = memory.lookup(sig(n), `value${n}`) !== undefined;
  if (!hit) memory.remember(sig(n), `value${n}`, KEY, contents(n));
  return hit;
}

describe('verified cookies', () => {
  it('admits a cookie at its second verification, and hits from the third request on', () => {
    const memory = new VerifiedCookies();
    assert.equal(see(memory, 1), false, 'first request: verified, seen');
    assert.equal(memory.size, 0);
    assert.equal(see(memory, 1), false, 'second request: verified again, admitted');
    assert.equal(memory.size, 1);
    assert.equal(see(memory, 1), true);
    assert.deepEqual(memory.lookup(sig(1), 'value1')?.contents, contents(1));
  });

  it('never answers for a held signature with another value, nor a held value with another signature', () => {
    const memory = new VerifiedCookies();
    see(memory, 1);
    see(memory, 1);
    assert.equal(memory.lookup(sig(1), 'value2'), undefined);
    assert.equal(memory.lookup(sig(2), 'value1'), undefined);
  });

  it('admits almost none of 10,000 users taking turns, and then looks on one request in 16', () => {
    const memory = new VerifiedCookies();
    let hits = 0;
    for (let round = 0; round < 5; round++) for (let n = 0; n < 10_000; n++) if (see(memory, n)) hits++;
    // A cookie comes back only after 9,999 others: its hash has almost surely left the 1,024-slot filter.
    assert.ok(memory.size <= 50, `${memory.size} of 50,000 verified cookies admitted`);
    assert.ok(hits <= 50, `${hits} hits`);
    // No lookup hits, so only one request in 16 still looks: a cookie held now hits once per 16 requests.
    see(memory, 20_000);
    see(memory, 20_000);
    let looked = 0;
    for (let i = 0; i < 16 * 8; i++) if (memory.lookup(sig(20_000), 'value20000') !== undefined) looked++;
    assert.equal(looked, 8, 'one request in 16 looks, and each look hits');
  });

  it('admits a cookie that comes back within a few hundred others, and hits it on every request while hits are common', () => {
    const memory = new VerifiedCookies();
    let hits = 0;
    let requests = 0;
    // Zipf-like traffic: user k is sent about 1/k as often as user 1, 10,000 users.
    let seed = 11;
    const random = (): number => {
      seed = (seed * 1103515245 + 12345) % 2147483648;
      return seed / 2147483648;
    };
    const harmonic = Math.log(10_000) + 0.5772;
    for (; requests < 100_000; requests++) {
      const user = Math.min(10_000, Math.floor(Math.exp(random() * harmonic)));
      if (see(memory, user)) hits++;
    }
    assert.ok(hits > requests / 2, `${hits} of ${requests} requests hit`);
    // A busy user: admitted at the second request, then every request hits.
    const busy = 90_000;
    assert.equal(see(memory, busy), false);
    assert.equal(see(memory, busy), false);
    for (let i = 0; i < 32; i++) assert.equal(see(memory, busy), true, 'every request looks, and hits');
  });

  it('looks on every request again once lookups hit', () => {
    const memory = new VerifiedCookies();
    for (let round = 0; round < 3; round++) for (let n = 0; n < 10_000; n++) see(memory, n);
    // Now one cookie, again and again: it is admitted, the 1-in-16 lookups all hit, and within one window
    // of 1,000 lookups (16,000 requests) every request looks again.
    for (let i = 0; i < 17_000; i++) see(memory, 50_000);
    for (let i = 0; i < 32; i++) assert.equal(see(memory, 50_000), true);
  });

  it('holds at most 2,000 cookies whatever comes', () => {
    const memory = new VerifiedCookies();
    for (let n = 0; n < 50_000; n++) {
      see(memory, n);
      see(memory, n);
      if (n % 3 === 0) see(memory, n - 1);
      assert.ok(memory.size <= 2000);
    }
    assert.ok(memory.size >= 1000, 'and keeps at least the last 1,000 admitted');
  });
});
