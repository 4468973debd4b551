// RedisStore's waitForReplicas option (issue 10): its validation; WAIT sent
// after every write on the connection that took it (seen with MONITOR), one
// per batch on a single node and one per write on the node of its slot in a
// Cluster; a write too few replicas acknowledge fails, over HTTP with a 503
// and no cookie; and the store contract holds with the option on.
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { Cluster, Redis } from 'ioredis';
// node-redis 4, the oldest major of the peer range, under an alias: the `redis` devDependency is 5,
// as connect-redis 10's peer range needs; redis-drivers.test.ts runs the store suites on 5 and 6.
import { createClient, createCluster } from 'redis4';
import { RedisStore } from '../../src/redis.js';
import type { SessionPatch, SessionStore } from '../../src/store.js';
import { PATCH_SCRIPT } from '../../src/stores/redis-patch.lua.js';
import { runStoreConformance } from '../../src/testing.js';
import { serveFaultApp } from '../support/fault.js';
import { acknowledgingReplicas, clusterNodes, rawCommand, replicationInfo, startRedis, startRedisCluster, waitFor } from '../support/redis-server.js';
import type { RedisCluster, RedisServer } from '../support/redis-server.js';

function patchOf(entries: Record<string, unknown>): SessionPatch {
  const set = Object.create(null) as Record<string, string>;
  for (const [key, value] of Object.entries(entries)) set[key] = JSON.stringify(value);
  return { set, unset: [] };
}

/** A master with `replicas` replicas of its own, each in sync when this resolves. */
async function startReplicated(replicas: number): Promise<{ master: RedisServer; replicas: RedisServer[]; stop(): Promise<void> }> {
  const master = await startRedis({ args: ['--repl-diskless-sync-delay', '0'] });
  const followers: RedisServer[] = [];
  const stop = async () => {
    await Promise.all([master, ...followers].map((server) => server.stop()));
  };
  try {
    for (let n = 0; n < replicas; n += 1) {
      const replica = await startRedis({ args: ['--replicaof', master.host, String(master.port)] });
      followers.push(replica);
      await waitFor(`replica on port ${replica.port} in sync`, async () => (await replicationInfo(replica.port)).get('master_link_status') === 'up');
      await waitFor(`replica on port ${replica.port} counted by WAIT`, async () => (await acknowledgingReplicas(master.port, n + 1)) === n + 1);
    }
  } catch (error) {
    await stop();
    throw error;
  }
  return { master, replicas: followers, stop };
}

/** Collects what MONITOR sees on `client`'s server, without the MONITOR connection's own noise. */
async function monitorOf(client: Redis): Promise<{ seen: string[][]; close(): void }> {
  const monitor = await client.monitor();
  const seen: string[][] = [];
  monitor.on('monitor', (_time: string, args: string[], source: string) => {
    // Commands a script runs are reported too, with source 'lua': they happen inside Redis, not from Node.
    if (source !== 'lua') seen.push([(args[0] ?? '').toLowerCase(), ...args.slice(1)]);
  });
  return { seen, close: () => monitor.disconnect() };
}

const WRITES = new Set(['set', 'evalsha', 'eval', 'pexpire', 'persist', 'del']);

/** The command names of `seen`, checking that every write is followed at once by a WAIT. */
function eachWriteWaited(seen: string[][]): string[] {
  const names = seen.map((args) => args[0] ?? '').filter((name) => name !== 'ping');
  names.forEach((name, i) => {
    if (WRITES.has(name)) assert.equal(names[i + 1], 'wait', `${name} at ${i} is not followed by WAIT: ${names.join(' ')}`);
  });
  return names;
}

/** Waits until MONITOR has reported a PING with `mark`, sent after everything the test is looking for. */
async function settleMonitor(client: Redis, seen: string[][], mark: string): Promise<void> {
  await client.ping(mark);
  for (let i = 0; i < 200 && !seen.some((args) => args[0] === 'ping' && args[1] === mark); i += 1) await sleep(10);
}

