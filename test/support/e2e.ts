// The end-to-end scenario of issue 4: one session's whole life (create, read,
// change, rolling touch, regenerate, expire, destroy) through a real Koa app
// over real HTTP, checking at each step what the store itself holds through a
// raw view (redis-cli-style commands or SQL on a connection of its own), never
// through the store's own `load`.
//
// Time bounds are logical, not guesses about speed: an entry written during a
// request that started at `t0` expires no earlier than `t0 + maxAge`, so a ttl
// read at `t1` is at least `maxAge - (t1 - t0)`. Only an entry that genuinely
// expired mid-step (a stall longer than maxAge) can fail them.
import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import request from 'supertest';
import type { Response } from 'supertest';
import { session } from '../../src/index.js';
import type { SessionStore } from '../../src/index.js';
import { settle } from '../../src/store.js';
import { makeApp, setCookies, sleep } from './http.js';

/**
 * The store's own contents, read without the store's code: a separate Redis
 * client (GET / PTTL) or a separate SQL connection.
 */
export interface RawView {
  /** The stored text exactly as the store holds it; undefined when absent or expired. */
  get(sid: string): Promise<string | undefined>;
  /**
   * Milliseconds the entry has left (Infinity when it never expires); undefined when absent or expired.
   * `null` when the store has no outside view of its expiry (MemoryStore).
   */
  ttlMs: ((sid: string) => Promise<number | undefined>) | null;
  /**
   * SQL stores: the row's `expires_at` in ms since the epoch even when it has
   * expired (null: never expires); undefined when there is no row at all.
   */
  rowExpiresAt?: (sid: string) => Promise<number | null | undefined>;
}

export interface EndToEndTarget {
  /** Makes the store, its raw view and the cleanup of both; called once before the steps. */
  create(): Promise<{ store: SessionStore; raw: RawView; cleanup(): Promise<void> }>;
  /** A reason to skip (a service is not reachable outside CI), or false. */
  skip?: string | false;
}

/**
 * Session lifetime: short, so the expire step waits little, yet well above what
 * one step takes on a loaded CI machine (1.5 s ran out between two steps of 1.3
 * and 1.7 s once, on Node 24 with three test files at a time).
 */
export const MAX_AGE = 4000;
/** Wait before the rolling touch, so a reset expiry is clearly later than the old one. */
const TOUCH_WAIT = 600;
/** How far past the last expiry the expire step waits. */
const EXPIRY_MARGIN = 400;
/** Clock rounding between Node, Redis and PostgreSQL on one machine (ms granularity, ceil of ttls). */
const SLACK = 25;
const COOKIE = 'koa:sess';
const SIG = `${COOKIE}.sig`;
const EXPIRED_DATE = 'expires=Thu, 01 Jan 1970 00:00:00 GMT';

/** Data a login puts in the session: nested, non-ASCII, several types. */
const LOGIN_DATA = { user: { name: 'Ada Lovelace', city: 'Zürich ☕ 東京' }, roles: ['admin', 'dev'], visits: 1 };

interface Body {
  sid: string;
  session: Record<string, unknown>;
}

interface Running {
  readonly agent: ReturnType<typeof request>;
  close(): Promise<void>;
}

/**
 * A Koa app with one route per thing a handler does to a session, on 127.0.0.1.
 * Not `listen()` from http.ts: that registers its own `after`, which inside a
 * `before` hook would close the server as soon as the hook ends.
 */
