// Stores that answer synchronously (MemoryStore, an open SqliteStore) are
// asked for a session only when a request uses it: a request that never
// touches ctx.session costs no lookup, and everything that is due without the
// handler touching the session (a rolling touch, a key-rotation reissue)
// still happens. Stores that answer with promises keep loading before
// downstream runs, since ctx.session is synchronous.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import Database from 'better-sqlite3';
import { MemoryStore, session } from '../src/index.js';
import type { SessionOptions, SessionStore } from '../src/index.js';
import { SqliteStore } from '../src/sqlite.js';
import { cookieHeader, cookieValue, listen, makeApp } from './support/http.js';

/** Counts the calls each store method gets (but the question `loadsSynchronously`), passing them on to `store` unchanged. */
function counted<S extends SessionStore>(store: S): { store: S; calls: Record<string, number> } {
  const calls: Record<string, number> = {};
  const proxy = new Proxy(store, {
    get(target, key, receiver) {
      const value: unknown = Reflect.get(target, key, receiver);
      if (typeof key !== 'string' || key === 'loadsSynchronously' || typeof value !== 'function') return typeof value === 'function' ? value.bind(target) : value;
      return (...args: unknown[]) => {
        calls[key] = (calls[key] ?? 0) + 1;
        return (value as (...a: unknown[]) => unknown).apply(target, args);
      };
    },
  });
  return { store: proxy, calls };
}

async function appWith(store: SessionStore, options: SessionOptions = {}, keys = ['test key one']) {
  const app = makeApp(undefined, keys);
  app.use(session({ store, ...options }));
  app.use((ctx) => {
    if (ctx.path === '/set') {
      ctx.session.n = 1;
      ctx.body = 'set';
    }
    else if (ctx.path === '/read') ctx.body = { n: ctx.session.n ?? null };
    else ctx.body = 'untouched';
  });
  return { app, running: await listen(app) };
}

/** A store of one's own over a Map, answering with plain values and saying so (SessionStore.loadsSynchronously). */
function mapStore(): SessionStore {
  const entries = new Map<string, string>();
  return {
    loadsSynchronously: () => true,
    load: (sid) => entries.get(sid),
    save: (sid, json) => void entries.set(sid, json),
    remove: (sid) => void entries.delete(sid),
    // Its entries never expire, so there is no life to extend; a missing entry stays missing.
    touch: () => undefined,
  };
}

/** V8's collector, made callable from here (as `node --expose-gc` would). */
function collector(): () => void {
  setFlagsFromString('--expose-gc');
  return runInNewContext('gc') as () => void;
}

const synchronous: Array<{ label: string; make: () => SessionStore }> = [
  { label: 'MemoryStore', make: () => new MemoryStore() },
  { label: 'a Map store of your own that says loadsSynchronously', make: mapStore },
  { label: 'SqliteStore on an in-memory database', make: () => new SqliteStore({ db: new Database(':memory:'), sweepInterval: 0 }) },
];