describe('RedisStore option waitForReplicas', () => {
  const client = new Redis({ lazyConnect: true });
  after(() => client.disconnect());

  it('throws a TypeError naming a waitForReplicas that is not an object', () => {
    for (const bad of [1, 'yes', true]) {
      assert.throws(
        () => new RedisStore({ client, waitForReplicas: bad as unknown as { replicas: number } }),
        (error: Error) => error instanceof TypeError && /option waitForReplicas of RedisStore must be an object such as \{ replicas: 1, timeout: 500 \}, got /.test(error.message),
      );
    }
    assert.throws(() => new RedisStore({ client, waitForReplicas: null as unknown as { replicas: number } }), /got null/);
  });

  it('throws a TypeError naming a replicas count that is not an integer >= 1', () => {
    for (const [bad, shown] of [[0, '0'], [-1, '-1'], [1.5, '1.5'], [Number.NaN, 'NaN'], ['1', '"1"'], [undefined, 'undefined']] as const) {
      assert.throws(
        () => new RedisStore({ client, waitForReplicas: { replicas: bad as unknown as number } }),
        (error: Error) => error instanceof TypeError && error.message === `koa-session-store: option waitForReplicas.replicas of RedisStore must be an integer >= 1, got ${shown}`,
      );
    }
  });

  it('throws a TypeError naming a timeout that is not a positive number, since WAIT 0 would block for ever', () => {
    for (const [bad, shown] of [[0, '0'], [-5, '-5'], [Number.POSITIVE_INFINITY, 'Infinity'], ['100', '"100"']] as const) {
      assert.throws(
        () => new RedisStore({ client, waitForReplicas: { replicas: 1, timeout: bad as unknown as number } }),
        (error: Error) => error instanceof TypeError && error.message.startsWith('koa-session-store: option waitForReplicas.timeout of RedisStore must be a number of milliseconds > 0') && error.message.endsWith(`got ${shown}`),
      );
    }
  });

  it('throws a TypeError when the timeout is not below commandTimeout, and allows any timeout when commandTimeout is 0', () => {
    assert.throws(
      () => new RedisStore({ client, waitForReplicas: { replicas: 1, timeout: 2000 } }),
      /option waitForReplicas.timeout of RedisStore \(2000\) must be below commandTimeout \(2000\)/,
    );
    assert.throws(() => new RedisStore({ client, commandTimeout: 300, waitForReplicas: { replicas: 1 } }), /\(500\) must be below commandTimeout \(300\)/);
    assert.ok(new RedisStore({ client, commandTimeout: 0, waitForReplicas: { replicas: 1, timeout: 60_000 } }));
    assert.ok(new RedisStore({ client, waitForReplicas: { replicas: 2, timeout: 1998.5 } }), 'a fraction is rounded up to whole ms: 1999');
    assert.throws(() => new RedisStore({ client, waitForReplicas: { replicas: 2, timeout: 1999.5 } }), /\(2000\) must be below commandTimeout \(2000\)/);
  });

  it('throws a TypeError for a node-redis cluster, which cannot keep a write and its WAIT on one node', () => {
    const cluster = createCluster({ rootNodes: [{ url: 'redis://127.0.0.1:1' }] });
    assert.throws(() => new RedisStore({ client: cluster, waitForReplicas: { replicas: 1 } }), /option waitForReplicas of RedisStore needs an ioredis Redis or Cluster or a node-redis client; a node-redis cluster/);
    assert.ok(new RedisStore({ client: cluster }), 'without the option a node-redis cluster is fine');
  });

  it('does not change the options object it is given', () => {
    const waitForReplicas = Object.freeze({ replicas: 1 });
    const options = Object.freeze({ client, waitForReplicas });
    assert.ok(new RedisStore(options));
    assert.deepEqual(waitForReplicas, { replicas: 1 });
  });
});

