// Every case of koa-session-store 2.0's own test file, on Koa 2 and Koa 3,
// for the cookie store and for a custom store written in each supported style.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type Koa from 'koa';
import { session } from '../src/index.js';
import type { SessionOptions } from '../src/index.js';
import { cookieHeader, cookieValue, KOA_VERSIONS, listen, makeApp, setCookies } from './support/http.js';
import { countingStore, STORE_STYLES } from './support/stores.js';

/** The routes 2.0's tests exercise, each a handler doing one thing with the session. */
function routes(app: Koa): void {
  app.use(async (ctx) => {
    switch (ctx.path) {
      case '/untouched':
        ctx.body = 'untouched';
        break;
      case '/read':
        ctx.body = ctx.session;
        break;
      case '/set':
        ctx.session.message = 'hello';
        ctx.body = ctx.session;
        break;
      case '/change':
        ctx.session.message = 'hello3';
        ctx.body = ctx.session;
        break;
      case '/null':
        ctx.session = null;
        ctx.body = 'gone';
        break;
      case '/empty':
        ctx.session = {};
        ctx.body = 'empty';
        break;
      case '/assign':
        ctx.session = { message: 'hello' };
        ctx.body = 'assigned';
        break;
      case '/string':
        (ctx as { session: unknown }).session = 'asdf';
        ctx.body = 'never';
        break;
      default:
        ctx.status = 404;
    }
  });
}

/** The cookie-store value as `{ _sid, ...data }`, the shape 2.0 kept it in, from `["sid", ctime, exp, data]`. */
function decodeCookieStoreValue(value: string): Record<string, unknown> {
  const [sid, , , data] = JSON.parse(Buffer.from(value, 'base64url').toString('utf8')) as [string, number, number, Record<string, unknown>];
  return { _sid: sid, ...data };
}

async function start(KoaClass: typeof Koa, options: SessionOptions = {}, keys: string[] | null = ['k1']) {
  const app = makeApp(KoaClass, keys);
  app.use(session(options));
  routes(app);
  return listen(app);
}

