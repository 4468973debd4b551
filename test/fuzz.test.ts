// Property test: whatever Cookie header a client sends, on every store, the
// answer is a 200 with a plain-object session (a fresh one for anything the
// middleware did not issue), never a 500, and no JSON key reaches a prototype.
// Cookies come from a seeded generator (the seed is printed, so a failure can
// be replayed with FUZZ_SEED): random text, mutations of genuine cookies, and
// payloads signed with the app's real key, so they get past the signature and
// reach the decoders: deep nesting, metadata-named keys, `__proto__`, bad
// escapes, 2.0 and 3.0 formats, malformed ids and times.
import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import { Redis } from 'ioredis';
import pg from 'pg';
import { MemoryStore, session } from '../src/index.js';
import type { SessionOptions } from '../src/index.js';
import { PostgresStore } from '../src/postgres.js';
import { RedisStore } from '../src/redis.js';
import { SqliteStore } from '../src/sqlite.js';
import { listen, makeApp } from './support/http.js';
import { DATABASE_URL, postgresSkip, REDIS_URL, redisSkip, runTag } from './support/services.js';
import { deleteKeys, RUN_PREFIX } from './stores/redis-helpers.js';

const CASES = Number(process.env.FUZZ_CASES ?? 2500);
/** Each store stops early past this, so the suite stays bounded on a slow machine. */
const TIME_BUDGET_MS = 20_000;
const KEY = 'fuzz key';
const SEED = Number(process.env.FUZZ_SEED ?? Date.now() % 1_000_000);

