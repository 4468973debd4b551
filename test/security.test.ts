// Ids, signatures, key rotation, fixation, cookie size and safe attributes.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { session } from '../src/index.js';
import type { SessionOptions } from '../src/index.js';
import { cookieHeader, cookieValue, KOA_VERSIONS, listen, makeApp, setCookies } from './support/http.js';
import { signedCookie } from './support/sign.js';
import { countingStore } from './support/stores.js';

for (const { label, Koa } of KOA_VERSIONS) {
  const start = async (options: SessionOptions, keys: string[] | null = ['k1'], proxy = false) => {
    const app = makeApp(Koa, keys);
    app.proxy = proxy;
    app.use(session(options));
    app.use((ctx) => {
      if (ctx.path === '/set') ctx.session.user = 'ada';
      if (ctx.path === '/big') ctx.session.blob = 'x'.repeat(Number(ctx.query.n));
      ctx.body = { id: ctx.sessionId, session: ctx.session };
    });
    return { ...(await listen(app)), app };
  };

  describe(`${label}: session ids`, () => {
    for (const [what, genid] of [
      ['an empty string', () => ''],
      ['a number', () => 42 as unknown as string],
      ['characters outside [A-Za-z0-9_-]', () => 'a/b'],
    ] as const) {
      it(`rejects a genid that returns ${what} with a clear 500`, async () => {
        const { agent, errors } = await start({ genid });
        await agent.get('/set').expect(500);
        assert.match(errors[0]?.message ?? '', /genid\(\) must return a non-empty string/);
      });
    }

    it('rejects a genid that is not a function when the middleware is made', () => {
      assert.throws(() => session({ genid: 'x' as unknown as () => string }), /option genid is invalid/);
    });

    it('uses a custom genid', async () => {
      let n = 0;
      const { agent } = await start({ genid: () => `custom_${++n}` });
      const res = await agent.get('/set').expect(200);
      assert.equal(res.body.id, 'custom_1');
    });
  });

  describe(`${label}: key rotation`, () => {
    for (const storeKind of ['cookie', 'server'] as const) {
      it(`accepts a ${storeKind}-store cookie signed with the old key and reissues both cookies with all attributes`, async () => {
        const store = storeKind === 'cookie' ? 'cookie' : countingStore('async').store;
        const cookie = { maxAge: 86_400_000, domain: '127.0.0.1', sameSite: 'strict' } as const;
        const before = await start({ store, cookie }, ['old']);
        const first = await before.agent.get('/set').expect(200);
        const rotated = await start({ store, cookie }, ['new', 'old']);
        const res = await rotated.agent.get('/').set('Cookie', cookieHeader(first)).expect(200);
        assert.deepEqual(res.body, { id: first.body.id, session: { user: 'ada' } });
        const [main, sig] = setCookies(res);
        for (const header of [main, sig]) {
          assert.match(header ?? '', /; max-age=\d+; expires=/);
          assert.match(header ?? '', /; domain=127\.0\.0\.1/);
          assert.match(header ?? '', /; samesite=strict/);
          assert.match(header ?? '', /; httponly/);
        }
        assert.equal(cookieValue(res, 'koa:sess'), cookieValue(first, 'koa:sess'));
        // The reissued pair verifies with the new key alone.
        const newOnly = await start({ store, cookie }, ['new']);
        const again = await newOnly.agent.get('/').set('Cookie', cookieHeader(res)).expect(200);
        assert.deepEqual(again.body.session, { user: 'ada' });
      });
    }

    it('starts a fresh session when the signing key was removed', async () => {
      const before = await start({}, ['old']);
      const first = await before.agent.get('/set').expect(200);
      const after = await start({}, ['new']);
      const res = await after.agent.get('/').set('Cookie', cookieHeader(first)).expect(200);
      assert.deepEqual(res.body.session, {});
      assert.notEqual(res.body.id, first.body.id);
    });
  });

  describe(`${label}: remembered verifications`, () => {
    it('stops accepting a cookie it verified before once its key leaves app.keys', async () => {
      const { agent, app } = await start({});
      app.keys = ['old'];
      const first = await agent.get('/set').expect(200);
      const again = await agent.get('/').set('Cookie', cookieHeader(first)).expect(200);
      assert.deepEqual(again.body.session, { user: 'ada' });
      app.keys = ['new'];
      const after = await agent.get('/').set('Cookie', cookieHeader(first)).expect(200);
      assert.deepEqual(after.body.session, {});
    });

    it('reissues a remembered cookie once its key becomes an old key', async () => {
      const { agent, app } = await start({ store: countingStore('async').store });
      app.keys = ['old'];
      const first = await agent.get('/set').expect(200);
      await agent.get('/').set('Cookie', cookieHeader(first)).expect(200);
      app.keys = ['new', 'old'];
      const rotated = await agent.get('/').set('Cookie', cookieHeader(first)).expect(200);
      assert.deepEqual(rotated.body.session, { user: 'ada' });
      assert.equal(setCookies(rotated).length, 2);
      assert.equal(cookieHeader(rotated), signedCookie('koa:sess', cookieValue(first, 'koa:sess') as string, 'new'));
    });

    it('never accepts a seen value with another signature', async () => {
      const { agent } = await start({});
      const first = await agent.get('/set').expect(200);
      await agent.get('/').set('Cookie', cookieHeader(first)).expect(200);
      const value = cookieValue(first, 'koa:sess') as string;
      const forged = `koa:sess=${value}; koa:sess.sig=${'A'.repeat(27)}`;
      const res = await agent.get('/').set('Cookie', forged).expect(200);
      assert.deepEqual(res.body.session, {});
    });
  });

  describe(`${label}: fixation`, () => {
    it('never adopts an id a client chose, even with unsigned cookies', async () => {
      const counting = countingStore('async');
      const { agent } = await start({ store: counting.store, cookie: { signed: false } }, null);
      const res = await agent.get('/set').set('Cookie', 'koa:sess=attacker-chosen-id').expect(200);
      assert.notEqual(res.body.id, 'attacker-chosen-id');
      assert.equal(counting.map.has('attacker-chosen-id'), false);
      assert.ok(!cookieHeader(res).includes('attacker-chosen-id'));
    });

    it('warns once at start-up that unsigned cookies with a server store let clients try ids', async () => {
      const warnings: Error[] = [];
      const onWarning = (warning: Error) => warnings.push(warning);
      process.on('warning', onWarning);
      session({ store: countingStore('async').store, cookie: { signed: false } });
      session({ store: countingStore('async').store, cookie: { signed: false } });
      await new Promise((resolve) => setImmediate(resolve));
      process.off('warning', onWarning);
      const ours = warnings.filter((w) => /cookie\.signed is false/.test(w.message));
      assert.ok(ours.length <= 1);
    });
  });

  describe(`${label}: cookie store size`, () => {
    it('stores a cookie just under 4096 bytes and fails clearly just over', async () => {
      const { agent, errors } = await start({});
      const total = async (n: number) => {
        const res = await agent.get(`/big?n=${n}`);
        return { res, size: setCookies(res).reduce((sum, header) => sum + header.length, 0) };
      };
      let low = 1000;
      let high = 4000;
      while (high - low > 1) {
        const mid = Math.floor((low + high) / 2);
        if ((await total(mid)).res.status === 200) low = mid;
        else high = mid;
      }
      const under = await total(low);
      assert.equal(under.res.status, 200);
      assert.ok(under.size <= 4096 && under.size > 4090, `largest accepted cookie is ${under.size} bytes`);
      const over = await total(high);
      assert.equal(over.res.status, 500);
      assert.deepEqual(setCookies(over.res), []);
      assert.match(errors.at(-1)?.message ?? '', /would be 409\d bytes .* over the 4096 bytes .* server-side store/);
    });
  });

  describe(`${label}: safe cookie attributes`, () => {
    it('defaults to path=/, samesite=lax and httponly, and not secure over plain HTTP', async () => {
      const { agent } = await start({});
      const res = await agent.get('/set').expect(200);
      for (const header of setCookies(res)) {
        assert.match(header, /; path=\/; samesite=lax; httponly$/);
      }
    });

    it('marks the cookie secure behind a TLS proxy when app.proxy is true', async () => {
      const { agent } = await start({}, ['k1'], true);
      const res = await agent.get('/set').set('X-Forwarded-Proto', 'https').expect(200);
      for (const header of setCookies(res)) assert.match(header, /; secure; httponly$/);
    });

    it('ignores X-Forwarded-Proto when app.proxy is false', async () => {
      const { agent } = await start({}, ['k1'], false);
      const res = await agent.get('/set').set('X-Forwarded-Proto', 'https').expect(200);
      for (const header of setCookies(res)) assert.doesNotMatch(header, /secure/);
    });

    it('fails with a clear error when cookie.secure is true on a plain HTTP request', async () => {
      const { agent, errors } = await start({ cookie: { secure: true } });
      await agent.get('/set').expect(500);
      assert.match(errors[0]?.message ?? '', /cookie\.secure is true but this request is not HTTPS/);
    });

    it('lets user values win over the defaults without mutating the options object', async () => {
      const options: SessionOptions = { name: 'sid', cookie: { httpOnly: false, sameSite: 'strict', path: '/app' } };
      const snapshot = JSON.stringify(options);
      const { agent } = await start(options);
      const res = await agent.get('/set').expect(200);
      assert.equal(JSON.stringify(options), snapshot);
      const [main] = setCookies(res);
      assert.match(main ?? '', /^sid=[^;]+; path=\/app; samesite=strict$/);
    });

    it('rejects invalid options with a TypeError naming the option', () => {
      assert.throws(() => session({ cookie: { maxAge: -1 } }), /option cookie\.maxAge is invalid: -1/);
      assert.throws(() => session({ cookie: { sameSite: 'sideways' as 'lax' } }), /option cookie\.sameSite is invalid/);
      assert.throws(() => session({ name: 'a;b' }), /option name is invalid/);
      assert.throws(() => session({ store: {} as never }), /option store has no load/);
      assert.throws(() => session({ ttl: Number.NaN }), /option ttl is invalid/);
    });

    it('signs with one signature cookie that verifies like the cookies package', async () => {
      const { agent } = await start({});
      const res = await agent.get('/set').expect(200);
      const value = cookieValue(res, 'koa:sess') as string;
      assert.equal(cookieHeader(res), signedCookie('koa:sess', value));
    });
  });
}
