// What RedisStore does on the wire, checked from the outside: the key layout
// and ttl with a raw client, the exact commands with MONITOR, the command
// timeout against a frozen or stopped server, errors, close() and options.
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import type { Socket } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { Cluster, Redis } from 'ioredis';
// node-redis 4, the oldest major of the peer range, under an alias: the `redis` devDependency is 5,
// as connect-redis 10's peer range needs; redis-drivers.test.ts runs the store suites on 5 and 6.
import { createClient } from 'redis4';
import { RedisStore } from '../../src/redis.js';
import type { SessionPatch } from '../../src/store.js';
import { REDIS_URL, redisSkip } from '../support/services.js';
import { startRedis } from '../support/redis-server.js';
import type { RedisServer } from '../support/redis-server.js';
import { RUN_PREFIX, deleteClusterKeys, deleteKeys, sharedCluster, stopSharedCluster } from './redis-helpers.js';

const skip = await redisSkip();
after(stopSharedCluster);

function patchOf(entries: Record<string, unknown>, unset: string[] = []): SessionPatch {
  const set = Object.create(null) as Record<string, string>;
  for (const [key, value] of Object.entries(entries)) set[key] = JSON.stringify(value);
  return { set, unset };
}

describe('RedisStore keys and ttl, read with a raw client', { skip }, () => {
  const prefix = `${RUN_PREFIX}keys:`;
  let raw: Redis;
  let client: Redis;
  let store: RedisStore;

  before(() => {
    raw = new Redis(REDIS_URL);
    client = new Redis(REDIS_URL);
    store = new RedisStore({ client, prefix });
  });
  after(async () => {
    await deleteKeys(raw, prefix);
    await Promise.all([raw.quit(), client.quit()]);
  });

  it('keeps each session as the exact JSON string at prefix + sid, with PX ttl', async () => {
    const sid = randomUUID();
    const json = '{"user":"ann","cart":[],"n":1e21,"s":"\\"é😀"}';
    await store.save(sid, json, 60_000);
    assert.equal(await raw.get(prefix + sid), json);
    const pttl = await raw.pttl(prefix + sid);
    assert.ok(pttl > 0 && pttl <= 60_000, `PTTL was ${pttl}`);
    assert.equal(await raw.type(prefix + sid), 'string');
  });

  it('uses koa:sess: as the default prefix', async () => {
    const defaultStore = new RedisStore({ client });
    assert.equal(defaultStore.prefix, 'koa:sess:');
    const sid = `${RUN_PREFIX.slice('koa:sess:'.length)}default-${randomUUID()}`;
    await defaultStore.save(sid, '{"a":1}', 60_000);
    try {
      assert.equal(await raw.get(`koa:sess:${sid}`), '{"a":1}');
    } finally {
      await raw.del(`koa:sess:${sid}`);
    }
  });

  it('saves without a ttl as a key that never expires, clearing an earlier ttl', async () => {
    const sid = randomUUID();
    await store.save(sid, '{"a":1}', 60_000);
    await store.save(sid, '{"a":2}');
    assert.equal(await raw.pttl(prefix + sid), -1);
    assert.equal(await raw.get(prefix + sid), '{"a":2}');
  });

  it('rounds a fractional ttl up to whole milliseconds', async () => {
    const sid = randomUUID();
    await store.save(sid, '{}', 90_000.2);
    const pttl = await raw.pttl(prefix + sid);
    assert.ok(pttl > 60_000 && pttl <= 90_001, `PTTL was ${pttl}`);
  });

  it('touches with PEXPIRE, leaving the value as it is, and with PERSIST when the ttl is undefined', async () => {
    const sid = randomUUID();
    await store.save(sid, '{"a":1}', 5_000);
    await store.touch(sid, 600_000);
    const pttl = await raw.pttl(prefix + sid);
    assert.ok(pttl > 5_000 && pttl <= 600_000, `PTTL after touch was ${pttl}`);
    assert.equal(await raw.get(prefix + sid), '{"a":1}');
    await store.touch(sid);
    assert.equal(await raw.pttl(prefix + sid), -1);
  });

  it('does not create a key on touch of a missing session, with or without ttl', async () => {
    const sid = randomUUID();
    await store.touch(sid, 60_000);
    await store.touch(sid);
    assert.equal(await raw.exists(prefix + sid), 0);
  });

  it('deletes the key on remove', async () => {
    const sid = randomUUID();
    await store.save(sid, '{}', 60_000);
    await store.remove(sid);
    assert.equal(await raw.exists(prefix + sid), 0);
  });

  it('reads what another app server wrote under the same prefix', async () => {
    const sid = randomUUID();
    const other = new RedisStore({ client: raw, prefix });
    await other.save(sid, '{"from":"server 2"}', 60_000);
    assert.equal(await store.load(sid), '{"from":"server 2"}');
  });
});