/** mulberry32: small, seeded, good enough to pick cases. */
function random(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

class Generator {
  readonly #next: () => number;
  constructor(seed: number) {
    this.#next = random(seed);
  }
  int(below: number): number {
    return Math.floor(this.#next() * below);
  }
  pick<T>(items: readonly T[]): T {
    return items[this.int(items.length)] as T;
  }
  chars(alphabet: string, max: number): string {
    let text = '';
    for (let i = this.int(max + 1); i > 0; i--) text += alphabet[this.int(alphabet.length)];
    return text;
  }
  /** Any UTF-16 code units, lone surrogates included. */
  unicode(max: number): string {
    let text = '';
    for (let i = this.int(max + 1); i > 0; i--) text += String.fromCharCode(this.pick([this.int(128), this.int(0x10000), 0xd800 + this.int(0x800)]));
    return text;
  }
  key(): string {
    return this.pick(['_sid', '_ctime', '_exp', '__proto__', 'constructor', 'prototype', 'toString', '', 'views', '\u0000', '\ud800', this.unicode(8)]);
  }
  json(depth: number): string {
    const kind = depth > 6 ? this.int(4) : this.int(7);
    switch (kind) {
      case 0:
        return String(this.pick([0, -1, 1e308, 2 ** 53 + 1, 1.5, -0]));
      case 1:
        return JSON.stringify(this.unicode(12));
      case 2:
        return this.pick(['true', 'false', 'null']);
      case 3:
        return this.pick(['{}', '[]', '"', '{', '[', '1e999', 'NaN', '"\\ud800"', '"\\x41"', '"\\u12"']);
      case 4:
        return `[${Array.from({ length: this.int(4) }, () => this.json(depth + 1)).join(',')}]`;
      case 5:
        return `{${Array.from({ length: this.int(4) }, () => `${JSON.stringify(this.key())}:${this.json(depth + 1)}`).join(',')}}`;
      default: {
        // Deep enough to overflow a recursive JSON.stringify, balanced or cut short.
        const nesting = 1000 + this.int(6000);
        return `${'['.repeat(nesting)}${']'.repeat(this.int(3) === 0 ? this.int(nesting) : nesting)}`;
      }
    }
  }
  /** Mostly a JSON object (what a session is), sometimes anything at all. */
  data(): string {
    if (this.int(4) === 0) return this.json(0);
    return `{${Array.from({ length: this.int(5) }, () => `${JSON.stringify(this.key())}:${this.json(1)}`).join(',')}}`;
  }
  /** Mostly well-formed, so cases get past the shape checks to the JSON behind them. */
  id(): string {
    if (this.int(10) < 7) return this.pick(['abcdefghijklmno', 'f47ac10b-58cc-4372-a567-0e02b2c3d479']);
    return this.pick(['abcdefghijklmno', 'f47ac10b-58cc-4372-a567-0e02b2c3d479', '', 'a'.repeat(129), 'a b', 'a.b', '../x', this.chars('abc-_.%" ', 40)]);
  }
  time(): string {
    if (this.int(10) < 7) return String(Date.now() + 60_000);
    return this.pick([String(Date.now()), String(Date.now() + 60_000), '0', '-1', '1e20', '9'.repeat(16), 'x', '', String(this.int(2 ** 31))]);
  }
  /** A session cookie value built the way one of the formats would be, with random parts. */
  value(): string {
    const data = this.data();
    const base64 = (text: string) => Buffer.from(text, 'utf8').toString('base64url');
    switch (this.int(8)) {
      case 0:
        return base64(`["${this.id()}",${this.time()},${this.time()},${data}]`);
      case 1:
        return `["${this.id()}",${this.time()},${this.time()},${data}]`.replace(/[;\s]/g, encodeURIComponent);
      case 2:
        return this.pick(['[%', '[%ZZ', '[%E0%A4%A', `["x",1,0,{"a":"%ud800"}]`, `["abcdefghijklmno",1,0,{}]%`]);
      case 3:
        return base64(`{"_sid":"${this.id()}","_ctime":${this.time()}${this.int(2) ? `,"_exp":${this.time()}` : ''},${data.slice(1)}`);
      case 4:
        return `{"_sid":"${this.id()}",${data.slice(1)}`.replace(/[;\s]/g, '');
      case 5:
        return `${this.id()}.${this.chars('0123456789az', 12)}.${this.chars('0123456789az', 12)}`;
      case 6:
        return this.id();
      default:
        return this.chars('ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.%[]{}",:=', 200);
    }
  }
  /** A whole Cookie header: signed correctly, signed wrongly, unsigned, mangled or duplicated. */
  header(name: string): string {
    const value = this.value();
    const signature = createHmac('sha1', KEY).update(`${name}=${value}`).digest('base64url');
    // Node answers 431 itself past 16 KB of headers, before any middleware runs.
    return this.arrange(name, value, signature).slice(0, 15_000);
  }
  private arrange(name: string, value: string, signature: string): string {
    switch (this.int(6)) {
      case 0:
        return `${name}=${value}`;
      case 1:
        return `${name}=${value}; ${name}.sig=${signature.slice(0, this.int(27))}`;
      case 2:
        return `${name}=${value}; ${name}.sig=${signature}; ${name}=${this.value()}`;
      case 3:
        return `a=b;${name}=${value};;  ${name}.sig=${signature}; ${this.chars('=;, ', 6)}`;
      default:
        return `${name}=${value}; ${name}.sig=${signature}`;
    }
  }
}

/**
 * The header as a client's bytes: UTF-8, each byte one character as Node reads headers
 * (latin1), and the control bytes no HTTP parser lets through made visible instead.
 */
function onTheWire(header: string): string {
  let wire = '';
  for (const char of Buffer.from(header, 'utf8').toString('latin1')) {
    const code = char.charCodeAt(0);
    wire += (code < 0x20 && code !== 0x09) || code === 0x7f ? '?' : char;
  }
  return wire;
}

/** Sends `CASES` generated cookies (20 at a time) and checks each answer. */
async function fuzz(label: string, options: SessionOptions, seed: number): Promise<number> {
  const app = makeApp(undefined, [KEY]);
  app.use(session(options));
  app.use((ctx) => {
    if (ctx.path === '/write') ctx.session.touched = ((ctx.session.touched as number | undefined) ?? 0) + 1;
    ctx.body = { session: ctx.session, proto: Object.getPrototypeOf(ctx.session) === Object.prototype || Object.getPrototypeOf(ctx.session) === null };
  });
  const { url, errors } = await listen(app);
  const generate = new Generator(seed);
  const started = Date.now();
  let sent = 0;
  while (sent < CASES && Date.now() - started < TIME_BUDGET_MS) {
    const batch = Array.from({ length: 20 }, () => ({ header: generate.header('koa:sess'), write: generate.int(3) === 0 }));
    const answers = await Promise.all(
      batch.map(async ({ header, write }) => {
        const res = await fetch(`${url}${write ? '/write' : '/'}`, { headers: { cookie: onTheWire(header) } });
        return { header, status: res.status, body: (await res.json().catch(() => undefined)) as { session?: unknown; proto?: boolean } | undefined };
      }),
    );
    for (const { header, status, body } of answers) {
      const replay = `(${label}, FUZZ_SEED=${seed}, cookie ${JSON.stringify(header.slice(0, 200))})`;
      assert.equal(status, 200, `status ${status} ${replay}`);
      assert.ok(body?.session !== null && typeof body?.session === 'object' && !Array.isArray(body.session), `session is an object ${replay}`);
      assert.equal(body.proto, true, `session has a plain prototype ${replay}`);
    }
    sent += batch.length;
  }
  assert.deepEqual(errors.map((error) => error.message), []);
  assert.equal(({} as Record<string, unknown>).polluted, undefined);
  return sent;
}

describe(`fuzzed Cookie headers give a 200 and a plain session on every store (seed ${SEED})`, async () => {
  const folder = mkdtempSync(path.join(os.tmpdir(), 'kss-fuzz-'));
  const tag = runTag();
  const redisReason = await redisSkip();
  const postgresReason = await postgresSkip();
  const redis = redisReason ? undefined : new Redis(REDIS_URL);
  const pool = postgresReason ? undefined : new pg.Pool({ connectionString: DATABASE_URL, max: 10 });
  pool?.on('error', () => {});
  const prefix = `${RUN_PREFIX}fuzz:`;
  const schema = `kss_${tag}_fuzz`;
  const sqlite = new SqliteStore({ path: path.join(folder, 'fuzz.db') });
  after(async () => {
    sqlite.close();
    rmSync(folder, { recursive: true, force: true });
    if (redis) {
      await deleteKeys(redis, prefix);
      await redis.quit();
    }
    await pool?.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
    await pool?.end();
  });

  const cases: Array<[string, () => SessionOptions, string | false]> = [
    ['signed cookie store', () => ({}), false],
    ['unsigned cookie store', () => ({ cookie: { signed: false } }), false],
    ['cookie store with maxLifetime and rolling', () => ({ maxLifetime: 60_000, rolling: true }), false],
    ['MemoryStore', () => ({ store: new MemoryStore() }), false],
    ['SqliteStore', () => ({ store: sqlite }), false],
    ['RedisStore', () => ({ store: new RedisStore({ client: redis as Redis, prefix }) }), redisReason],
    ['PostgresStore', () => ({ store: new PostgresStore({ pool: pool as pg.Pool, schema }) }), postgresReason],
  ];
  cases.forEach(([label, options, skip], index) => {
    it(`never answers other than 200 with a plain session: ${label}`, { skip }, async (t) => {
      const sent = await fuzz(label, options(), SEED + index);
      t.diagnostic(`${sent} cookies sent`);
      assert.ok(sent >= 500, `only ${sent} cases ran within ${TIME_BUDGET_MS} ms`);
    });
  });
});