describe('RedisStore with waitForReplicas and too few replicas', () => {
  let server: RedisServer;
  let client: Redis;
  let raw: Redis;
  const prefix = 'koa:sess:lonely:';

  before(async () => {
    server = await startRedis();
    client = new Redis(server.port, server.host);
    raw = new Redis(server.port, server.host);
  });
  after(async () => {
    client?.disconnect();
    raw?.disconnect();
    await server?.stop();
  });

  it('rejects every write once the WAIT timeout has passed, naming the command and the count, and still reads', async () => {
    const store = new RedisStore({ client, prefix, waitForReplicas: { replicas: 1, timeout: 100 } });
    const unreplicated = (command: string) => (error: Error) => {
      assert.equal(
        error.message,
        `koa-session-store: Redis ${command} reached the master, but only 0 of the 1 replica(s) asked for acknowledged it within 100 ms, so a failover could lose it; check the replicas (INFO replication), or lower replicas or raise timeout in the waitForReplicas option of RedisStore`,
      );
      assert.equal((error.cause as Error).name, 'ReplicaWaitError');
      return true;
    };
    await assert.rejects(store.save('s', '{"a":1}', 60_000), unreplicated('SET'));
    // The master has the write: only its replication is in doubt.
    assert.equal(await store.load('s'), '{"a":1}');
    await assert.rejects(store.patch('s', patchOf({ b: 2 }), 60_000), unreplicated('EVALSHA'));
    await assert.rejects(store.touch('s', 60_000), unreplicated('PEXPIRE'));
    await assert.rejects(store.touch('s'), unreplicated('PERSIST'));
    await assert.rejects(store.remove('s'), unreplicated('DEL'));
  });

  it('answers a write request with a 503 and no cookie over HTTP', async () => {
    const store = new RedisStore({ client, prefix: `${prefix}http:`, waitForReplicas: { replicas: 1, timeout: 100 } });
    const url = await serveFaultApp(store, 2000);
    for (let n = 1; n <= 2; n += 1) {
      const response = await fetch(`${url}/inc?op=${n}`);
      assert.equal(response.status, 503);
      assert.deepEqual(response.headers.getSetCookie(), [], 'a session whose write was not replicated is never handed out');
      const body = (await response.json()) as { operation: string; causes: string[] };
      assert.equal(body.operation, 'save');
      assert.match(body.causes.join(' | '), /only 0 of the 1 replica\(s\) asked for acknowledged it within 100 ms/);
    }
    // Each request's new session is on the master all the same, unreachable without its cookie, until its ttl ends it.
    assert.equal((await raw.keys(`${prefix}http:*`)).length, 2);
  });
});

