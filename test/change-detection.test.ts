// What the middleware writes back at the end of a request: nothing for a
// session that was only read (a top level of primitives is compared without
// serializing it), and every change, including a nested object changed in
// place, once the handler made one. Real HTTP, real MemoryStore.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { MemoryStore, session } from '../src/index.js';
import type { SessionPatch } from '../src/index.js';
import { cookieHeader, KOA_VERSIONS, listen, makeApp } from './support/http.js';

/** A MemoryStore that counts the writes it gets. */
class CountingStore extends MemoryStore {
  writes = 0;
  override save(sid: string, json: string, ttlMs?: number): void {
    this.writes++;
    super.save(sid, json, ttlMs);
  }
  override patch(sid: string, patch: SessionPatch, ttlMs?: number): void {
    this.writes++;
    super.patch(sid, patch, ttlMs);
  }
}

for (const { label, Koa } of KOA_VERSIONS) {
  describe(`${label}: change detection`, () => {
    async function start() {
      const store = new CountingStore();
      const app = makeApp(Koa);
      app.use(session({ store }));
      app.use((ctx) => {
        const data = ctx.session as Record<string, unknown>;
        if (ctx.path === '/set') Object.assign(data, { user: 'ada', n: 1, cart: { items: [] } });
        else if (ctx.path === '/flat') Object.assign(data, { user: 'ada', n: 1 });
        else if (ctx.path === '/same') data.n = 1;
        else if (ctx.path === '/bump') data.n = 2;
        else if (ctx.path === '/push') (data.cart as { items: number[] }).items.push(7);
        else if (ctx.path === '/drop') delete data.user;
        ctx.body = data;
      });
      return { store, running: await listen(app) };
    }

    it('writes nothing for a flat session that was only read or given the same values', async () => {
      const { store, running } = await start();
      const cookie = cookieHeader(await running.agent.get('/flat').expect(200));
      const writes = store.writes;
      await running.agent.get('/read').set('Cookie', cookie).expect(200);
      await running.agent.get('/same').set('Cookie', cookie).expect(200);
      assert.equal(store.writes, writes);
      await running.agent.get('/bump').set('Cookie', cookie).expect(200);
      assert.equal(store.writes, writes + 1);
      await running.agent.get('/drop').set('Cookie', cookie).expect(200);
      assert.equal(store.writes, writes + 2);
      assert.deepEqual((await running.agent.get('/read').set('Cookie', cookie).expect(200)).body, { n: 2 });
    });

    it('writes a nested object changed in place, and nothing when it was only read', async () => {
      const { store, running } = await start();
      const cookie = cookieHeader(await running.agent.get('/set').expect(200));
      const writes = store.writes;
      await running.agent.get('/read').set('Cookie', cookie).expect(200);
      assert.equal(store.writes, writes);
      await running.agent.get('/push').set('Cookie', cookie).expect(200);
      assert.equal(store.writes, writes + 1);
      assert.deepEqual((await running.agent.get('/read').set('Cookie', cookie).expect(200)).body, { user: 'ada', n: 1, cart: { items: [7] } });
    });
  });
}
