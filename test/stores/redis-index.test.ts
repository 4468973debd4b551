// RedisStore's user index (option indexBy, issue 13): the shared user-sessions
// suite over HTTP on ioredis, node-redis and a 3-master Cluster through both
// clients; the layout read with a raw client (one hash per user, its expiry,
// expired and foreign fields dropped on upsert, escaped braces); the commands
// on the wire; and timeouts, close(), WAIT and errors that name no id.
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { Cluster, Redis } from 'ioredis';
// node-redis 4, the oldest major of the peer range, under an alias: the `redis` devDependency is 5,
// as connect-redis 10's peer range needs; redis-drivers.test.ts runs the store suites on 5 and 6.
import { createClient, createCluster } from 'redis4';
import { RedisStore } from '../../src/redis.js';
import type { IndexedSession } from '../../src/store.js';
import { REDIS_URL, redisSkip } from '../support/services.js';
import { startRedis } from '../support/redis-server.js';
import type { RedisServer } from '../support/redis-server.js';
import { runUserSessionsSuite } from '../support/user-sessions.js';
import { RUN_PREFIX, deleteClusterKeys, deleteKeys, sharedCluster, stopSharedCluster } from './redis-helpers.js';

const skip = await redisSkip();
after(stopSharedCluster);

/** How each suite's store is torn down: RedisStore never quits the client it was given. */
const teardowns = new WeakMap<RedisStore, () => Promise<void>>();
const destroy = async (store: RedisStore): Promise<void> => {
  await store.close();
  await teardowns.get(store)?.();
};

runUserSessionsSuite('RedisStore on ioredis', {
  skip,
  create: () => {
    const prefix = `${RUN_PREFIX}ux-io:`;
    const client = new Redis(REDIS_URL);
    const store = new RedisStore({ client, prefix });
    teardowns.set(store, async () => {
      await deleteKeys(client, prefix);
      await client.quit();
    });
    return store;
  },
  destroy,
});

runUserSessionsSuite('RedisStore on node-redis', {
  skip,
  create: async () => {
    const prefix = `${RUN_PREFIX}ux-nr:`;
    const client = createClient({ url: REDIS_URL });
    await client.connect();
    const store = new RedisStore({ client, prefix });
    teardowns.set(store, async () => {
      const checker = new Redis(REDIS_URL);
      await deleteKeys(checker, prefix);
      await checker.quit();
      await client.quit();
    });
    return store;
  },
  destroy,
});

runUserSessionsSuite('RedisStore on a 3-master Redis Cluster through ioredis', {
  create: async () => {
    const cluster = await sharedCluster();
    const prefix = `${RUN_PREFIX}ux-ioc:`;
    const client = new Cluster(cluster.nodes);
    const store = new RedisStore({ client, prefix });
    teardowns.set(store, async () => {
      await deleteClusterKeys(client, prefix);
      await client.quit();
    });
    return store;
  },
  destroy,
});

runUserSessionsSuite('RedisStore on a 3-master Redis Cluster through node-redis', {
  create: async () => {
    const cluster = await sharedCluster();
    const client = createCluster({ rootNodes: cluster.nodes.map((node) => ({ url: `redis://${node.host}:${node.port}` })) });
    await client.connect();
    const store = new RedisStore({ client, prefix: `${RUN_PREFIX}ux-nrc:` });
    // The Cluster is this file's own and is stopped after the file, keys and all.
    teardowns.set(store, () => client.quit());
    return store;
  },
  destroy,
});

/** An entry for `sid` as the middleware makes it: created now, expiring after `ttlMs` (null: never). */
function entryOf(sid: string, ttlMs: number | null, userAgent = 'Browser'): IndexedSession {
  const now = Date.now();
  return { sid, createdAt: now, lastActiveAt: now, expiresAt: ttlMs === null ? null : now + ttlMs, userAgent };
}