describe('RedisStore with waitForReplicas on a master with one replica', () => {
  let pair: Awaited<ReturnType<typeof startReplicated>>;
  let client: Redis;

  before(async () => {
    pair = await startReplicated(1);
    client = new Redis(pair.master.port, pair.master.host);
  });
  after(async () => {
    client?.disconnect();
    await pair?.stop();
  });

  it('follows each lone write with WAIT on the same connection, and sends no WAIT for a read', async () => {
    const store = new RedisStore({ client, prefix: 'one:', waitForReplicas: { replicas: 1, timeout: 400 } });
    // The server learns the patch script here, so the patch below is one EVALSHA.
    await store.patch('warm-up', patchOf({}), 60_000);
    const { seen, close } = await monitorOf(client);
    try {
      await store.save('a', '{"a":1}', 60_000);
      assert.equal(await store.load('a'), '{"a":1}');
      assert.equal(await store.patch('a', patchOf({ b: 2 }), 60_000), true);
      await store.touch('a', 60_000);
      await store.remove('a');
      await settleMonitor(client, seen, 'one-done');
      const commands = seen.map((args) => (args[0] === 'wait' ? args.join(' ') : args[0])).filter((name) => name !== 'ping');
      assert.deepEqual(commands, ['set', 'wait 1 400', 'get', 'evalsha', 'wait 1 400', 'pexpire', 'wait 1 400', 'del', 'wait 1 400']);
    } finally {
      close();
    }
  });

  it('sends one WAIT after the writes of a batch, answers its reads, and resolves every write', async () => {
    const store = new RedisStore({ client, prefix: 'batch:', waitForReplicas: { replicas: 1, timeout: 400 } });
    await store.save('read-me', '{"r":1}', 60_000);
    const { seen, close } = await monitorOf(client);
    try {
      // All issued in one turn of the event loop: one pipeline.
      const writes = Array.from({ length: 20 }, (_, i) => store.save(`s${i}`, `{"i":${i}}`, 60_000));
      const reads = Array.from({ length: 5 }, () => store.load('read-me'));
      assert.deepEqual(await Promise.all(reads), Array(5).fill('{"r":1}'));
      await Promise.all(writes);
      await settleMonitor(client, seen, 'batch-done');
      const commands = seen.map((args) => args[0]).filter((name) => name !== 'ping');
      assert.equal(commands.filter((name) => name === 'set').length, 20);
      assert.equal(commands.filter((name) => name === 'get').length, 5);
      assert.equal(commands.filter((name) => name === 'wait').length, 1, `one WAIT for the whole batch: ${commands.join(' ')}`);
      assert.equal(commands.at(-1), 'wait', 'the WAIT comes after every write of the batch');
      // The replica has them all: that is what the WAIT answered for.
      const replica = new Redis(pair.replicas[0]?.port ?? 0, pair.master.host);
      try {
        assert.equal(await replica.get('batch:s19'), '{"i":19}');
      } finally {
        replica.disconnect();
      }
    } finally {
      close();
    }
  });

  it('rejects every write of a batch that fewer replicas acknowledge than asked, and still answers its reads', async () => {
    const store = new RedisStore({ client, prefix: 'two:', waitForReplicas: { replicas: 2, timeout: 100 } });
    const writes = Array.from({ length: 5 }, (_, i) => store.save(`s${i}`, '{}', 60_000));
    const read = store.load('nothing');
    assert.equal(await read, null);
    const results = await Promise.allSettled(writes);
    for (const result of results) {
      assert.equal(result.status, 'rejected');
      assert.match(String((result as PromiseRejectedResult).reason), /only 1 of the 2 replica\(s\) asked for acknowledged it within 100 ms/);
    }
  });

  it('does the same on an ioredis client that pipelines by itself', async () => {
    const auto = new Redis(pair.master.port, pair.master.host, { enableAutoPipelining: true });
    try {
      await new RedisStore({ client: auto, prefix: 'auto:', waitForReplicas: { replicas: 1 } }).save('a', '{}', 60_000);
      await assert.rejects(new RedisStore({ client: auto, prefix: 'auto:', waitForReplicas: { replicas: 2, timeout: 100 } }).save('a', '{}', 60_000), /only 1 of the 2/);
    } finally {
      auto.disconnect();
    }
  });

  it('does the same on node-redis', async () => {
    const nodeRedis = createClient({ url: pair.master.url });
    await nodeRedis.connect();
    const { seen, close } = await monitorOf(client);
    try {
      const store = new RedisStore({ client: nodeRedis, prefix: 'nr:', waitForReplicas: { replicas: 1, timeout: 400 } });
      await store.save('a', '{"a":1}', 60_000);
      assert.equal(await store.patch('a', patchOf({ b: 2 }), 60_000), true);
      assert.equal(await store.load('a'), '{"a":1,"b":2}');
      await settleMonitor(client, seen, 'nr-done');
      const commands = eachWriteWaited(seen);
      assert.deepEqual(commands.slice(0, 2), ['set', 'wait']);
      assert.equal(commands.at(-1), 'get', 'no WAIT after a read');
      const strict = new RedisStore({ client: nodeRedis, prefix: 'nr:', waitForReplicas: { replicas: 2, timeout: 100 } });
      await assert.rejects(strict.save('b', '{}', 60_000), /only 1 of the 2 replica\(s\)/);
      await assert.rejects(strict.remove('a'), /Redis DEL reached the master, but only 1 of the 2/);
    } finally {
      close();
      await nodeRedis.quit();
    }
  });
});

/** How each conformance store's servers are stopped. */
const teardowns = new WeakMap<SessionStore, () => Promise<void>>();

runStoreConformance('RedisStore with waitForReplicas: { replicas: 1 } on a master with one replica', {
  create: async () => {
    const pair = await startReplicated(1);
    const client = new Redis(pair.master.port, pair.master.host);
    const store = new RedisStore({ client, waitForReplicas: { replicas: 1 } });
    teardowns.set(store, async () => {
      client.disconnect();
      await pair.stop();
    });
    return store;
  },
  destroy: async (store) => teardowns.get(store)?.(),
});

