import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { session } from '../../src/index.js';
import { MemoryStore } from '../../src/stores/memory.js';
import { runStoreConformance } from '../../src/testing.js';
import type { SessionStore } from '../../src/store.js';
import { cookieHeader, listen, makeApp } from '../support/http.js';

runStoreConformance('MemoryStore', {
  create: () => new MemoryStore(),
  destroy: (store: SessionStore) => (store as MemoryStore).close(),
});

runStoreConformance('MemoryStore with a fast sweep', {
  create: () => new MemoryStore({ sweepInterval: 20 }),
  destroy: (store: SessionStore) => (store as MemoryStore).close(),
});

const memoryModule = fileURLToPath(new URL('../../src/stores/memory.ts', import.meta.url));

/** Runs `code` in a child node (with tsx) and resolves to its exit code, or 'timeout'. */
function runChild(code: string, timeoutMs = 10_000): Promise<number | null | 'timeout'> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', code], { stdio: ['ignore', 'ignore', 'inherit'] });
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      resolve('timeout');
    }, timeoutMs);
    child.once('error', reject);
    child.once('exit', (exitCode) => {
      clearTimeout(timer);
      resolve(exitCode);
    });
  });
}

describe('MemoryStore specifics', () => {
  it('keeps exactly max sessions and evicts the least recently used', async () => {
    const store = new MemoryStore({ max: 100, sweepInterval: 0 });
    for (let i = 0; i < 100; i += 1) await store.save(`s${i}`, `{"i":${i}}`);
    // Reading s0..s9 makes them recently used, so s10..s59 are the ones to go.
    for (let i = 0; i < 10; i += 1) assert.equal(await store.load(`s${i}`), `{"i":${i}}`);
    for (let i = 100; i < 150; i += 1) await store.save(`s${i}`, `{"i":${i}}`);
    assert.equal(store.size, 100);
    for (let i = 0; i < 10; i += 1) assert.equal(await store.load(`s${i}`), `{"i":${i}}`, `s${i} was used recently and must survive`);
    for (let i = 10; i < 60; i += 1) assert.equal(await store.load(`s${i}`), undefined, `s${i} was least recently used and must be evicted`);
    for (let i = 60; i < 150; i += 1) assert.equal(await store.load(`s${i}`), `{"i":${i}}`);
    await store.close();
  });

  it('evicts 1 % of max at once from max 1,000 on, sparing sessions loaded since their last write', async () => {
    const store = new MemoryStore({ max: 1000, sweepInterval: 0 });
    for (let i = 0; i < 1000; i += 1) await store.save(`s${i}`, '{}');
    for (let i = 0; i < 5; i += 1) await store.load(`s${i}`);
    await store.save('s1000', '{}');
    assert.equal(store.size, 990);
    for (let i = 0; i < 5; i += 1) assert.equal(await store.load(`s${i}`), '{}', `s${i} was loaded, so it gets a second chance`);
    for (let i = 5; i < 16; i += 1) assert.equal(await store.load(`s${i}`), undefined, `s${i} was the oldest unused, so it goes`);
    assert.equal(await store.load('s16'), '{}');
    for (let i = 1001; i < 3000; i += 1) {
      await store.save(`s${i}`, '{}');
      assert.ok(store.size <= 1000, `size ${store.size} after s${i}`);
    }
    await store.close();
  });

  for (const max of [3, 1000, 10_000]) {
    it(`keeps the session it has just saved when every other one of max ${max} was loaded once`, async () => {
      const store = new MemoryStore({ max, sweepInterval: 0 });
      for (let i = 0; i < max; i += 1) store.save(`s${i}`, `{"i":${i}}`);
      for (let i = 0; i < max; i += 1) assert.equal(store.load(`s${i}`), `{"i":${i}}`);
      store.save('new', '{"i":"new"}');
      assert.equal(store.load('new'), '{"i":"new"}', 'the session just saved must never be the one evicted');
      // Loaded in order, so s0 is the session unused for longest.
      assert.equal(store.load('s0'), undefined, 's0 was unused for longest, so it goes first');
      assert.equal(store.load(`s${max - 1}`), `{"i":${max - 1}}`, 'the session loaded last must stay');
      assert.ok(store.size <= max, `size ${store.size} is above max ${max}`);
      store.close();
    });
  }

  it('evicts by last use, not by last write, when sessions were loaded in another order than saved', () => {
    const store = new MemoryStore({ max: 3, sweepInterval: 0 });
    store.save('a', '{}');
    store.save('b', '{}');
    store.load('a');
    store.save('c', '{}');
    // Unused for longest: b (saved), then a (loaded), then c (saved).
    store.save('d', '{}');
    assert.equal(store.load('b'), undefined, 'b goes first');
    store.load('d');
    store.save('e', '{}');
    assert.equal(store.load('a'), undefined, 'a was loaded before c was saved, so it goes before c');
    assert.equal(store.load('c'), '{}');
    assert.equal(store.load('d'), '{}');
    assert.equal(store.load('e'), '{}');
    store.close();
  });

  for (const max of [5, 1000]) {
    it(`evicts exactly the sessions unused for longest over random saves, loads, touches, patches and removes, with max ${max}`, () => {
      const store = new MemoryStore({ max, sweepInterval: 0 });
      // The reference: a Map re-inserted on every use is in order of last use, oldest first.
      const model = new Map<string, string>();
      const use = (sid: string, json: string): void => {
        model.delete(sid);
        model.set(sid, json);
      };
      const batch = max >= 1000 ? max / 100 : 0;
      let seed = 42;
      const random = (n: number): number => {
        seed = (seed * 1103515245 + 12345) % 2 ** 31;
        return seed % n;
      };
      for (let step = 0; step < 20 * max; step += 1) {
        const sid = `s${random(3 * max)}`;
        const op = random(5);
        if (op === 0) {
          if (!model.has(sid) && model.size >= max) {
            for (const oldest of [...model.keys()].slice(0, 1 + batch)) model.delete(oldest);
          }
          store.save(sid, `{"step":${step}}`);
          use(sid, `{"step":${step}}`);
        } else if (op === 1) {
          const expected = model.get(sid);
          assert.equal(store.load(sid), expected, `load of ${sid} at step ${step}`);
          if (expected !== undefined) use(sid, expected);
        } else if (op === 2) {
          store.touch(sid, 60_000);
          const json = model.get(sid);
          if (json !== undefined) use(sid, json);
        } else if (op === 3) {
          store.patch(sid, { set: { step: String(step) }, unset: [] }, 60_000);
          if (model.has(sid)) use(sid, `{"step":${step}}`);
        } else {
          store.remove(sid);
          model.delete(sid);
        }
        assert.equal(store.size, model.size, `size at step ${step}`);
      }
      for (const [sid, json] of model) assert.equal(store.load(sid), json);
      store.close();
    });
  }

  it('writes the whole result of a patch when the entry is still its base, and applies the keys when it is not', async () => {
    const store = new MemoryStore({ sweepInterval: 0 });
    await store.save('s', '{"a":1,"b":2}');
    await store.patch('s', { set: { b: '3' }, unset: [], base: '{"a":1,"b":2}', result: '{"b":3,"a":1}' }, 60_000);
    assert.equal(await store.load('s'), '{"b":3,"a":1}');
    await store.patch('s', { set: { c: '4' }, unset: [], base: '{"a":1,"b":2}', result: '{"c":4,"a":1,"b":2}' }, 60_000);
    assert.equal(await store.load('s'), '{"b":3,"a":1,"c":4}');
    await store.close();
  });

  it('counts touch and patch as use for the eviction order', async () => {
    const store = new MemoryStore({ max: 3, sweepInterval: 0 });
    await store.save('a', '{}');
    await store.save('b', '{}');
    await store.save('c', '{}');
    await store.touch('a', 60_000);
    await store.patch('b', { set: { x: '1' }, unset: [] });
    await store.save('d', '{}');
    assert.equal(await store.load('c'), undefined);
    assert.equal(await store.load('a'), '{}');
    assert.equal(await store.load('b'), '{"x":1}');
    assert.equal(await store.load('d'), '{}');
    await store.close();
  });

  it('deletes expired sessions in the periodic sweep without anyone reading them', async () => {
    const store = new MemoryStore({ sweepInterval: 20 });
    await store.save('short1', '{}', 30);
    await store.save('short2', '{}', 30);
    await store.save('forever', '{}');
    await store.save('long', '{}', 60_000);
    assert.equal(store.size, 4);
    // size does not read entries, so only the sweep can bring it down.
    for (let i = 0; i < 100 && store.size > 2; i += 1) await sleep(20);
    assert.equal(store.size, 2);
    assert.equal(await store.load('forever'), '{}');
    assert.equal(await store.load('long'), '{}');
    await store.close();
  });

  it('sweeps nothing when sweepInterval is 0, yet never returns an expired session', async () => {
    const store = new MemoryStore({ sweepInterval: 0 });
    await store.save('short', '{"a":1}', 10);
    await sleep(60);
    assert.equal(store.size, 1);
    assert.equal(await store.load('short'), undefined);
    assert.equal(store.size, 0, 'the expired entry is deleted when read');
    await store.close();
  });

  it('treats a touch or patch of an expired session as a miss', async () => {
    const store = new MemoryStore({ sweepInterval: 0 });
    await store.save('t', '{"a":1}', 10);
    await store.save('p', '{"a":1}', 10);
    await sleep(60);
    await store.touch('t', 60_000);
    await store.patch('p', { set: { b: '2' }, unset: [] }, 60_000);
    assert.equal(await store.load('t'), undefined);
    assert.equal(await store.load('p'), undefined);
    assert.equal(store.size, 0);
    await store.close();
  });

  it('stores exactly the string it is given', async () => {
    const store = new MemoryStore({ sweepInterval: 0 });
    const json = '{ "spaced" : 1e21 , "z": -0 }';
    await store.save('x', json);
    assert.equal(await store.load('x'), json);
    await store.close();
  });

  it('empties itself on close', async () => {
    const store = new MemoryStore();
    await store.save('x', '{}');
    await store.close();
    assert.equal(store.size, 0);
    assert.equal(await store.load('x'), undefined);
  });

  it('rejects an invalid max or sweepInterval with a TypeError naming the option', () => {
    for (const max of [0, -1, 1.5, Number.NaN, Number.POSITIVE_INFINITY]) {
      assert.throws(() => new MemoryStore({ max }), (error: unknown) => error instanceof TypeError && /^koa-session-store: MemoryStore option max is invalid/.test(error.message));
    }
    for (const sweepInterval of [-1, 0.5, Number.NaN, 2 ** 31]) {
      assert.throws(
        () => new MemoryStore({ sweepInterval }),
        (error: unknown) => error instanceof TypeError && /^koa-session-store: MemoryStore option sweepInterval is invalid/.test(error.message),
      );
    }
  });

  it('lets the process exit after close()', async () => {
    const code = `
      const { MemoryStore } = await import(${JSON.stringify(memoryModule)});
      const store = new MemoryStore({ sweepInterval: 10 });
      await store.save('a', '{}', 60000);
      await store.close();
    `;
    assert.equal(await runChild(code), 0);
  });

  it('lets the process exit while its sweep timer runs, without close()', async () => {
    const code = `
      const { MemoryStore } = await import(${JSON.stringify(memoryModule)});
      const store = new MemoryStore({ sweepInterval: 10 });
      await store.save('a', '{}', 60000);
    `;
    assert.equal(await runChild(code), 0);
  });

  it('keeps a process alive in the control case, so the exit tests can fail', async () => {
    // Same harness with a referenced timer: it must hit the timeout, proving the two tests above measure something.
    assert.equal(await runChild('setInterval(() => {}, 1000);', 3000), 'timeout');
  });
});

describe('MemoryStore behind the middleware', () => {
  it('keeps a login made right after 1,000 sessions were created and read once, with max 1,000', async () => {
    const app = makeApp();
    app.use(session({ store: new MemoryStore({ max: 1000, sweepInterval: 0 }) }));
    app.use(async (ctx) => {
      if (ctx.path === '/login') {
        await ctx.regenerateSession();
        ctx.session.user = 'ann';
      } else if (ctx.path === '/visit') {
        ctx.session.visited = true;
      }
      ctx.body = { user: ctx.session.user ?? null, visited: ctx.session.visited ?? null };
    });
    const { agent } = await listen(app);
    const cookies: string[] = [];
    for (let i = 0; i < 1000; i += 1) cookies.push(cookieHeader(await agent.get('/visit').expect(200)));
    // Each read loads its session, so the store holds 1,000 sessions that were all used once.
    for (const cookie of cookies) await agent.get('/').set('Cookie', cookie).expect(200, { user: null, visited: true });
    const login = await agent.post('/login').expect(200, { user: 'ann', visited: null });
    await agent.get('/').set('Cookie', cookieHeader(login)).expect(200, { user: 'ann', visited: null });
  });
});
