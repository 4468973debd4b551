// The memory of verified cookies admits every cookie, and looks on every
// request, while returning cookies hit it; while fewer than one lookup in 16
// hits (many users, each back only after thousands of others) it admits one
// cookie in 16, and while fewer than one in 32 hits it also looks on only one
// request in 16, so remembering costs nothing it cannot repay.
// A hit always needs the exact signature and value that verified.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Carried } from '../src/carriers/carrier.js';
import { VerifiedCookies } from '../src/verified-cookies.js';

const KEY = 'key';

function contents(n: number): Carried {
  return { sid: `id${n}`, ctime: n, exp: undefined, touched: n, json: undefined, value: `value${n}`, reissue: false };
}

/** What the middleware does with a cookie: look it up, and remember it when it was not known (it verified). */
function see(memory: VerifiedCookies, n: number): boolean {
  const hit = memory.lookup(`sig${n}`, `value${n}`) !== undefined;
  if (!hit) memory.remember(`sig${n}`, `value${n}`, KEY, contents(n));
  return hit;
}

/** 2,000 cookies seen once each: a generation fills with no hit, and the next is sampled. */
function coldTraffic(memory: VerifiedCookies, from = 0): void {
  for (let n = from; n < from + 2000; n++) see(memory, n);
}

describe('verified cookies', () => {
  it('remembers a cookie the first time while cookies come back', () => {
    const memory = new VerifiedCookies();
    assert.equal(see(memory, 1), false);
    assert.equal(see(memory, 1), true);
    assert.deepEqual(memory.lookup('sig1', 'value1')?.contents, contents(1));
  });

  it('never answers for a seen signature with another value, nor a seen value with another signature', () => {
    const memory = new VerifiedCookies();
    see(memory, 1);
    assert.equal(memory.lookup('sig1', 'value2'), undefined);
    assert.equal(memory.lookup('sig2', 'value1'), undefined);
  });

  it('admits one cookie in 16 and looks on one request in 16 once a generation went by with almost no hits, and a busy cookie still gets in', () => {
    const memory = new VerifiedCookies();
    coldTraffic(memory);
    const before = memory.size;
    for (let n = 10_000; n < 10_016; n++) see(memory, n);
    assert.equal(memory.size - before, 1, 'one of 16 new cookies admitted');
    // A cookie sent again and again is admitted within 16 of its requests, then hits on the next request that looks.
    let misses = 0;
    while (!see(memory, 20_000)) misses++;
    assert.ok(misses <= 32, `first hit after ${misses} misses`);
    let hits = 0;
    for (let i = 0; i < 16 * 8; i++) if (see(memory, 20_000)) hits++;
    assert.equal(hits, 8, 'one request in 16 looks, and each look hits');
  });

  it('looks on every request while one lookup in 32 hits, even while it admits one cookie in 16', () => {
    const memory = new VerifiedCookies();
    // One request in 20 is a cookie already held: fewer hits than one in 16, more than one in 32.
    see(memory, 70_000);
    let n = 0;
    while (memory.size < 1500) {
      see(memory, ++n);
      if (n % 19 === 0) see(memory, 70_000);
    }
    const before = memory.size;
    for (let i = 1; i <= 16; i++) see(memory, 80_000 + i);
    assert.equal(memory.size - before, 1, 'one of 16 new cookies admitted');
    for (let i = 0; i < 32; i++) assert.equal(see(memory, 70_000), true, 'every request looks, and hits');
  });

  it('admits every cookie again once cookies come back', () => {
    const memory = new VerifiedCookies();
    coldTraffic(memory);
    // Busy traffic: each new cookie is followed by two requests of a cookie already held.
    while (!see(memory, 50_000));
    for (let n = 30_000; memory.size < 2000 || n < 30_000 + 16 * 1000; n++) {
      see(memory, n);
      see(memory, 50_000);
      see(memory, 50_000);
    }
    const fresh = 90_000;
    assert.equal(see(memory, fresh), false);
    assert.equal(see(memory, fresh), true, 'remembered on first sight');
  });

  it('holds at most 2,000 cookies whatever comes', () => {
    const memory = new VerifiedCookies();
    for (let n = 0; n < 50_000; n++) {
      see(memory, n);
      if (n % 3 === 0) see(memory, n - 1);
      assert.ok(memory.size <= 2000);
    }
  });
});
