// Store failures give 503 with the cause kept and nothing written; downstream
// errors keep their own status; a response already sent is never re-headed.
import assert from 'node:assert/strict';
import { Readable } from 'node:stream';
import { describe, it } from 'node:test';
import { session, SessionStoreError } from '../src/index.js';
import type { SessionOptions, SessionStore } from '../src/index.js';
import { cookieHeader, KOA_VERSIONS, listen, makeApp, setCookies, sleep } from './support/http.js';
import { countingStore } from './support/stores.js';

type Failure = 'throws' | 'rejects' | 'hangs';
const FAILURES: readonly Failure[] = ['throws', 'rejects', 'hangs'];

/** A Map store whose method `method` fails in the given way once armed; counts writes. */
function failingStore(method: 'load' | 'save' | 'remove' | 'touch', failure: Failure) {
  const base = countingStore('async', { withTouch: true });
  const armed = { on: false };
  const cause = new Error(`store ${method} is down`);
  const failing = (...args: unknown[]): unknown => {
    if (failure === 'throws') throw cause;
    if (failure === 'rejects') return Promise.reject(cause);
    void args;
    return new Promise(() => {});
  };
  const store = new Proxy(base.store, {
    get(target, key: string) {
      const real = target[key as keyof SessionStore];
      if (key === method && typeof real === 'function') {
        return (...args: unknown[]) => (armed.on ? failing(...args) : (real as (...a: unknown[]) => unknown).apply(target, args));
      }
      return real;
    },
  });
  return { ...base, store, armed, cause };
}