describe('RedisStore user index, read with a raw client', { skip }, () => {
  const prefix = `${RUN_PREFIX}ux-keys:`;
  let raw: Redis;
  let client: Redis;
  let store: RedisStore;
  const user = () => `user-${randomUUID()}`;

  before(() => {
    raw = new Redis(REDIS_URL);
    client = new Redis(REDIS_URL);
    store = new RedisStore({ client, prefix });
  });
  after(async () => {
    await deleteKeys(raw, prefix);
    await Promise.all([raw.quit(), client.quit()]);
  });

  /** Saves a session and indexes it under `userId`. */
  async function signIn(userId: string, ttlMs: number | null, userAgent?: string): Promise<IndexedSession> {
    const entry = entryOf(randomUUID(), ttlMs, userAgent);
    await store.save(entry.sid, JSON.stringify({ userId }), ttlMs ?? undefined);
    assert.equal(await store.indexSession(userId, entry), true);
    return entry;
  }

  it('keeps one hash per user at prefix + "user:" + id, a field per session holding the entry as JSON', async () => {
    const alice = user();
    const phone = await signIn(alice, 60_000, 'Phone');
    const laptop = await signIn(alice, 60_000, 'Laptop "x" é');
    const key = `${prefix}user:${alice}`;
    assert.equal(await raw.type(key), 'hash');
    const stored = await raw.hgetall(key);
    assert.deepEqual(Object.keys(stored).sort(), [phone.sid, laptop.sid].sort());
    const { sid, ...withoutId } = laptop;
    assert.deepEqual(JSON.parse(stored[sid] as string), withoutId);
    assert.deepEqual(
      (await store.listIndexed(alice)).sort((a, b) => a.createdAt - b.createdAt || a.userAgent.localeCompare(b.userAgent)),
      [phone, laptop].sort((a, b) => a.createdAt - b.createdAt || a.userAgent.localeCompare(b.userAgent)),
    );
    assert.deepEqual(await store.listIndexed(user()), [], 'a user without sessions lists none');
  });

  it('expires the hash with its latest entry, and never while one entry never expires', async () => {
    const bob = user();
    const key = `${prefix}user:${bob}`;
    await signIn(bob, 30_000);
    await signIn(bob, 90_000);
    await signIn(bob, 60_000);
    const pttl = await raw.pttl(key);
    assert.ok(pttl > 60_000 && pttl <= 90_000, `PTTL was ${pttl}, not that of the latest entry`);
    const forever = await signIn(bob, null);
    assert.equal(await raw.pttl(key), -1, 'PERSIST while an entry never expires');
    await store.unindexSession(bob, forever.sid);
    await signIn(bob, 10_000);
    const again = await raw.pttl(key);
    assert.ok(again > 60_000 && again <= 90_000, `PTTL was ${again} once the never-expiring entry left`);
  });

  it('upserts: a known session keeps createdAt and userAgent, and takes the new lastActiveAt and expiresAt', async () => {
    const carol = user();
    const first = await signIn(carol, 60_000, 'First browser');
    const later = { sid: first.sid, createdAt: first.createdAt + 5000, lastActiveAt: first.lastActiveAt + 5000, expiresAt: (first.expiresAt as number) + 5000, userAgent: 'Other' };
    assert.equal(await store.indexSession(carol, later), true);
    assert.deepEqual(await store.listIndexed(carol), [{ ...first, lastActiveAt: later.lastActiveAt, expiresAt: later.expiresAt }]);
    assert.equal(await store.indexSession(carol, { ...later, expiresAt: null }), true);
    assert.deepEqual(await store.listIndexed(carol), [{ ...first, lastActiveAt: later.lastActiveAt, expiresAt: null }]);
  });

  it('drops expired entries on the next upsert, so the hash stays as small as the live sessions', async () => {
    const dave = user();
    const key = `${prefix}user:${dave}`;
    // Twenty sessions that have expired, entries and all: made live, then aged by hand, so that no
    // timing decides whether they were all there first (a ttl of 100 ms ran out mid-loop under load).
    const old: IndexedSession[] = [];
    for (let i = 0; i < 20; i += 1) old.push(await signIn(dave, 60_000, `old ${i}`));
    for (const { sid, ...entry } of old) {
      await raw.hset(key, sid, JSON.stringify({ ...entry, expiresAt: Date.now() - 1 }));
      await raw.del(`${prefix}${sid}`);
    }
    assert.equal(await raw.hlen(key), 20);
    const fresh = await signIn(dave, 60_000, 'fresh');
    assert.deepEqual(await raw.hkeys(key), [fresh.sid]);
    const pttl = await raw.pttl(key);
    assert.ok(pttl > 50_000 && pttl <= 60_000, `PTTL was ${pttl}`);
  });

  it('lets the hash expire by itself when all its entries have', async () => {
    const erin = user();
    await signIn(erin, 150);
    await sleep(300);
    assert.equal(await raw.exists(`${prefix}user:${erin}`), 0);
    assert.deepEqual(await store.listIndexed(erin), []);
  });

  it('adds no entry for a session that does not exist, and creates no hash for it', async () => {
    const frank = user();
    assert.equal(await store.indexSession(frank, entryOf(randomUUID(), 60_000)), false);
    assert.equal(await raw.exists(`${prefix}user:${frank}`), 0);
    const expired = await signIn(frank, 100);
    await sleep(200);
    assert.equal(await store.indexSession(frank, { ...expired, lastActiveAt: Date.now(), expiresAt: Date.now() + 60_000 }), false, 'an expired session is not one');
  });

  it('removes one entry with HDEL, deletes the hash with the last, and ignores a missing one', async () => {
    const gina = user();
    const key = `${prefix}user:${gina}`;
    const a = await signIn(gina, 60_000);
    const b = await signIn(gina, 60_000);
    await store.unindexSession(gina, a.sid);
    assert.deepEqual(await raw.hkeys(key), [b.sid]);
    await store.unindexSession(gina, a.sid);
    await store.unindexSession(gina, b.sid);
    assert.equal(await raw.exists(key), 0);
    await store.unindexSession(user(), randomUUID());
  });

  it('lists around fields it did not write, and drops them on the next upsert', async () => {
    const hank = user();
    const key = `${prefix}user:${hank}`;
    const good = await signIn(hank, 60_000);
    await raw.hset(key, 'not-json', '{oops', 'not-an-entry', '{"createdAt":"yesterday"}', 'array', '[1,2]', 'null', 'null');
    assert.deepEqual(await store.listIndexed(hank), [good]);
    const second = await signIn(hank, 60_000);
    assert.deepEqual((await raw.hkeys(key)).sort(), [good.sid, second.sid].sort());
  });

  it('escapes braces, % and lone surrogates in user ids, so ids that differ never share a hash', async () => {
    const base = user();
    const ids = [`{${base}}`, `%7B${base}%7D`, `${base}:x`, `${base}\ud800`, `${base}\ud801`, `${base}\ud83d\ude00`];
    const entries = new Map<string, IndexedSession>();
    for (const id of ids) entries.set(id, await signIn(id, 60_000, id));
    for (const id of ids) assert.deepEqual(await store.listIndexed(id), [entries.get(id)], `user ${JSON.stringify(id)} sees only its own entry`);
    const keys = (await raw.keys(`${prefix}user:*${base}*`)).sort();
    assert.equal(keys.length, ids.length);
    assert.ok(keys.includes(`${prefix}user:%7B${base}%7D`));
    assert.ok(keys.includes(`${prefix}user:%257B${base}%257D`));
    assert.ok(keys.includes(`${prefix}user:${base}%uD800`));
    assert.ok(keys.includes(`${prefix}user:${base}\ud83d\ude00`), 'a well-formed pair is kept as it is');
    assert.ok(keys.every((key) => !/[{}]/.test(key)));
  });

  it('lets two stores on two clients share the index under the same prefix', async () => {
    const other = new RedisStore({ client: raw, prefix });
    const ivan = user();
    const mine = await signIn(ivan, 60_000, 'here');
    const theirs = entryOf(randomUUID(), 60_000, 'there');
    await other.save(theirs.sid, '{}', 60_000);
    await other.indexSession(ivan, theirs);
    assert.equal((await store.listIndexed(ivan)).length, 2);
    await store.unindexSession(ivan, theirs.sid);
    assert.deepEqual(await other.listIndexed(ivan), [mine]);
  });
});