for (const { label, make } of synchronous) {
  describe(`${label}: loads a session only when a request uses it`, () => {
    it('makes no store call for a request that never touches ctx.session, and one load for a request that reads it', async () => {
      const { store, calls } = counted(make());
      const { running } = await appWith(store);
      const cookie = cookieHeader(await running.agent.get('/set').expect(200));
      const before = { ...calls };
      const untouched = await running.agent.get('/other').set('Cookie', cookie).expect(200);
      assert.equal(untouched.headers['set-cookie'], undefined);
      assert.deepEqual(calls, before, 'no store call at all');
      assert.deepEqual((await running.agent.get('/read').set('Cookie', cookie).expect(200)).body, { n: 1 });
      assert.equal(calls.load, (before.load ?? 0) + 1);
    });

    it('still touches a rolling session on a request that never touches it, and leaves an unknown id alone', async () => {
      const { store, calls } = counted(make());
      const { running } = await appWith(store, { rolling: true, cookie: { maxAge: 60_000 }, touchAfter: 0 });
      const cookie = cookieHeader(await running.agent.get('/set').expect(200));
      const touchesBefore = calls.touch ?? 0;
      const untouched = await running.agent.get('/other').set('Cookie', cookie).expect(200);
      assert.ok(cookieValue(untouched, 'koa:sess') !== undefined, 'the cookie is sent again with the new expiry');
      assert.equal(calls.touch, touchesBefore + 1, 'the entry was touched');
      await store.remove(cookie.split(/[=.;]/)[1] as string);
      const gone = await running.agent.get('/other').set('Cookie', cookie).expect(200);
      assert.equal(gone.headers['set-cookie'], undefined, 'a session the store no longer has is not touched or sent again');
      assert.equal(calls.touch, touchesBefore + 1);
    });

    it('lets go of a session first read after the middleware ended (a logger above it), so its request is collected', async () => {
      const store = make();
      const app = makeApp();
      const contexts: Array<WeakRef<object>> = [];
      const users: unknown[] = [];
      // Runs before and after the session middleware: reads the session once the middleware is done with it.
      app.use(async (ctx, next) => {
        await next();
        contexts.push(new WeakRef(ctx));
        users.push(ctx.session?.n);
      });
      app.use(session({ store }));
      app.use((ctx) => {
        if (ctx.path === '/set') ctx.session.n = 1;
        ctx.body = 'ok';
      });
      const { agent } = await listen(app);
      const cookie = cookieHeader(await agent.get('/set').expect(200));
      contexts.length = 0;
      users.length = 0;
      for (let i = 0; i < 200; i++) await agent.get('/other').set('Cookie', cookie).expect(200);
      assert.deepEqual(new Set(users), new Set([1]), 'the logger read the session each time');
      const gc = collector();
      await new Promise((resolve) => setImmediate(resolve));
      gc();
      const alive = contexts.filter((ref) => ref.deref() !== undefined).length;
      assert.ok(alive < 10, `${alive} of ${contexts.length} request contexts are still held after a collection`);
    });

    it('sends the cookie of an untouched session again, signed with the newest key, during a key rotation', async () => {
      const store = make();
      const { running: old } = await appWith(store, {}, ['old key']);
      const cookie = cookieHeader(await old.agent.get('/set').expect(200));
      const { running } = await appWith(store, {}, ['new key', 'old key']);
      const reissued = await running.agent.get('/other').set('Cookie', cookie).expect(200);
      const next = cookieHeader(reissued);
      assert.notEqual(next, '', 'the cookie came back');
      const { running: rotated } = await appWith(store, {}, ['new key']);
      assert.deepEqual((await rotated.agent.get('/read').set('Cookie', next).expect(200)).body, { n: 1 }, 'the new key alone reads it');
    });
  });
}

describe('stores that answer with promises', () => {
  it('load before downstream runs, as ctx.session is synchronous', async () => {
    const memory = new MemoryStore();
    const asynchronous: SessionStore = {
      load: async (sid) => memory.load(sid),
      save: async (sid, json, ttl) => memory.save(sid, json, ttl),
      remove: async (sid) => memory.remove(sid),
    };
    const { store, calls } = counted(asynchronous);
    const { running } = await appWith(store);
    const cookie = cookieHeader(await running.agent.get('/set').expect(200));
    await running.agent.get('/other').set('Cookie', cookie).expect(200);
    assert.equal(calls.load, 1, 'loaded though the handler never asked');
  });

  it('fail with a 503, not a hang or a 500, when a store says it loads synchronously and then answers with a promise', async () => {
    const memory = new MemoryStore();
    const liar: SessionStore = {
      loadsSynchronously: () => true,
      load: async (sid: string) => memory.load(sid),
      save: (sid: string, json: string, ttl?: number) => memory.save(sid, json, ttl),
      remove: (sid: string) => memory.remove(sid),
    };
    const { running } = await appWith(liar);
    const cookie = cookieHeader(await running.agent.get('/set').expect(200));
    await running.agent.get('/read').set('Cookie', cookie).expect(503);
    assert.match(String(running.errors[0]?.message), /session store failed to load/);
  });
});
