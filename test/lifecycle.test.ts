// Expiry, rolling, throttled touches, the absolute cap, and the handler's
// controls: sessionId, regenerateSession, saveSession, null-then-new.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type Koa from 'koa';
import { MemoryStore, session } from '../src/index.js';
import type { SessionOptions } from '../src/index.js';
import { cookieHeader, cookieValue, KOA_VERSIONS, listen, makeApp, setCookies, sleep } from './support/http.js';
import { signedCookie } from './support/sign.js';
import { countingStore } from './support/stores.js';

/** An app whose routes do one thing each with the session. */
function routes(app: Koa): void {
  app.use(async (ctx) => {
    switch (ctx.path) {
      case '/set':
        ctx.session.n = ((ctx.session.n as number) ?? 0) + 1;
        break;
      case '/read':
        void ctx.session.n;
        break;
      case '/null':
        ctx.session = null;
        break;
      case '/null-then-write':
        ctx.session = null;
        ctx.session.user = 'after';
        break;
      case '/null-then-new':
        ctx.session = null;
        ctx.session = { user: 'new' };
        break;
      case '/regenerate':
        await ctx.regenerateSession();
        break;
      case '/save-then-change':
        ctx.session.step = 1;
        await ctx.saveSession();
        if (ctx.query.more) ctx.session.step = 2;
        break;
      case '/untouched':
        ctx.body = 'untouched';
        return;
      default:
        break;
    }
    ctx.body = { id: ctx.sessionId, session: ctx.session };
  });
}

async function start(KoaClass: typeof Koa, options: SessionOptions) {
  const app = makeApp(KoaClass, ['k1']);
  app.use(session(options));
  routes(app);
  return listen(app);
}