describe('RedisStore user index on a 3-master Redis Cluster', () => {
  const prefix = `${RUN_PREFIX}ux-cluster:`;
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

  const slotOf = async (key: string) => Number(await client.cluster('KEYSLOT', key));

  it('keeps a user\'s hash in its own slot, apart from the sessions it lists, and reads and writes it there', async () => {
    const user = `cluster-${randomUUID()}`;
    const sids = Array.from({ length: 12 }, () => randomUUID());
    for (const sid of sids) {
      await store.save(sid, JSON.stringify({ userId: user }), 60_000);
      assert.equal(await store.indexSession(user, entryOf(sid, 60_000)), true);
    }
    const key = `${prefix}user:${user}`;
    const slots = new Set(await Promise.all(sids.map((sid) => slotOf(prefix + sid))));
    assert.ok(slots.size > 1, `the sessions span ${slots.size} slots, so most are not in the hash's`);
    assert.deepEqual((await client.hkeys(key)).sort(), [...sids].sort());
    const pttl = await client.pttl(key);
    assert.ok(pttl > 0 && pttl <= 60_000, `PTTL was ${pttl}`);
    assert.equal(await store.indexSession(user, entryOf(randomUUID(), 60_000)), false, 'a session that exists in no slot is not indexed');
    assert.equal((await store.listIndexed(user)).length, 12);
  });

  it('spreads users named with braces over the shards instead of letting the braces pick one slot', async () => {
    const tag = randomUUID();
    const users = Array.from({ length: 24 }, (_, i) => `{${tag}}${i}`);
    for (const user of users) {
      const sid = randomUUID();
      await store.save(sid, '{}', 60_000);
      await store.indexSession(user, entryOf(sid, 60_000));
    }
    const slots = new Set(await Promise.all(users.map((user) => slotOf(`${prefix}user:${user.replace('{', '%7B').replace('}', '%7D')}`))));
    assert.ok(slots.size > 12, `24 users named {tag}… landed in ${slots.size} slots, not all in the tag's one`);
    for (const user of users) assert.equal((await store.listIndexed(user)).length, 1);
  });

  it('keeps a user\'s hash in the sessions\' slot when the prefix has a hash tag', async () => {
    const tagged = new RedisStore({ client, prefix: `{${RUN_PREFIX}ux-tag}:` });
    const user = `{evil}-${randomUUID()}`;
    const sid = randomUUID();
    await tagged.save(sid, '{}', 60_000);
    assert.equal(await tagged.indexSession(user, entryOf(sid, 60_000)), true);
    const hash = `{${RUN_PREFIX}ux-tag}:user:${user.replace('{', '%7B').replace('}', '%7D')}`;
    assert.equal(await client.hlen(hash), 1);
    assert.equal(await slotOf(hash), await slotOf(`{${RUN_PREFIX}ux-tag}:${sid}`));
    await client.del(hash, `{${RUN_PREFIX}ux-tag}:${sid}`);
  });
});