async function startApp(store: SessionStore): Promise<Running> {
  const app = makeApp();
  app.use(session({ store, rolling: true, cookie: { maxAge: MAX_AGE } }));
  app.use(async (ctx) => {
    switch (ctx.path) {
      case '/login':
        Object.assign(ctx.session, structuredClone(LOGIN_DATA));
        break;
      case '/read':
        void ctx.session;
        break;
      case '/change': {
        // A set, an added key and a deleted key: a patch-capable store gets all three kinds.
        const visits = typeof ctx.session.visits === 'number' ? ctx.session.visits : 0;
        ctx.session.visits = visits + 1;
        ctx.session.cart = ['🍎', { sku: 'a"b\\c', qty: 2 }];
        delete ctx.session.roles;
        break;
      }
      case '/regenerate':
        await ctx.regenerateSession();
        break;
      case '/logout':
        ctx.session = null;
        ctx.body = { loggedOut: true };
        return;
      default:
        ctx.throw(404);
    }
    ctx.body = { sid: ctx.sessionId, session: ctx.session } satisfies Body;
  });
  const server = http.createServer(app.callback());
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    agent: request(`http://127.0.0.1:${port}`),
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/** A minimal cookie jar for one client: keeps what the server set, drops what it expired. */
class Browser {
  readonly jar = new Map<string, string>();
  constructor(private readonly running: Running) {}

  /** The Cookie header this browser sends. */
  cookieHeader(): string {
    return [...this.jar].map(([name, value]) => `${name}=${value}`).join('; ');
  }

  /** The id the session cookie names (`sid.ctime.touched`). */
  cookieSid(): string | undefined {
    return this.jar.get(COOKIE)?.split('.')[0];
  }

  /** A copy of this browser holding the same cookies, to replay them later. */
  clone(): Browser {
    const copy = new Browser(this.running);
    for (const [name, value] of this.jar) copy.jar.set(name, value);
    return copy;
  }

  async get(path: string): Promise<Response> {
    const req = this.running.agent.get(path);
    if (this.jar.size > 0) req.set('Cookie', this.cookieHeader());
    const res = await req;
    assert.equal(res.status, 200, `GET ${path} answered ${res.status}: ${res.text}`);
    for (const header of setCookies(res)) {
      const pair = header.split(';')[0] as string;
      const eq = pair.indexOf('=');
      const name = pair.slice(0, eq);
      if (header.includes(EXPIRED_DATE)) this.jar.delete(name);
      else this.jar.set(name, pair.slice(eq + 1));
    }
    return res;
  }
}

/** The Set-Cookie headers of a response by cookie name; fails on duplicates. */
function cookiesByName(res: Response): Map<string, string> {
  const byName = new Map<string, string>();
  for (const header of setCookies(res)) {
    const name = header.slice(0, header.indexOf('='));
    assert.ok(!byName.has(name), `cookie ${name} set twice in one response`);
    byName.set(name, header);
  }
  return byName;
}

/** The response sets exactly the session cookie and its signature, both with the session's Max-Age. */
function assertSessionCookieSet(res: Response, sid: string): void {
  const byName = cookiesByName(res);
  assert.deepEqual([...byName.keys()].sort(), [COOKIE, SIG], 'exactly the session cookie and its .sig are set');
  for (const header of byName.values()) {
    assert.match(header, new RegExp(`; max-age=${Math.floor(MAX_AGE / 1000)}; expires=`), `${header} carries the session's Max-Age`);
    assert.match(header, /; httponly/);
    assert.match(header, /; samesite=lax/);
  }
  const value = (byName.get(COOKIE) as string).split(';')[0] as string;
  assert.equal(value.slice(COOKIE.length + 1).split('.')[0], sid, 'the cookie names the session id the handler saw');
}

/** The entry's raw ttl is in (0, maxAge] and no less than what was left of maxAge since `since` (when the write's request started). */
async function assertFreshTtl(raw: RawView, sid: string, since: number, what: string): Promise<number | undefined> {
  if (raw.ttlMs === null) return undefined;
  const ttl = await raw.ttlMs(sid);
  const elapsed = Date.now() - since;
  assert.ok(ttl !== undefined, `${what}: the entry has a ttl (it exists)`);
  assert.ok(ttl > 0 && ttl <= MAX_AGE, `${what}: ttl ${ttl} is within (0, ${MAX_AGE}]`);
  assert.ok(ttl >= MAX_AGE - elapsed - SLACK, `${what}: ttl ${ttl} was reset to maxAge during the request (${elapsed} ms ago)`);
  return ttl;
}

/** SQL stores: the row's expires_at lies within maxAge of the request that wrote it. */
async function assertRowExpiry(raw: RawView, sid: string, started: number, finished: number, what: string): Promise<number | undefined> {
  if (raw.rowExpiresAt === undefined) return undefined;
  const expiresAt = await raw.rowExpiresAt(sid);
  assert.ok(typeof expiresAt === 'number', `${what}: the row has an expires_at`);
  assert.ok(
    expiresAt >= started + MAX_AGE - SLACK && expiresAt <= finished + MAX_AGE + SLACK,
    `${what}: expires_at is maxAge after the request (${expiresAt - started - MAX_AGE} ms after its start + maxAge)`,
  );
  return expiresAt;
}

/** The entry is gone: no value, no ttl, and for SQL no row at all (removed, not merely expired). */
async function assertRemoved(raw: RawView, sid: string, what: string): Promise<void> {
  assert.equal(await raw.get(sid), undefined, `${what}: no entry`);
  if (raw.ttlMs !== null) assert.equal(await raw.ttlMs(sid), undefined, `${what}: no ttl`);
  if (raw.rowExpiresAt !== undefined) assert.equal(await raw.rowExpiresAt(sid), undefined, `${what}: no row`);
}

/**
 * Registers `describe(name)`: one session's whole life on `target`'s store, a
 * step per case (each step builds on the one before). Run several of these
 * concurrently by wrapping them in a `describe` with `concurrency: true`.
 */
export function runEndToEnd(name: string, target: EndToEndTarget): void {
  // Explicit: the steps depend on each other and must not inherit a parent's concurrency.
  describe(name, { skip: target.skip ?? false, concurrency: 1 }, () => {
    let made: Awaited<ReturnType<EndToEndTarget['create']>> | undefined;
    let running: Running | undefined;
    let browser: Browser | undefined;
    /** What the session holds, as the handler last reported it. */
    let expected: Record<string, unknown> = {};
    let sid = '';
    /** The exact JSON the store was given on creation. */
    let createdJson = '';
    /** When the latest write or touch's response arrived: expiry runs from there. */
    let lastWriteDone = 0;
    let lastRowExpiry: number | undefined;

    before(async () => {
      made = await target.create();
      // One store call before the first step: it opens the connection (and creates the table)
      // outside the steps. On a loaded 2-core CI machine (a Cluster starting, Chromium beside it),
      // a first request that also had to connect ran past the 2 s command timeout and got a 503.
      await settle(made.store.load('e2e-warm-up'));
      running = await startApp(made.store);
    });

    after(async () => {
      await running?.close();
      await made?.cleanup();
    });

    const raw = (): RawView => {
      assert.ok(made, 'the store was not created');
      return made.raw;
    };
    const client = (): Browser => {
      assert.ok(browser, 'no session: an earlier step failed');
      return browser;
    };

    it('create: a new session is stored as exactly its JSON, with a ttl of maxAge', async () => {
      assert.ok(running);
      browser = new Browser(running);
      const started = Date.now();
      const res = await browser.get('/login');
      const finished = Date.now();
      const body = res.body as Body;
      assert.deepEqual(body.session, LOGIN_DATA);
      sid = body.sid;
      assert.match(sid, /^[A-Za-z0-9_-]{22,128}$/);
      assertSessionCookieSet(res, sid);
      createdJson = JSON.stringify(LOGIN_DATA);
      assert.equal(await raw().get(sid), createdJson, 'the store holds exactly the JSON of the data');
      await assertFreshTtl(raw(), sid, started, 'create');
      lastRowExpiry = await assertRowExpiry(raw(), sid, started, finished, 'create');
      lastWriteDone = finished;
      expected = body.session;
    });

    it('read: same data, entry unchanged, only the rolling cookie re-set', async () => {
      const started = Date.now();
      const res = await client().get('/read');
      const finished = Date.now();
      const body = res.body as Body;
      assert.equal(body.sid, sid);
      assert.deepEqual(body.session, expected);
      assertSessionCookieSet(res, sid);
      assert.equal(await raw().get(sid), createdJson, 'a read rewrites nothing');
      await assertFreshTtl(raw(), sid, started, 'read (rolling)');
      lastRowExpiry = await assertRowExpiry(raw(), sid, started, finished, 'read (rolling)');
      lastWriteDone = finished;
    });

    it('change: the stored entry holds the new data', async () => {
      const started = Date.now();
      const res = await client().get('/change');
      const finished = Date.now();
      const body = res.body as Body;
      assert.equal(body.sid, sid, 'a change keeps the id');
      // roles deleted, visits set, cart added.
      const wanted = { user: LOGIN_DATA.user, visits: 2, cart: ['🍎', { sku: 'a"b\\c', qty: 2 }] };
      assert.deepEqual(body.session, wanted);
      assertSessionCookieSet(res, sid);
      const stored = await raw().get(sid);
      assert.ok(stored !== undefined, 'the entry still exists');
      // A patch may respell the JSON (PostgreSQL's jsonb reorders keys and adds spaces): compare values.
      assert.deepEqual(JSON.parse(stored), wanted);
      await assertFreshTtl(raw(), sid, started, 'change');
      lastRowExpiry = await assertRowExpiry(raw(), sid, started, finished, 'change');
      lastWriteDone = finished;
      expected = body.session;
    });

    it('rolling touch: a read after a wait resets the expiry to maxAge and re-sets the cookie', async () => {
      await sleep(TOUCH_WAIT);
      const before = await raw().get(sid);
      assert.ok(before !== undefined, 'the entry is still there before the touch');
      const started = Date.now();
      const res = await client().get('/read');
      const finished = Date.now();
      const body = res.body as Body;
      assert.equal(body.sid, sid);
      assert.deepEqual(body.session, expected);
      assertSessionCookieSet(res, sid);
      assert.equal(await raw().get(sid), before, 'a touch leaves the stored text exactly as it was');
      await assertFreshTtl(raw(), sid, started, 'rolling touch');
      const rowExpiry = await assertRowExpiry(raw(), sid, started, finished, 'rolling touch');
      if (rowExpiry !== undefined && lastRowExpiry !== undefined) {
        assert.ok(rowExpiry > lastRowExpiry, `expires_at moved forward (${rowExpiry - lastRowExpiry} ms)`);
      }
      lastRowExpiry = rowExpiry;
      lastWriteDone = finished;
    });

    it('regenerate: a new id holding the same data, the old entry removed', async () => {
      const oldSid = sid;
      const oldCookies = client().clone();
      const started = Date.now();
      const res = await client().get('/regenerate');
      const finished = Date.now();
      const body = res.body as Body;
      assert.notEqual(body.sid, oldSid, 'a new id');
      assert.deepEqual(body.session, expected, 'the same data');
      assertSessionCookieSet(res, body.sid);
      assert.equal(client().cookieSid(), body.sid);
      await assertRemoved(raw(), oldSid, 'the old id after regenerate');
      // Written whole under the new id: exactly the JSON of the data, in the handler's key order.
      assert.equal(await raw().get(body.sid), JSON.stringify(body.session));
      await assertFreshTtl(raw(), body.sid, started, 'regenerate');
      lastRowExpiry = await assertRowExpiry(raw(), body.sid, started, finished, 'regenerate');
      lastWriteDone = finished;
      sid = body.sid;

      // The pre-regeneration cookie (what a session-fixation attacker holds) opens nothing.
      const replay = await oldCookies.get('/read');
      const replayed = replay.body as Body;
      assert.deepEqual(replayed.session, {});
      assert.notEqual(replayed.sid, oldSid);
      assert.notEqual(replayed.sid, sid);
      await assertRemoved(raw(), oldSid, 'the old id after its cookie was replayed');
    });

    it('expire: past maxAge the entry is gone; the old cookie gets a fresh session and never revives it', async () => {
      const wait = lastWriteDone + MAX_AGE + EXPIRY_MARGIN - Date.now();
      if (wait > 0) await sleep(wait);
      assert.equal(await raw().get(sid), undefined, 'the entry expired');
      if (raw().ttlMs !== null) assert.equal(await raw().ttlMs?.(sid), undefined, 'no ttl left');
      // An SQL row may outlive its expiry until a sweep; then it must keep its old expires_at.
      const expiredRow = await raw().rowExpiresAt?.(sid);
      if (expiredRow !== undefined) {
        assert.ok(expiredRow !== null && expiredRow <= Date.now(), 'a remaining row is past its expires_at');
        assert.equal(expiredRow, lastRowExpiry, 'the row is the one last written');
      }

      const read = await client().get('/read');
      const fresh = read.body as Body;
      assert.deepEqual(fresh.session, {}, 'a fresh, empty session');
      assert.notEqual(fresh.sid, sid, 'with a new id');
      assert.equal(await raw().get(sid), undefined, 'reading with the old cookie did not revive the entry');

      // A write with the old cookie creates a new session; the expired one stays dead.
      const started = Date.now();
      const res = await client().get('/change');
      const finished = Date.now();
      const written = res.body as Body;
      assert.notEqual(written.sid, sid, 'a write with the old cookie gets a new id');
      assert.notEqual(written.sid, fresh.sid);
      assert.deepEqual(written.session, { visits: 1, cart: ['🍎', { sku: 'a"b\\c', qty: 2 }] }, 'nothing of the expired data');
      assertSessionCookieSet(res, written.sid);
      assert.equal(await raw().get(written.sid), JSON.stringify(written.session));
      await assertFreshTtl(raw(), written.sid, started, 'new session after expiry');
      await assertRowExpiry(raw(), written.sid, started, finished, 'new session after expiry');
      assert.equal(await raw().get(sid), undefined, 'the expired entry was not resurrected');
      if (raw().ttlMs !== null) assert.equal(await raw().ttlMs?.(sid), undefined);
      if (raw().rowExpiresAt !== undefined) {
        assert.equal(await raw().rowExpiresAt?.(sid), expiredRow, "the expired row's expires_at did not move");
      }
    });

    it('destroy: ctx.session = null removes the entry and expires both cookies', async () => {
      assert.ok(running);
      const user = new Browser(running);
      const login = await user.get('/login');
      const loggedIn = (login.body as Body).sid;
      assert.equal(await raw().get(loggedIn), JSON.stringify(LOGIN_DATA));
      const kept = user.clone();

      const res = await user.get('/logout');
      assert.deepEqual(res.body, { loggedOut: true });
      const byName = cookiesByName(res);
      assert.deepEqual([...byName.keys()].sort(), [COOKIE, SIG], 'both cookies are set again');
      for (const header of byName.values()) {
        assert.ok(header.startsWith(`${header.slice(0, header.indexOf('='))}=;`), `${header} has an empty value`);
        assert.ok(header.includes(EXPIRED_DATE), `${header} is expired`);
      }
      assert.equal(user.jar.size, 0, 'the browser dropped both cookies');
      await assertRemoved(raw(), loggedIn, 'after logout');

      // A copy of the cookie kept from before the logout opens nothing and revives nothing.
      const replay = await kept.get('/read');
      const replayed = replay.body as Body;
      assert.deepEqual(replayed.session, {});
      assert.notEqual(replayed.sid, loggedIn);
      await assertRemoved(raw(), loggedIn, 'after replaying the logged-out cookie');
    });
  });
}