describe('RedisStore commands, seen with MONITOR on a server of its own', () => {
  let server: RedisServer;
  let client: Redis;
  let monitor: Redis;
  let seen: string[][];

  before(async () => {
    server = await startRedis();
    client = new Redis(server.port, server.host);
    // monitor() opens a connection of its own, so the client it is called on can be the test's client.
    monitor = await client.monitor();
    seen = [];
    monitor.on('monitor', (_time: string, args: string[], source: string) => {
      // Commands a script runs are reported too, with source 'lua': they happen inside Redis, not from Node.
      if (source !== 'lua') seen.push(args);
    });
  });
  after(async () => {
    monitor?.disconnect();
    client?.disconnect();
    await server?.stop();
  });

  /** Runs `operation` and returns the commands the server received meanwhile (MONITOR lags a little). */
  async function commandsOf(operation: () => Promise<unknown>): Promise<string[][]> {
    await client.ping('mark-start');
    seen = [];
    await operation();
    await client.ping('mark-end');
    for (let i = 0; i < 100 && !seen.some((args) => args[1] === 'mark-end'); i += 1) await sleep(10);
    return seen.map(([command, ...args]) => [(command ?? '').toLowerCase(), ...args]).filter((args) => args[0] !== 'ping');
  }

  it('sends exactly one command per operation, patch included (no read-modify-write from Node)', async () => {
    const store = new RedisStore({ client, prefix: 'p:' });
    assert.deepEqual(await commandsOf(() => store.save('s1', '{"a":1}', 60_000)), [['set', 'p:s1', '{"a":1}', 'PX', '60000']]);
    assert.deepEqual(await commandsOf(() => store.save('s1', '{"a":1}')), [['set', 'p:s1', '{"a":1}']]);
    assert.deepEqual(await commandsOf(() => store.load('s1')), [['get', 'p:s1']]);
    assert.deepEqual(await commandsOf(() => store.touch('s1', 30_000)), [['pexpire', 'p:s1', '30000']]);
    assert.deepEqual(await commandsOf(() => store.touch('s1')), [['persist', 'p:s1']]);
    await store.patch('s1', patchOf({ warm: 1 }), 60_000); // loads the script on the server
    const patch = await commandsOf(() => store.patch('s1', patchOf({ b: [1] }, ['a']), 60_000));
    assert.equal(patch.length, 1, `patch sent ${JSON.stringify(patch.map((args) => args[0]))}`);
    assert.deepEqual(patch[0]?.slice(0, 1), ['evalsha']);
    assert.deepEqual(patch[0]?.slice(2), ['1', 'p:s1', '60000', '', '', '1', '"b"', '[1]', '"a"']);
    assert.deepEqual(await commandsOf(() => store.remove('s1')), [['del', 'p:s1']]);
  });

  it('falls back to EVAL once when the server has lost the script, then uses EVALSHA again', async () => {
    const store = new RedisStore({ client, prefix: 'p:' });
    await store.save('s2', '{"a":1}', 60_000);
    await client.script('FLUSH');
    const first = await commandsOf(() => store.patch('s2', patchOf({ b: 2 }), 60_000));
    assert.deepEqual(first.map((args) => args[0]), ['evalsha', 'eval']);
    const second = await commandsOf(() => store.patch('s2', patchOf({ c: 3 }), 60_000));
    assert.deepEqual(second.map((args) => args[0]), ['evalsha']);
    assert.equal(await client.get('p:s2'), '{"a":1,"b":2,"c":3}');
  });

  it('writes the whole result when the entry is still its base, and applies the keys when it is not', async () => {
    const store = new RedisStore({ client, prefix: 'w:' });
    await store.save('s', '{"a":1,"b":2}', 60_000);
    // The results are spelled unlike what the key-wise path makes, so the stored text shows which path ran.
    assert.equal(await store.patch('s', { ...patchOf({ b: 3 }), base: '{"a":1,"b":2}', result: '{"b":3,"a":1}' }, 60_000), true);
    assert.equal(await client.get('w:s'), '{"b":3,"a":1}');
    const pttl = await client.pttl('w:s');
    assert.ok(pttl > 0 && pttl <= 60_000, `PTTL was ${pttl}`);
    assert.equal(await store.patch('s', { ...patchOf({ c: 4 }), base: '{"a":1,"b":2}', result: '{"c":4,"a":1,"b":2}' }, 60_000), true);
    assert.equal(await client.get('w:s'), '{"b":3,"a":1,"c":4}');
    // A large session sends only its changed keys.
    const big = 'x'.repeat(9000);
    await store.save('t', `{"a":"${big}"}`, 60_000);
    const sent = await commandsOf(() => store.patch('t', { ...patchOf({ b: 1 }), base: `{"a":"${big}"}`, result: `{"b":1,"a":"${big}"}` }, 60_000));
    assert.deepEqual(sent[0]?.slice(5, 7), ['', '']);
    assert.equal(await client.get('w:t'), `{"a":"${big}","b":1}`);
    assert.equal(await store.patch('gone', { ...patchOf({ b: 1 }), base: '{}', result: '{"b":1}' }, 60_000), false);
    assert.equal(await client.exists('w:gone'), 0);
  });

  it('sends the commands issued in one event-loop turn in one socket write, each with its own answer', async () => {
    const store = new RedisStore({ client, prefix: 'b:' });
    const ids = Array.from({ length: 20 }, (_, i) => `s${i}`);
    await Promise.all(ids.map((id, i) => store.save(id, `{"i":${i}}`, 60_000)));
    const stream = (client as unknown as { stream: Socket }).stream;
    const write = stream.write;
    let writes = 0;
    stream.write = function countedWrite(this: Socket, ...args: Parameters<Socket['write']>) {
      writes += 1;
      return write.apply(this, args);
    } as Socket['write'];
    try {
      const loaded = await Promise.all([...ids.map((id) => store.load(id)), store.load('missing')]);
      assert.deepEqual(loaded, [...ids.map((_, i) => `{"i":${i}}`), null]);
      assert.equal(writes, 1, 'the 21 GETs should leave in one write');
      // One command of a batch failing (NOSCRIPT) fails alone: the patch falls back to EVAL, the loads still answer.
      await client.script('FLUSH');
      const [patched, first, last] = await Promise.all([store.patch('s0', patchOf({ x: 1 }), 60_000), store.load('s1'), store.load('s19')]);
      assert.deepEqual([patched, first, last], [true, '{"i":1}', '{"i":19}']);
      assert.equal(await client.get('b:s0'), '{"i":0,"x":1}');
    } finally {
      stream.write = write;
    }
  });
});

