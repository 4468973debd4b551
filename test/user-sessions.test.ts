// A user's sessions (option indexBy) on MemoryStore and on a store built from
// the contract alone, the option's start-up checks, and apps without indexBy
// paying nothing for it. The SQL and Redis stores run the same suite in their
// own test files.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { MemoryStore, session } from '../src/index.js';
import type { IndexedSession, SessionStore } from '../src/index.js';
import { cookieHeader, listen, makeApp } from './support/http.js';
import { runUserSessionsSuite } from './support/user-sessions.js';

runUserSessionsSuite('MemoryStore', { create: () => new MemoryStore(), destroy: (store) => store.close() });

/** A store over two Maps written from the contract's words alone, counting index calls. */
function contractStore() {
  const sessions = new Map<string, string>();
  const users = new Map<string, Map<string, IndexedSession>>();
  const calls = { index: 0, unindex: 0, list: 0 };
  const store: SessionStore = {
    load: async (sid) => sessions.get(sid),
    save: async (sid, json) => void sessions.set(sid, json),
    remove: async (sid) => void sessions.delete(sid),
    indexSession: async (userId, entry) => {
      calls.index++;
      const mine = users.get(userId) ?? new Map<string, IndexedSession>();
      users.set(userId, mine);
      const known = mine.get(entry.sid);
      mine.set(entry.sid, known ? { ...known, lastActiveAt: entry.lastActiveAt, expiresAt: entry.expiresAt } : entry);
    },
    unindexSession: async (userId, sid) => {
      calls.unindex++;
      users.get(userId)?.delete(sid);
    },
    listIndexed: async (userId) => {
      calls.list++;
      return [...(users.get(userId)?.values() ?? [])];
    },
  };
  return { store, calls };
}

runUserSessionsSuite('a store with only load, save, remove and the index methods', { create: () => contractStore().store });

describe('indexBy at start-up, and without it', () => {
  it('refuses indexBy on the cookie store, on a store without the index methods, and when it is not a key name', () => {
    assert.throws(() => session({ indexBy: 'userId' }), /indexBy needs a server-side store: a cookie session lives only in the browser, so it cannot be listed or revoked/);
    assert.throws(() => session({ encrypt: true, indexBy: 'userId' }), /option encrypt is for the cookie store|indexBy needs a server-side store/);
    const bare: SessionStore = { load: () => undefined, save() {}, remove() {} };
    assert.throws(() => session({ store: bare, indexBy: 'userId' }), /lacks indexSession, unindexSession, listIndexed/);
    assert.throws(() => session({ store: new MemoryStore(), indexBy: '' }), /option indexBy is invalid/);
  });

  it('fails ctx.listSessions() clearly without indexBy, and so do the middleware methods', async () => {
    const middleware = session({ store: new MemoryStore() });
    await assert.rejects(middleware.listSessions('alice'), /need the indexBy option/);
    const app = makeApp();
    app.use(middleware);
    app.use(async (ctx) => {
      ctx.body = await ctx.listSessions();
    });
    const { agent, errors } = await listen(app);
    await agent.get('/').expect(500);
    assert.match(errors[0]?.message ?? '', /ctx\.listSessions\(\) needs the indexBy option/);
  });

  it('makes no index call at all for an app without indexBy, even when its sessions hold a userId', async () => {
    const { store, calls } = contractStore();
    const app = makeApp();
    app.use(session({ store, rolling: true }));
    app.use(async (ctx) => {
      if (ctx.path === '/login') {
        await ctx.regenerateSession();
        ctx.session.userId = 'alice';
      }
      if (ctx.path === '/logout') ctx.session = null;
      ctx.body = 'ok';
    });
    const { agent } = await listen(app);
    const login = await agent.get('/login').expect(200);
    await agent.get('/').set('Cookie', cookieHeader(login)).expect(200);
    await agent.get('/logout').set('Cookie', cookieHeader(login)).expect(200);
    assert.deepEqual(calls, { index: 0, unindex: 0, list: 0 });
  });
});