for (const { label, Koa: KoaClass } of KOA_VERSIONS) {
  describe(`${label}: cookie options`, () => {
    it('answers 200 when signed and app.keys is set', async () => {
      const { agent } = await start(KoaClass);
      await agent.get('/set').expect(200);
    });

    it('answers 500 when signed and app.keys is missing, saying to set app.keys', async () => {
      const { agent, errors } = await start(KoaClass, {}, null);
      await agent.get('/set').expect(500);
      assert.match(errors[0]?.message ?? '', /app\.keys/);
    });

    it('answers 200 with signed: false and no app.keys', async () => {
      const { agent } = await start(KoaClass, { cookie: { signed: false } }, null);
      const res = await agent.get('/set').expect(200);
      assert.equal(cookieValue(res, 'koa:sess.sig'), undefined);
      assert.ok(cookieValue(res, 'koa:sess'));
    });
  });

  describe(`${label}: cookie store`, () => {
    describe('a new session', () => {
      it('sets no cookie when the session is not accessed', async () => {
        const { agent } = await start(KoaClass);
        const res = await agent.get('/untouched').expect(200);
        assert.deepEqual(setCookies(res), []);
      });

      it('sets no cookie when the session is accessed but left empty', async () => {
        const { agent } = await start(KoaClass);
        const res = await agent.get('/read').expect(200);
        assert.deepEqual(res.body, {});
        assert.deepEqual(setCookies(res), []);
      });

      it('sets a koa:sess cookie carrying the data when populated', async () => {
        const { agent } = await start(KoaClass);
        const res = await agent.get('/set').expect(200);
        const value = cookieValue(res, 'koa:sess');
        assert.ok(value);
        const payload = decodeCookieStoreValue(value);
        assert.equal(payload.message, 'hello');
        assert.equal(typeof payload._sid, 'string');
        assert.ok(cookieValue(res, 'koa:sess.sig'));
      });
    });

    describe('a saved session', () => {
      async function saved() {
        const running = await start(KoaClass);
        const first = await running.agent.get('/set').expect(200);
        return { ...running, cookie: cookieHeader(first) };
      }

      it('sets no cookie when not accessed', async () => {
        const { agent, cookie } = await saved();
        const res = await agent.get('/untouched').set('Cookie', cookie).expect(200);
        assert.deepEqual(setCookies(res), []);
      });

      it('returns the same data and sets no cookie when accessed unchanged', async () => {
        const { agent, cookie } = await saved();
        const res = await agent.get('/read').set('Cookie', cookie).expect(200);
        assert.deepEqual(res.body, { message: 'hello' });
        assert.deepEqual(setCookies(res), []);
      });

      it('sets the cookie with the new data when changed', async () => {
        const { agent, cookie } = await saved();
        const res = await agent.get('/change').set('Cookie', cookie).expect(200);
        const value = cookieValue(res, 'koa:sess');
        assert.ok(value);
        assert.equal(decodeCookieStoreValue(value).message, 'hello3');
      });

      it('expires the cookie on session = null', async () => {
        const { agent, cookie } = await saved();
        const res = await agent.get('/null').set('Cookie', cookie).expect(200);
        const [main] = setCookies(res);
        assert.match(main ?? '', /^koa:sess=; path=\/; expires=Thu, 01 Jan 1970 00:00:00 GMT/);
      });
    });

    it('sets no cookie on session = {} for a new session', async () => {
      const { agent } = await start(KoaClass);
      const res = await agent.get('/empty').expect(200);
      assert.deepEqual(setCookies(res), []);
    });

    it('creates a session on session = { message: "hello" }', async () => {
      const { agent } = await start(KoaClass);
      const res = await agent.get('/assign').expect(200);
      const value = cookieValue(res, 'koa:sess');
      assert.ok(value);
      assert.equal(decodeCookieStoreValue(value).message, 'hello');
    });

    it('answers 500 saying the data must be a plain object on session = "asdf"', async () => {
      const { agent, errors } = await start(KoaClass);
      const res = await agent.get('/string').expect(500);
      assert.deepEqual(setCookies(res), []);
      assert.match(errors[0]?.message ?? '', /session data must be a plain object/);
    });
  });

  for (const style of STORE_STYLES) {
    describe(`${label}: custom store written as ${style} methods`, () => {
      async function startWithStore() {
        const counting = countingStore(style);
        const running = await start(KoaClass, { store: counting.store });
        return { ...running, ...counting };
      }

      describe('a new session', () => {
        it('sets no cookie, saves nothing and loads nothing when not accessed', async () => {
          const { agent, calls, map } = await startWithStore();
          const res = await agent.get('/untouched').expect(200);
          assert.deepEqual(setCookies(res), []);
          assert.deepEqual(calls, { load: 0, save: 0, remove: 0, touch: 0 });
          assert.equal(map.size, 0);
        });

        it('sets no cookie and saves nothing when accessed but empty', async () => {
          const { agent, calls, map } = await startWithStore();
          const res = await agent.get('/read').expect(200);
          assert.deepEqual(setCookies(res), []);
          assert.equal(calls.save, 0);
          assert.equal(map.size, 0);
        });

        it('sets a cookie without the data, saves once, and stores exactly the JSON', async () => {
          const { agent, calls, map } = await startWithStore();
          const res = await agent.get('/set').expect(200);
          const value = cookieValue(res, 'koa:sess');
          assert.ok(value);
          assert.doesNotMatch(value, /hello/);
          assert.doesNotMatch(Buffer.from(value, 'base64url').toString('latin1'), /hello/);
          assert.equal(calls.save, 1);
          assert.equal(calls.load, 0, 'a fresh id is never in the store, so it is not loaded');
          assert.deepEqual([...map.values()], [JSON.stringify({ message: 'hello' })]);
        });
      });

      describe('a saved session', () => {
        async function saved() {
          const running = await startWithStore();
          const first = await running.agent.get('/set').expect(200);
          const sid = [...running.map.keys()][0] as string;
          running.map.set(sid, JSON.stringify({ hello: 'world' }));
          running.calls.save = 0;
          return { ...running, sid, cookie: cookieHeader(first) };
        }

        it('sets no cookie and saves nothing when not accessed', async () => {
          const { agent, cookie, calls } = await saved();
          const res = await agent.get('/untouched').set('Cookie', cookie).expect(200);
          assert.deepEqual(setCookies(res), []);
          assert.equal(calls.save, 0);
        });

        it('returns the same data, sets no cookie and saves nothing when accessed unchanged', async () => {
          const { agent, cookie, calls } = await saved();
          const res = await agent.get('/read').set('Cookie', cookie).expect(200);
          assert.deepEqual(res.body, { hello: 'world' });
          assert.deepEqual(setCookies(res), []);
          assert.equal(calls.save, 0);
        });

        it('sets no cookie, saves exactly once, and stores the merged data when changed', async () => {
          const { agent, cookie, calls, map, sid } = await saved();
          const res = await agent.get('/change').set('Cookie', cookie).expect(200);
          assert.deepEqual(setCookies(res), [], 'the id is unchanged, so is the cookie');
          assert.equal(calls.save, 1);
          assert.equal(map.get(sid), '{"hello":"world","message":"hello3"}');
        });

        it('deletes the entry and expires the cookie on session = null', async () => {
          const { agent, cookie, map, sid } = await saved();
          const res = await agent.get('/null').set('Cookie', cookie).expect(200);
          assert.equal(map.has(sid), false);
          assert.match(setCookies(res)[0] ?? '', /^koa:sess=; .*expires=Thu, 01 Jan 1970/);
        });
      });

      it('sets no cookie and saves nothing on session = {}', async () => {
        const { agent, calls } = await startWithStore();
        const res = await agent.get('/empty').expect(200);
        assert.deepEqual(setCookies(res), []);
        assert.equal(calls.save, 0);
      });

      it('sets a cookie and stores {"message":"hello"} on session = { message: "hello" }', async () => {
        const { agent, map } = await startWithStore();
        const res = await agent.get('/assign').expect(200);
        assert.ok(cookieValue(res, 'koa:sess'));
        assert.deepEqual([...map.values()], ['{"message":"hello"}']);
      });

      it('answers 500 on session = "asdf" and saves nothing', async () => {
        const { agent, calls } = await startWithStore();
        await agent.get('/string').expect(500);
        assert.equal(calls.save, 0);
      });
    });
  }
}