describe('RedisStore commandTimeout', () => {
  let server: RedisServer;

  before(async () => {
    server = await startRedis();
  });
  after(async () => {
    if (server?.pid) process.kill(server.pid, 'SIGCONT');
    await server?.stop();
  });

  /** Freezes the server process (it keeps its connections but answers nothing) while `during` runs. */
  async function whileFrozen(during: () => Promise<void>): Promise<void> {
    const pid = server.pid as number;
    process.kill(pid, 'SIGSTOP');
    try {
      await during();
    } finally {
      process.kill(pid, 'SIGCONT');
    }
  }

  async function assertEveryOperationTimesOut(store: RedisStore, limit: number): Promise<void> {
    const timedOut = (command: string) => (error: Error) => {
      assert.equal(
        error.message,
        `koa-session-store: Redis did not answer ${command} within ${limit} ms; check that Redis is reachable, or raise the commandTimeout option of RedisStore`,
      );
      return true;
    };
    await Promise.all([
      assert.rejects(store.load('t'), timedOut('GET')),
      assert.rejects(store.save('t', '{}', 60_000), timedOut('SET')),
      assert.rejects(store.touch('t', 60_000), timedOut('PEXPIRE')),
      assert.rejects(store.patch('t', patchOf({ a: 1 }), 60_000), timedOut('EVALSHA')),
      assert.rejects(store.remove('t'), timedOut('DEL')),
    ]);
  }

  it('rejects every operation of an ioredis store when the server does not answer in time, and works again after', async () => {
    const client = new Redis(server.port, server.host);
    try {
      const store = new RedisStore({ client, commandTimeout: 300 });
      await store.save('t', '{"before":true}', 60_000);
      await whileFrozen(() => assertEveryOperationTimesOut(store, 300));
      // The server has never seen the patch script, so its EVALSHA gets NOSCRIPT once thawed: the
      // store must not send the script again for a patch it gave up on, or it would land after this save.
      await store.save('t', '{"after":true}', 60_000);
      assert.equal(await store.load('t'), '{"after":true}', 'the store works again once the server answers');
    } finally {
      client.disconnect();
    }
  });

  it('rejects every operation of a node-redis store when the server does not answer in time', async () => {
    const client = createClient({ url: server.url });
    await client.connect();
    try {
      const store = new RedisStore({ client, commandTimeout: 300 });
      await whileFrozen(() => assertEveryOperationTimesOut(store, 300));
      // The server has never seen the patch script, so its EVALSHA gets NOSCRIPT once thawed: the
      // store must not send the script again for a patch it gave up on, or it would land after this save.
      await store.save('t', '{"after":true}', 60_000);
      assert.equal(await store.load('t'), '{"after":true}');
    } finally {
      await client.disconnect();
    }
  });

  it('rejects while the server is down, and recovers by itself once it is back on the same port', async () => {
    const client = new Redis(server.port, server.host);
    // Reconnection attempts report ECONNREFUSED as 'error' events while the server is down: expected here.
    client.on('error', () => {});
    try {
      const store = new RedisStore({ client, commandTimeout: 300 });
      await store.save('down', '{"a":1}', 60_000);
      await server.halt();
      await assert.rejects(store.load('down'), /koa-session-store: Redis did not answer GET within 300 ms/);
      await server.restart();
      // No persistence on this server: the key is gone, but the store answers again without any help.
      const deadline = Date.now() + 20_000;
      let answer: string | null | undefined;
      while (answer === undefined) {
        answer = await store.load('down').catch((error: Error) => {
          if (Date.now() > deadline) throw error;
          return undefined;
        });
      }
      assert.equal(answer, null);
    } finally {
      client.disconnect();
    }
  });

  it('waits as long as the client does when commandTimeout is 0', async () => {
    const client = new Redis(server.port, server.host);
    try {
      const store = new RedisStore({ client, commandTimeout: 0 });
      await store.save('zero', '{"z":0}');
      let settled = false;
      let pending: Promise<string | null> | undefined;
      await whileFrozen(async () => {
        pending = store.load('zero');
        void pending.finally(() => (settled = true));
        await sleep(500);
        assert.equal(settled, false, 'with commandTimeout 0 nothing but the client may end the wait');
      });
      assert.equal(await pending, '{"z":0}');
    } finally {
      client.disconnect();
    }
  });
});