for (const { label, Koa } of KOA_VERSIONS) {
  const start = async (store: SessionStore, options: SessionOptions = {}) => {
    const app = makeApp(Koa, ['k1']);
    app.use(session({ store, storeTimeout: 150, ...options }));
    app.use((ctx) => {
      if (ctx.path === '/set') ctx.session.n = ((ctx.session.n as number) ?? 0) + 1;
      if (ctx.path === '/null') ctx.session = null;
      if (ctx.path === '/read') void ctx.session.n;
      ctx.body = 'ok';
    });
    return listen(app);
  };

  describe(`${label}: store failures`, () => {
    for (const failure of FAILURES) {
      it(`answers 503 when load ${failure}, keeps the cause, and writes no cookie or data`, async () => {
        const s = failingStore('load', failure);
        const { agent, errors } = await start(s.store);
        const first = await agent.get('/set').expect(200);
        s.armed.on = true;
        s.calls.save = 0;
        const res = await agent.get('/set').set('Cookie', cookieHeader(first)).expect(503);
        assert.deepEqual(setCookies(res), []);
        assert.equal(s.calls.save, 0);
        assert.equal([...s.map.values()][0], '{"n":1}');
        const error = errors[0] as SessionStoreError;
        assert.ok(error instanceof SessionStoreError);
        if (failure === 'hangs') assert.match(String((error.cause as Error).message), /did not answer within 150 ms/);
        else assert.equal(error.cause, s.cause);
      });

      it(`answers 503 saying nothing was saved when save ${failure}, leaving the old data`, async () => {
        const s = failingStore('save', failure);
        const { agent } = await start(s.store);
        const first = await agent.get('/set').expect(200);
        s.armed.on = true;
        const res = await agent.get('/set').set('Cookie', cookieHeader(first)).expect(503);
        assert.match(res.text, /nothing was saved/);
        assert.deepEqual(setCookies(res), []);
        assert.equal([...s.map.values()][0], '{"n":1}');
      });

      it(`answers 503 when remove ${failure} on session = null, and the data stays`, async () => {
        const s = failingStore('remove', failure);
        const { agent } = await start(s.store);
        const first = await agent.get('/set').expect(200);
        s.armed.on = true;
        const res = await agent.get('/null').set('Cookie', cookieHeader(first)).expect(503);
        assert.deepEqual(setCookies(res), []);
        assert.equal(s.map.size, 1);
      });

      it(`answers 503 when touch ${failure} on a rolling session`, async () => {
        const s = failingStore('touch', failure);
        const { agent } = await start(s.store, { rolling: true });
        const first = await agent.get('/set').expect(200);
        s.armed.on = true;
        const res = await agent.get('/read').set('Cookie', cookieHeader(first)).expect(503);
        assert.deepEqual(setCookies(res), []);
      });
    }

    for (const [what, value] of [
      ['text that is not JSON', 'not json{'],
      ['a JSON array', '[1,2]'],
      ['a JSON string', '"text"'],
      ['a number instead of a string', 42],
    ] as const) {
      it(`starts a fresh session with a new id when load returns ${what}, leaving the entry untouched`, async () => {
        const s = countingStore('async');
        const app = makeApp(Koa, ['k1']);
        app.use(session({ store: s.store }));
        app.use((ctx) => {
          if (ctx.path === '/set') ctx.session.n = 1;
          ctx.body = { id: ctx.sessionId, session: ctx.session };
        });
        const { agent } = await listen(app);
        const first = await agent.get('/set').expect(200);
        const sid = first.body.id as string;
        s.map.set(sid, value as string);
        const res = await agent.get('/set').set('Cookie', cookieHeader(first)).expect(200);
        assert.notEqual(res.body.id, sid);
        assert.deepEqual(res.body.session, { n: 1 });
        assert.equal(s.map.get(sid), value);
      });
    }
  });

  describe(`${label}: downstream errors and early responses`, () => {
    it("keeps a downstream error's own status and writes nothing", async () => {
      const s = countingStore('async');
      const app = makeApp(Koa, ['k1']);
      app.use(session({ store: s.store }));
      app.use((ctx) => {
        ctx.session.n = 1;
        ctx.throw(418, 'teapot');
      });
      const { agent } = await listen(app);
      const res = await agent.get('/').expect(418);
      assert.deepEqual(setCookies(res), []);
      assert.equal(s.calls.save, 0);
    });

    it('still saves a changed existing session when the handler took over the response (ctx.respond = false)', async () => {
      const s = countingStore('async');
      const app = makeApp(Koa, ['k1']);
      app.use(session({ store: s.store }));
      app.use(async (ctx) => {
        ctx.session.n = ((ctx.session.n as number) ?? 0) + 1;
        if (ctx.path === '/raw') {
          ctx.respond = false;
          ctx.res.writeHead(200, { 'content-type': 'text/plain' });
          ctx.res.end('raw');
        } else ctx.body = 'ok';
      });
      const { agent, errors } = await listen(app);
      const first = await agent.get('/').expect(200);
      const res = await agent.get('/raw').set('Cookie', cookieHeader(first)).expect(200);
      assert.equal(res.text, 'raw');
      await sleep(50);
      assert.equal([...s.map.values()][0], '{"n":2}');
      assert.deepEqual(errors, []);
    });

    it('does not set headers after they were flushed, and warns once for a new session that got no cookie', async () => {
      const s = countingStore('async');
      const warnings: Error[] = [];
      const onWarning = (warning: Error) => warnings.push(warning);
      process.on('warning', onWarning);
      const app = makeApp(Koa, ['k1']);
      app.use(session({ store: s.store }));
      app.use(async (ctx) => {
        ctx.status = 200;
        ctx.res.flushHeaders();
        ctx.session.n = 1;
        ctx.body = Readable.from(['streamed']);
      });
      const { agent, errors } = await listen(app);
      const res = await agent.get('/').expect(200);
      await agent.get('/').expect(200);
      await sleep(50);
      process.off('warning', onWarning);
      assert.equal(res.text, 'streamed');
      assert.deepEqual(errors, []);
      assert.equal(s.calls.save, 0, 'a new session nobody can find again is not stored');
      assert.equal(warnings.filter((w) => /headers were sent/.test(w.message)).length, 1);
    });
  });
}
