// The store contract's normalization: whatever a store method returns becomes
// one settled outcome, and plain values are never handed to co.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { settle } from '../src/store.js';
import type { SessionStore, Thunk } from '../src/store.js';
import { session } from '../src/index.js';
import { cookieHeader, listen, makeApp } from './support/http.js';

describe('settle()', () => {
  it('passes a native promise through untouched', async () => {
    const promise = Promise.resolve('json');
    assert.equal(await settle(promise), 'json');
  });

  it('accepts thenables that are not native promises', async () => {
    const thenable = { then: (resolve: (value: string) => void) => resolve('from thenable') };
    assert.equal(await settle(thenable as unknown as PromiseLike<string>), 'from thenable');
  });

  it('runs a thunk and settles once even when it calls back twice', async () => {
    let calls = 0;
    const thunk: Thunk<string> = (callback) => {
      calls++;
      callback(null, 'first');
      callback(new Error('second call is ignored'));
    };
    assert.equal(await settle(thunk), 'first');
    assert.equal(calls, 1);
  });

  it('rejects when a thunk throws synchronously, and ignores a throw after it called back', async () => {
    await assert.rejects(
      settle((() => {
        throw new Error('sync failure');
      }) as Thunk<string>),
      /sync failure/,
    );
    const late: Thunk<string> = (callback) => {
      callback(null, 'answered');
      throw new Error('too late');
    };
    assert.equal(await settle(late), 'answered');
  });

  it('rejects with the error a thunk calls back with', async () => {
    await assert.rejects(settle(((callback) => setImmediate(() => callback(new Error('async failure')))) as Thunk<string>), /async failure/);
  });

  it('runs generator functions and generator objects through co', async () => {
    function* gen(): Generator<unknown, string, unknown> {
      const part = (yield Promise.resolve('gen')) as string;
      return `${part}erator`;
    }
    assert.equal(await settle(gen), 'generator');
    assert.equal(await settle(gen()), 'generator');
  });

  it('returns plain values as they are, even objects co would walk into', async () => {
    assert.equal(await settle('{"a":1}'), '{"a":1}');
    assert.equal(await settle(undefined), undefined);
    assert.equal(await settle(null), null);
    assert.equal(await settle(42), 42);
    const hostile = JSON.parse('{"constructor":{"name":"x"},"__proto__":{"polluted":true}}') as object;
    assert.equal(await settle(hostile), hostile);
    assert.equal(({} as Record<string, unknown>).polluted, undefined);
  });
});

describe('store methods in the middleware', () => {
  it('uses the first answer of a load thunk that calls back twice, and still answers 200', async () => {
    const map = new Map<string, string>();
    const store: SessionStore = {
      load: (sid) => (callback: (error: unknown, value?: string) => void) => {
        callback(null, map.get(sid));
        callback(null, '{"wrong":true}');
      },
      save: (sid, json) => (callback: (error: unknown) => void) => {
        map.set(sid, json);
        callback(null);
        callback(null);
      },
      remove: (sid) => (callback: (error: unknown) => void) => {
        map.delete(sid);
        callback(null);
      },
    };
    const app = makeApp();
    app.use(session({ store }));
    app.use((ctx) => {
      ctx.session.n = ((ctx.session.n as number) ?? 0) + 1;
      ctx.body = ctx.session;
    });
    const { agent } = await listen(app);
    const first = await agent.get('/').expect(200);
    const second = await agent.get('/').set('Cookie', cookieHeader(first)).expect(200);
    assert.deepEqual(second.body, { n: 2 });
    assert.deepEqual([...map.values()], ['{"n":2}']);
  });
});