describe('RedisStore errors and close()', { skip }, () => {
  it('wraps a client error, keeping it as cause', async () => {
    const client = createClient({ url: REDIS_URL });
    await client.connect();
    await client.quit();
    const store = new RedisStore({ client });
    await assert.rejects(store.load('x'), (error: Error) => {
      assert.match(error.message, /^koa-session-store: Redis GET failed \(The client is closed\); is the client connected and the server healthy\?$/);
      assert.ok(error.cause instanceof Error);
      assert.equal(error.cause.message, 'The client is closed');
      return true;
    });
  });

  it('passes a Redis error reply on, with the reply as cause', async () => {
    const prefix = `${RUN_PREFIX}err:`;
    const client = new Redis(REDIS_URL);
    try {
      await client.hset(`${prefix}hash`, 'a', '1');
      const store = new RedisStore({ client, prefix });
      await assert.rejects(store.load('hash'), (error: Error) => {
        assert.match(error.message, /^koa-session-store: Redis GET failed \(WRONGTYPE/);
        assert.match((error.cause as Error).message, /^WRONGTYPE/);
        return true;
      });
    } finally {
      await client.del(`${prefix}hash`);
      await client.quit();
    }
  });

  it('rejects every call after close() but leaves the client it was given open', async () => {
    const client = new Redis(REDIS_URL);
    try {
      const store = new RedisStore({ client, prefix: `${RUN_PREFIX}closed:` });
      await store.close();
      const closed = /koa-session-store: this RedisStore is closed; create a new RedisStore/;
      await assert.rejects(store.load('a'), closed);
      await assert.rejects(store.save('a', '{}', 1000), closed);
      await assert.rejects(store.touch('a', 1000), closed);
      await assert.rejects(store.patch('a', patchOf({ b: 1 }), 1000), closed);
      await assert.rejects(store.remove('a'), closed);
      assert.equal(await client.ping(), 'PONG', 'the caller still owns a working client');
      assert.equal(client.status, 'ready');
    } finally {
      await client.quit();
    }
  });

  it('rejects bad arguments with a TypeError that names them', async () => {
    const client = new Redis(REDIS_URL, { lazyConnect: true });
    const store = new RedisStore({ client });
    await assert.rejects(store.save('a', { a: 1 } as unknown as string, 1000), /RedisStore.save needs the session as a JSON string, got object/);
    await assert.rejects(store.save('a', '{}', 0), /a time to live must be a positive number of milliseconds or undefined, got 0/);
    await assert.rejects(store.touch('a', Number.NaN), /got NaN/);
    await assert.rejects(store.load(42 as unknown as string), /a session id must be a string, got number/);
    await assert.rejects(store.patch('a', { set: { b: 1 } as unknown as Record<string, string>, unset: [] }), /needs each value of set as JSON text, got number for key "b"/);
    client.disconnect();
  });
});

describe('RedisStore options', () => {
  const client = new Redis({ lazyConnect: true });
  after(() => client.disconnect());

  it('throws a TypeError naming a missing or unknown client', () => {
    assert.throws(() => new RedisStore(undefined as unknown as { client: Redis }), /RedisStore needs an options object/);
    assert.throws(() => new RedisStore({} as { client: Redis }), /option client of RedisStore must be an ioredis Redis or Cluster, or a node-redis client, got undefined/);
    assert.throws(() => new RedisStore({ client: { get() {} } as unknown as Redis }), /option client .* got object/);
  });

  it('throws a TypeError naming a bad prefix or commandTimeout', () => {
    assert.throws(() => new RedisStore({ client, prefix: 3 as unknown as string }), /option prefix of RedisStore must be a string, got 3/);
    assert.throws(() => new RedisStore({ client, commandTimeout: -1 }), /option commandTimeout of RedisStore must be a number of milliseconds >= 0, got -1/);
    assert.throws(() => new RedisStore({ client, commandTimeout: Number.POSITIVE_INFINITY }), /got Infinity/);
  });

  it('does not change the options object it is given', () => {
    const options = Object.freeze({ client, prefix: 'x:' });
    const store = new RedisStore(options);
    assert.equal(store.prefix, 'x:');
  });
});

describe('RedisStore on a 3-master Redis Cluster', () => {
  const prefix = `${RUN_PREFIX}cluster:`;
  let client: Cluster;
  let store: RedisStore;

  before(async () => {
    const cluster = await sharedCluster();
    client = new Cluster(cluster.nodes);
    store = new RedisStore({ client, prefix });
  });
  after(async () => {
    if (!client) return;
    await deleteClusterKeys(client, prefix);
    await client.quit();
  });

  it('spreads sessions over the shards and keeps all 50 keys of 50 concurrent patches on each of 20 sessions', async () => {
    const sids = Array.from({ length: 20 }, () => randomUUID());
    await Promise.all(sids.map((sid) => store.save(sid, '{"base":[]}', 60_000)));
    await Promise.all(sids.flatMap((sid) => Array.from({ length: 50 }, (_, i) => store.patch(sid, patchOf({ [`k${i}`]: { i } }), 60_000))));
    for (const sid of sids) {
      const data = JSON.parse((await client.get(prefix + sid)) as string) as Record<string, unknown>;
      assert.equal(Object.keys(data).length, 51, `session ${sid} kept ${Object.keys(data).length - 1} of 50 keys`);
      assert.deepEqual(data.base, []);
      for (let i = 0; i < 50; i += 1) assert.deepEqual(data[`k${i}`], { i });
    }
    // Each master holds some of them: the sessions really were sharded, not kept on one node.
    const perMaster = await Promise.all(client.nodes('master').map(async (node) => (await node.keys(`${prefix}*`)).length));
    assert.equal(perMaster.reduce((a, b) => a + b, 0), 20);
    assert.ok(perMaster.filter((count) => count > 0).length >= 2, `keys per master: ${perMaster.join(', ')}`);
  });

  it('keeps the exact JSON at prefix + sid on the node that owns its slot, with its ttl', async () => {
    const sid = randomUUID();
    await store.save(sid, '{"a":[],"n":1e21}', 60_000);
    assert.equal(await client.get(prefix + sid), '{"a":[],"n":1e21}');
    const pttl = await client.pttl(prefix + sid);
    assert.ok(pttl > 0 && pttl <= 60_000, `PTTL was ${pttl}`);
    await store.remove(sid);
    assert.equal(await client.exists(prefix + sid), 0);
  });
});