describe('RedisStore user index commands, seen with MONITOR on a server of its own', () => {
  let server: RedisServer;
  let client: Redis;
  let monitor: Redis;
  let seen: string[][];

  before(async () => {
    server = await startRedis();
    client = new Redis(server.port, server.host);
    monitor = await client.monitor();
    seen = [];
    monitor.on('monitor', (_time: string, args: string[], source: string) => {
      if (source !== 'lua') seen.push(args);
    });
  });
  after(async () => {
    monitor?.disconnect();
    client?.disconnect();
    await server?.stop();
  });

  async function commandsOf(operation: () => Promise<unknown>): Promise<string[][]> {
    await client.ping('mark-start');
    seen = [];
    await operation();
    await client.ping('mark-end');
    for (let i = 0; i < 100 && !seen.some((args) => args[1] === 'mark-end'); i += 1) await sleep(10);
    return seen.map(([command, ...args]) => [(command ?? '').toLowerCase(), ...args]).filter((args) => args[0] !== 'ping');
  }

  it('indexes with one script over the hash and the session key, unindexes with HDEL and lists with HGETALL', async () => {
    const store = new RedisStore({ client, prefix: 'p:' });
    await store.save('s1', '{}', 60_000);
    const entry = entryOf('s1', 60_000, 'UA');
    const first = await commandsOf(() => store.indexSession('ann', entry));
    assert.deepEqual(first.map((args) => args[0]), ['evalsha', 'eval'], 'a server without the script gets it once');
    const sent = await commandsOf(() => store.indexSession('ann', entry));
    assert.equal(sent.length, 1);
    assert.deepEqual(sent[0]?.slice(2, 6), ['2', 'p:user:ann', 'p:s1', 's1']);
    assert.deepEqual(sent[0]?.slice(7), [
      `{"expiresAt":${entry.expiresAt},"lastActiveAt":${entry.lastActiveAt},`,
      `"createdAt":${entry.createdAt},"userAgent":"UA"}`,
    ]);
    assert.deepEqual(await commandsOf(() => store.listIndexed('ann')), [['hgetall', 'p:user:ann']]);
    assert.deepEqual(await commandsOf(() => store.unindexSession('ann', 's1')), [['hdel', 'p:user:ann', 's1']]);
  });

  it('falls back to EVAL once after SCRIPT FLUSH, then uses EVALSHA again', async () => {
    const store = new RedisStore({ client, prefix: 'f:' });
    await store.save('s', '{}', 60_000);
    await store.indexSession('bo', entryOf('s', 60_000));
    await client.script('FLUSH');
    assert.deepEqual((await commandsOf(() => store.indexSession('bo', entryOf('s', 60_000)))).map((args) => args[0]), ['evalsha', 'eval']);
    assert.deepEqual((await commandsOf(() => store.indexSession('bo', entryOf('s', 60_000)))).map((args) => args[0]), ['evalsha']);
    assert.equal(await client.hlen('f:user:bo'), 1);
  });

  it('waits for replicas after each index write when waitForReplicas is on, and fails the write when too few answer', async () => {
    const store = new RedisStore({ client, prefix: 'w:', waitForReplicas: { replicas: 1, timeout: 100 } });
    await client.set('w:s', '{}', 'PX', 60_000);
    const unreplicated = (command: string) => (error: Error) => {
      assert.match(error.message, new RegExp(`^koa-session-store: Redis ${command} reached the master, but only 0 of the 1 replica\\(s\\) asked for acknowledged it within 100 ms`));
      return true;
    };
    const indexing = (await commandsOf(() => assert.rejects(store.indexSession('cy', entryOf('s', 60_000)), unreplicated('EVALSHA')))).map((args) => args[0]);
    assert.ok(indexing.includes('evalsha'));
    indexing.forEach((name, i) => {
      if (name === 'evalsha' || name === 'eval') assert.equal(indexing[i + 1], 'wait', `${name} is not followed by WAIT: ${indexing.join(' ')}`);
    });
    assert.equal(await client.hlen('w:user:cy'), 1, 'the master applied it: only its replication is in doubt');
    assert.equal((await store.listIndexed('cy')).length, 1, 'reads wait for nobody');
    const unindexing = await commandsOf(() => assert.rejects(store.unindexSession('cy', 's'), unreplicated('HDEL')));
    assert.deepEqual(unindexing.map((args) => args[0]), ['hdel', 'wait']);
  });
});