describe('RedisStore with waitForReplicas on a Redis Cluster of 3 masters with a replica each', () => {
  let cluster: RedisCluster;
  let client: Cluster;

  before(async () => {
    cluster = await startRedisCluster(3, { replicas: 1, nodeTimeoutMs: 2000 });
    client = new Cluster(cluster.nodes);
  });
  after(async () => {
    client?.disconnect();
    await cluster?.stop();
  });

  it('sends each write and its WAIT to the master of the write\'s slot', async () => {
    const store = new RedisStore({ client, prefix: 'c:', waitForReplicas: { replicas: 1, timeout: 400 } });
    const masters = client.nodes('master');
    // Every master learns the patch script here, so each patch below is one EVALSHA.
    await Promise.all(masters.map((node) => node.script('LOAD', PATCH_SCRIPT)));
    const monitors = await Promise.all(masters.map((node) => monitorOf(node)));
    try {
      const sids = Array.from({ length: 12 }, () => randomUUID());
      await Promise.all(sids.map((sid) => store.save(sid, '{"a":1}', 60_000)));
      await Promise.all(sids.map((sid) => store.patch(sid, patchOf({ b: 2 }), 60_000)));
      await Promise.all(sids.map((sid) => store.touch(sid, 60_000)));
      await Promise.all(sids.map((sid) => store.remove(sid)));
      await Promise.all(masters.map((node, n) => settleMonitor(node, monitors[n]?.seen ?? [], 'cluster-done')));
      let writes = 0;
      let withKeys = 0;
      for (const { seen } of monitors) {
        const ours = seen.filter((args) => args[0] === 'wait' || args.some((arg) => arg.startsWith('c:')));
        // Each write is followed by its own WAIT on the same node, before the next write there.
        for (let i = 0; i < ours.length; i += 2) {
          assert.notEqual(ours[i]?.[0], 'wait', `a WAIT without a write before it: ${ours.map((args) => args[0]).join(' ')}`);
          assert.deepEqual(ours[i + 1], ['wait', '1', '400'], `a write without its WAIT after it: ${ours.map((args) => args[0]).join(' ')}`);
        }
        writes += ours.length / 2;
        if (ours.length > 0) withKeys += 1;
      }
      assert.equal(writes, 12 * 4);
      assert.ok(withKeys >= 2, 'the sessions were spread over the masters');
    } finally {
      for (const { close } of monitors) close();
    }
  });

  it('rejects writes when a master has fewer replicas than asked', async () => {
    const store = new RedisStore({ client, prefix: 'c2:', waitForReplicas: { replicas: 2, timeout: 100 } });
    await assert.rejects(store.save(randomUUID(), '{}', 60_000), /only 1 of the 2 replica\(s\) asked for acknowledged it within 100 ms/);
  });

  it('keeps writing after a failover the client has not heard of: a redirected write is sent again, with its WAIT, to the new master', async () => {
    const store = new RedisStore({ client, prefix: 'c3:', waitForReplicas: { replicas: 1, timeout: 400 } });
    const topology = await clusterNodes(cluster.nodes[0]?.port ?? 0);
    const master = topology.find((node) => node.flags.includes('master')) ?? assert.fail('no master');
    const replica = topology.find((node) => node.masterId === master.id) ?? assert.fail('no replica');
    // Sessions whose key lives on that master.
    const sids: string[] = [];
    const [from, to] = (master.slots[0] ?? '').split('-').map(Number) as [number, number];
    while (sids.length < 5) {
      const sid = randomUUID();
      const slot = Number((await rawCommand(master.port, `CLUSTER KEYSLOT c3:${sid}`)).slice(1));
      if (slot >= from && slot <= to) sids.push(sid);
    }
    await Promise.all(sids.map((sid) => store.save(sid, '{"before":1}', 60_000)));
    // A manual failover loses nothing, and ioredis' slot map still names the old master.
    assert.match(await rawCommand(replica.port, 'CLUSTER FAILOVER'), /^\+OK/);
    await waitFor('the replica to take over, with the old master as its replica', async () => {
      const info = await replicationInfo(master.port);
      return info.get('role') === 'slave' && info.get('master_link_status') === 'up' && (await acknowledgingReplicas(replica.port, 1)) === 1;
    });
    await Promise.all(sids.map((sid) => store.save(sid, '{"after":1}', 60_000)));
    const newMaster = new Redis(replica.port, '127.0.0.1');
    try {
      for (const sid of sids) assert.equal(await newMaster.get(`c3:${sid}`), '{"after":1}');
    } finally {
      newMaster.disconnect();
    }
  });
});