for (const { label, Koa: KoaClass } of KOA_VERSIONS) {
  describe(`${label}: expiry`, () => {
    it('sets Max-Age and Expires from cookie.maxAge and passes it to the store as the ttl', async () => {
      const counting = countingStore('async');
      const { agent } = await start(KoaClass, { store: counting.store, cookie: { maxAge: 3_600_000 } });
      const res = await agent.get('/set').expect(200);
      const main = setCookies(res)[0] as string;
      assert.match(main, /; max-age=3600; expires=[A-Z][a-z]{2}, /);
      assert.match(setCookies(res)[1] as string, /^koa:sess\.sig=.*max-age=3600/);
      assert.deepEqual([...counting.ttls.values()], [3_600_000]);
    });

    it('gives store entries a one-day ttl by default, and none with ttl: 0 or Infinity', async () => {
      for (const [ttl, expected] of [
        [undefined, 86_400_000],
        [0, undefined],
        [Infinity, undefined],
        [5000, 5000],
      ] as const) {
        const counting = countingStore('async');
        const { agent } = await start(KoaClass, { store: counting.store, ...(ttl === undefined ? {} : { ttl }) });
        const res = await agent.get('/set').expect(200);
        assert.deepEqual([...counting.ttls.values()], [expected]);
        assert.doesNotMatch(setCookies(res)[0] as string, /max-age|expires/, 'without maxAge the cookie is a browser-session cookie');
      }
    });

    it('treats a replayed cookie-store cookie as a fresh session after its expiry', async () => {
      const { agent } = await start(KoaClass, { cookie: { maxAge: 300 } });
      const first = await agent.get('/set').expect(200);
      const cookie = cookieHeader(first);
      const before = await agent.get('/read').set('Cookie', cookie).expect(200);
      assert.deepEqual(before.body.session, { n: 1 });
      await sleep(400);
      const after = await agent.get('/read').set('Cookie', cookie).expect(200);
      assert.deepEqual(after.body.session, {});
      assert.notEqual(after.body.id, first.body.id);
    });

    it('never resurrects an expired store entry, and gives the next write a new id', async () => {
      const store = new MemoryStore();
      const { agent } = await start(KoaClass, { store, cookie: { maxAge: 200 } });
      const first = await agent.get('/set').expect(200);
      await sleep(300);
      const next = await agent.get('/set').set('Cookie', cookieHeader(first)).expect(200);
      assert.deepEqual(next.body.session, { n: 1 });
      assert.notEqual(next.body.id, first.body.id);
      assert.equal(await store.load(first.body.id as string), undefined);
      store.close();
    });

    it('removes the entry named by the cookie on session = null, even when the store does not know it', async () => {
      const counting = countingStore('async');
      const { agent } = await start(KoaClass, { store: counting.store });
      const res = await agent.get('/null').set('Cookie', signedCookie('koa:sess', 'unknown-id-123')).expect(200);
      assert.equal(counting.calls.remove, 1);
      assert.match(setCookies(res)[0] as string, /^koa:sess=; .*expires=Thu, 01 Jan 1970/);
      assert.match(setCookies(res)[1] as string, /^koa:sess\.sig=; .*expires=Thu, 01 Jan 1970/);
    });
  });

  describe(`${label}: rolling`, () => {
    it('re-sets the cookie and touches the store entry on every response', async () => {
      const counting = countingStore('async', { withTouch: true });
      const { agent } = await start(KoaClass, { store: counting.store, rolling: true, cookie: { maxAge: 60_000 } });
      const first = await agent.get('/set').expect(200);
      const cookie = cookieHeader(first);
      const read = await agent.get('/read').set('Cookie', cookie).expect(200);
      assert.equal(counting.calls.touch, 1);
      assert.equal(counting.calls.save, 1);
      assert.match(setCookies(read)[0] as string, /max-age=60/);
      const untouched = await agent.get('/untouched').set('Cookie', cookie).expect(200);
      assert.equal(counting.calls.touch, 2, 'a request that never reads the session still resets its expiry');
      assert.equal(setCookies(untouched).length, 2);
    });

    it('falls back to save when the store has no touch', async () => {
      const counting = countingStore('async');
      const { agent } = await start(KoaClass, { store: counting.store, rolling: true });
      const first = await agent.get('/set').expect(200);
      await agent.get('/read').set('Cookie', cookieHeader(first)).expect(200);
      assert.equal(counting.calls.save, 2);
      assert.equal([...counting.map.values()][0], '{"n":1}');
    });

    it('does not touch again within touchAfter of the last write', async () => {
      const counting = countingStore('async', { withTouch: true });
      const { agent } = await start(KoaClass, { store: counting.store, rolling: true, touchAfter: 250 });
      const first = await agent.get('/set').expect(200);
      const cookie = cookieHeader(first);
      const soon = await agent.get('/read').set('Cookie', cookie).expect(200);
      assert.equal(counting.calls.touch, 0);
      assert.deepEqual(setCookies(soon), []);
      await sleep(300);
      const later = await agent.get('/read').set('Cookie', cookie).expect(200);
      assert.equal(counting.calls.touch, 1);
      assert.equal(setCookies(later).length, 2);
    });

    it('re-sets a cookie-store cookie with a later expiry, throttled by touchAfter', async () => {
      const { agent } = await start(KoaClass, { rolling: true, touchAfter: 200, cookie: { maxAge: 60_000 } });
      const first = await agent.get('/set').expect(200);
      const soon = await agent.get('/read').set('Cookie', cookieHeader(first)).expect(200);
      assert.deepEqual(setCookies(soon), []);
      await sleep(250);
      const later = await agent.get('/read').set('Cookie', cookieHeader(first)).expect(200);
      const exp = (value: string) => (JSON.parse(Buffer.from(value, 'base64url').toString()) as [string, number, number])[2];
      assert.ok(exp(cookieValue(later, 'koa:sess') as string) > exp(cookieValue(first, 'koa:sess') as string));
    });

    it('without rolling, an unchanged read writes nothing and sets no cookie', async () => {
      const counting = countingStore('async', { withTouch: true });
      const { agent } = await start(KoaClass, { store: counting.store, cookie: { maxAge: 60_000 } });
      const first = await agent.get('/set').expect(200);
      const read = await agent.get('/read').set('Cookie', cookieHeader(first)).expect(200);
      assert.deepEqual(setCookies(read), []);
      assert.deepEqual(counting.calls, { load: 1, save: 1, remove: 0, touch: 0 });
    });
  });

  describe(`${label}: maxLifetime`, () => {
    for (const storeKind of ['cookie', 'memory'] as const) {
      it(`ends a ${storeKind}-store session at maxLifetime even while rolling keeps it active`, async () => {
        const store = storeKind === 'cookie' ? 'cookie' : new MemoryStore();
        const { agent } = await start(KoaClass, { store, rolling: true, maxLifetime: 600, cookie: { maxAge: 60_000 } });
        const first = await agent.get('/set').expect(200);
        let cookie = cookieHeader(first);
        for (let i = 0; i < 3; i++) {
          await sleep(120);
          const res = await agent.get('/read').set('Cookie', cookie).expect(200);
          assert.deepEqual(res.body.session, { n: 1 });
          assert.equal(res.body.id, first.body.id);
          const maxAge = Number(/max-age=(\d+)/.exec(setCookies(res)[0] as string)?.[1]);
          assert.ok(maxAge <= 1, `cookie Max-Age is capped by maxLifetime, got ${maxAge}`);
          cookie = cookieHeader(res);
        }
        await sleep(400);
        const expired = await agent.get('/read').set('Cookie', cookie).expect(200);
        assert.deepEqual(expired.body.session, {});
        assert.notEqual(expired.body.id, first.body.id);
        if (store instanceof MemoryStore) store.close();
      });
    }
  });

  for (const storeKind of ['cookie', 'memory'] as const) {
    describe(`${label}: handler controls with the ${storeKind} store`, () => {
      async function startKind(options: SessionOptions = {}) {
        const store = storeKind === 'cookie' ? ('cookie' as const) : new MemoryStore();
        const running = await start(KoaClass, { store, ...options });
        return { ...running, store };
      }

      it('exposes ctx.sessionId as a uuid v4 string that stays the same across requests', async () => {
        const { agent } = await startKind();
        const first = await agent.get('/set').expect(200);
        assert.match(first.body.id, /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
        const second = await agent.get('/read').set('Cookie', cookieHeader(first)).expect(200);
        assert.equal(second.body.id, first.body.id);
      });

      it('regenerateSession gives a new id with the same data, drops the old one and reissues the cookie', async () => {
        const { agent, store } = await startKind();
        const first = await agent.get('/set').expect(200);
        const regenerated = await agent.get('/regenerate').set('Cookie', cookieHeader(first)).expect(200);
        assert.notEqual(regenerated.body.id, first.body.id);
        assert.deepEqual(regenerated.body.session, { n: 1 });
        assert.equal(setCookies(regenerated).length, 2);
        const after = await agent.get('/read').set('Cookie', cookieHeader(regenerated)).expect(200);
        assert.equal(after.body.id, regenerated.body.id);
        assert.deepEqual(after.body.session, { n: 1 });
        if (store instanceof MemoryStore) {
          assert.equal(await store.load(first.body.id as string), undefined);
          assert.equal(await store.load(regenerated.body.id as string), '{"n":1}');
          store.close();
        }
      });

      it('reading ctx.session after null gives an empty session that is written only if populated', async () => {
        const { agent, store } = await startKind();
        const first = await agent.get('/set').expect(200);
        const gone = await agent.get('/null').set('Cookie', cookieHeader(first)).expect(200);
        assert.deepEqual(gone.body.session, {});
        assert.notEqual(gone.body.id, first.body.id);
        assert.match(setCookies(gone)[0] as string, /^koa:sess=; /);
        const reborn = await agent.get('/null-then-write').set('Cookie', cookieHeader(first)).expect(200);
        assert.deepEqual(reborn.body.session, { user: 'after' });
        assert.notEqual(reborn.body.id, first.body.id);
        const after = await agent.get('/read').set('Cookie', cookieHeader(reborn)).expect(200);
        assert.deepEqual(after.body.session, { user: 'after' });
        if (store instanceof MemoryStore) {
          assert.equal(await store.load(first.body.id as string), undefined);
          store.close();
        }
      });

      it('null then a new object in one request removes the old session and gives the new data a new id', async () => {
        const { agent, store } = await startKind();
        const first = await agent.get('/set').expect(200);
        const res = await agent.get('/null-then-new').set('Cookie', cookieHeader(first)).expect(200);
        assert.notEqual(res.body.id, first.body.id);
        assert.deepEqual(res.body.session, { user: 'new' });
        const after = await agent.get('/read').set('Cookie', cookieHeader(res)).expect(200);
        assert.deepEqual(after.body.session, { user: 'new' });
        if (store instanceof MemoryStore) {
          assert.equal(await store.load(first.body.id as string), undefined);
          store.close();
        }
      });
    });
  }

  describe(`${label}: saveSession`, () => {
    it('with a patching store, a change after saveSession is written against what was saved', async () => {
      const store = new MemoryStore();
      const app = makeApp(KoaClass, ['k1']);
      app.use(session({ store }));
      app.use(async (ctx) => {
        if (ctx.path === '/seed') ctx.session.keep = 1;
        else {
          ctx.session.a = 1;
          ctx.session.b = 1;
          await ctx.saveSession();
          delete ctx.session.a;
          ctx.session.b = 2;
        }
        ctx.body = { id: ctx.sessionId };
      });
      const { agent } = await listen(app);
      const seed = await agent.get('/seed').expect(200);
      await agent.get('/').set('Cookie', cookieHeader(seed)).expect(200);
      assert.equal(store.load(seed.body.id as string), '{"keep":1,"b":2}');
      store.close();
    });

    it('persists immediately, then writes again only when the data changed afterwards', async () => {
      const counting = countingStore('async');
      const { agent } = await start(KoaClass, { store: counting.store });
      const once = await agent.get('/save-then-change').expect(200);
      assert.equal(counting.calls.save, 1);
      assert.equal(setCookies(once).length, 2);
      assert.deepEqual([...counting.map.values()], ['{"step":1}']);
      counting.map.clear();
      counting.calls.save = 0;
      await agent.get('/save-then-change?more=1').expect(200);
      assert.equal(counting.calls.save, 2);
      assert.deepEqual([...counting.map.values()], ['{"step":2}']);
    });
  });
}

describe('two session middlewares on one app (a cookie session above a store session)', () => {
  /** `outer` in a signed cookie; a middleware between the two; `inner` in a MemoryStore; each sees its own. */
  async function nestedApp() {
    const app = makeApp();
    const seen: Array<Record<string, unknown>> = [];
    app.use(session({ name: 'outer' }));
    app.use(async (ctx, next) => {
      if (ctx.path === '/write') ctx.session.before = 1;
      await next();
      // The inner middleware is done: this middleware sees the outer session again.
      seen.push({ ...ctx.session });
      if (ctx.path === '/write') ctx.session.after = 2;
    });
    app.use(session({ name: 'inner', store: new MemoryStore() }));
    app.use((ctx) => {
      if (ctx.path === '/write') ctx.session.inner = 3;
      ctx.body = { ...ctx.session };
    });
    return { seen, running: await listen(app) };
  }

  it('writes each session where it lives, changes made after the inner one finished included', async () => {
    const { seen, running } = await nestedApp();
    const res = await running.agent.get('/write').expect(200);
    assert.deepEqual(res.body, { inner: 3 }, 'the handler saw the inner session');
    assert.deepEqual(seen, [{ before: 1 }], 'the middleware between saw the outer session after next()');
    assert.ok(cookieValue(res, 'outer') !== undefined && cookieValue(res, 'inner') !== undefined, 'both sessions were written');
    const again = await running.agent.get('/read').set('Cookie', cookieHeader(res)).expect(200);
    assert.deepEqual(again.body, { inner: 3 }, 'the inner session came back from the store');
    assert.deepEqual(seen[1], { before: 1, after: 2 }, 'the outer cookie held both changes');
    assert.deepEqual(setCookies(again), [], 'nothing changed, nothing sent');
  });
});

describe('a middleware above the session middleware, after it is done', () => {
  for (const [kind, options] of [
    ['cookie', {}],
    ['MemoryStore', { store: new MemoryStore() }],
    ['promise store', { store: countingStore('async').store }],
  ] as const) {
    it(`${kind}: reads the session, and a change it saves with ctx.saveSession() is written; one it does not save is not`, async () => {
      const app = makeApp();
      app.use(async (ctx, next) => {
        await next();
        ctx.body = { ...ctx.session };
        ctx.session.late = ctx.path === '/late-saved' ? 'saved' : 'not saved';
        if (ctx.path === '/late-saved') await ctx.saveSession();
      });
      app.use(session(options as SessionOptions));
      app.use((ctx) => {
        if (ctx.path === '/set') ctx.session.n = 1;
      });
      const { agent } = await listen(app);
      const cookie = cookieHeader(await agent.get('/set').expect(200));
      assert.deepEqual((await agent.get('/late').set('Cookie', cookie).expect(200)).body, { n: 1 });
      assert.deepEqual((await agent.get('/read').set('Cookie', cookie).expect(200)).body, { n: 1 }, 'a change made after the end and not saved is not written');
      const saved = await agent.get('/late-saved').set('Cookie', cookie).expect(200);
      const next = kind === 'cookie' ? cookieHeader(saved) : cookie;
      assert.notEqual(next, '', 'the saved cookie session came back');
      assert.deepEqual((await agent.get('/read').set('Cookie', next).expect(200)).body, { n: 1, late: 'saved' });
    });
  }
});