describe('RedisStore user index commandTimeout, close() and errors', { skip }, () => {
  let server: RedisServer;

  before(async () => {
    server = await startRedis();
  });
  after(async () => {
    if (server?.pid) process.kill(server.pid, 'SIGCONT');
    await server?.stop();
  });

  for (const [label, connect] of [
    ['ioredis', async () => {
      const client = new Redis(server.port, server.host);
      return { client, close: async () => client.disconnect() };
    }],
    ['node-redis', async () => {
      const client = createClient({ url: server.url });
      await client.connect();
      return { client, close: async () => void (await client.disconnect()) };
    }],
  ] as const) {
    it(`rejects index calls on ${label} when the server does not answer in time, and works again after`, async () => {
      const { client, close } = await connect();
      try {
        const store = new RedisStore({ client, commandTimeout: 300, prefix: `${label}:` });
        await store.save('t', '{}', 60_000);
        const pid = server.pid as number;
        process.kill(pid, 'SIGSTOP');
        try {
          const timedOut = (command: string) => (error: Error) => error.message.startsWith(`koa-session-store: Redis did not answer ${command} within 300 ms;`);
          await Promise.all([
            assert.rejects(store.indexSession('u', entryOf('t', 60_000)), timedOut('EVALSHA')),
            assert.rejects(store.unindexSession('u', 't'), timedOut('HDEL')),
            assert.rejects(store.listIndexed('u'), timedOut('HGETALL')),
          ]);
        } finally {
          process.kill(pid, 'SIGCONT');
        }
        // The index call given up on must not land late: its NOSCRIPT is not followed by EVAL.
        await store.unindexSession('u', 't');
        await sleep(100);
        assert.deepEqual(await store.listIndexed('u'), []);
        assert.equal(await store.indexSession('u', entryOf('t', 60_000)), true);
        assert.equal((await store.listIndexed('u')).length, 1);
      } finally {
        await close();
      }
    });
  }

  it('rejects index calls after close() but leaves the client open', async () => {
    const client = new Redis(REDIS_URL);
    try {
      const store = new RedisStore({ client, prefix: `${RUN_PREFIX}ux-closed:` });
      await store.close();
      const closed = /koa-session-store: this RedisStore is closed; create a new RedisStore/;
      await assert.rejects(store.indexSession('u', entryOf('s', 60_000)), closed);
      await assert.rejects(store.unindexSession('u', 's'), closed);
      await assert.rejects(store.listIndexed('u'), closed);
      assert.equal(await client.ping(), 'PONG');
    } finally {
      await client.quit();
    }
  });

  it('rejects bad arguments with a TypeError that names the member, never its value', async () => {
    const client = new Redis(REDIS_URL, { lazyConnect: true });
    const store = new RedisStore({ client });
    const sid = 'secret-session-id-0123456789';
    const bad: Array<[unknown, unknown, RegExp]> = [
      [42, entryOf(sid, 1000), /a user id must be a string, got number/],
      ['u', null, /RedisStore.indexSession: the entry must be an object, got null/],
      ['u', { ...entryOf(sid, 1000), sid: 7 }, /entry.sid must be a string, got number/],
      ['u', { ...entryOf(sid, 1000), createdAt: Number.NaN }, /entry.createdAt must be a finite number of milliseconds, got number/],
      ['u', { ...entryOf(sid, 1000), lastActiveAt: '1' }, /entry.lastActiveAt must be a finite number of milliseconds, got string/],
      ['u', { ...entryOf(sid, 1000), expiresAt: undefined }, /entry.expiresAt must be a finite number of milliseconds or null, got undefined/],
      ['u', { ...entryOf(sid, 1000), userAgent: 3 }, /entry.userAgent must be a string, got number/],
    ];
    for (const [userId, entry, message] of bad) {
      await assert.rejects(store.indexSession(userId as string, entry as IndexedSession), (error: Error) => {
        assert.ok(error instanceof TypeError);
        assert.match(error.message, message);
        assert.ok(!error.message.includes(sid));
        return true;
      });
    }
    await assert.rejects(store.unindexSession('u', 5 as unknown as string), /a session id must be a string, got number/);
    await assert.rejects(store.listIndexed(undefined as unknown as string), /a user id must be a string, got undefined/);
    client.disconnect();
  });

  it('passes a Redis error on without the user id or session id in its message', async () => {
    const prefix = `${RUN_PREFIX}ux-err:`;
    const client = new Redis(REDIS_URL);
    const userId = `user-${randomUUID()}`;
    const sid = randomUUID();
    try {
      await client.set(`${prefix}user:${userId}`, 'a string, not a hash');
      await client.set(prefix + sid, '{}', 'PX', 60_000);
      const store = new RedisStore({ client, prefix });
      for (const [call, command] of [
        [() => store.indexSession(userId, entryOf(sid, 60_000)), 'EVALSHA'],
        [() => store.unindexSession(userId, sid), 'HDEL'],
        [() => store.listIndexed(userId), 'HGETALL'],
      ] as const) {
        await assert.rejects(call(), (error: Error) => {
          assert.match(error.message, new RegExp(`^koa-session-store: Redis ${command} failed \\(.*WRONGTYPE`));
          for (const text of [error.message, (error.cause as Error).message]) {
            assert.ok(!text.includes(userId) && !text.includes(sid), `no id in ${JSON.stringify(text)}`);
          }
          return true;
        });
      }
    } finally {
      await deleteKeys(client, prefix);
      await client.quit();
    }
  });
});
