// RedisStore against the store contract: on the shared Redis through ioredis
// and node-redis, and on a Redis Cluster of its own through ioredis' Cluster
// and node-redis' createCluster.
import { after } from 'node:test';
import { Cluster, Redis } from 'ioredis';
// node-redis 4, the oldest major of the peer range, under an alias: the `redis` devDependency is 5,
// as connect-redis 10's peer range needs; redis-drivers.test.ts runs the store suites on 5 and 6.
import { createClient, createCluster } from 'redis4';
import { RedisStore } from '../../src/redis.js';
import type { SessionStore } from '../../src/store.js';
import { runStoreConformance } from '../../src/testing.js';
import { REDIS_URL, redisSkip } from '../support/services.js';
import { RUN_PREFIX, deleteClusterKeys, deleteKeys, sharedCluster, stopSharedCluster } from './redis-helpers.js';

const skip = await redisSkip();
after(stopSharedCluster);

/** How each store's test setup is torn down: RedisStore never quits the client it was given. */
const teardowns = new WeakMap<SessionStore, () => Promise<void>>();
const destroy = async (store: SessionStore): Promise<void> => {
  await (store as RedisStore).close();
  await teardowns.get(store)?.();
};

runStoreConformance('RedisStore on ioredis', {
  skip,
  create: () => {
    const prefix = `${RUN_PREFIX}io:`;
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

runStoreConformance('RedisStore on node-redis', {
  skip,
  create: async () => {
    const prefix = `${RUN_PREFIX}nr:`;
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

runStoreConformance('RedisStore on a 3-master Redis Cluster through ioredis', {
  create: async () => {
    const cluster = await sharedCluster();
    const prefix = `${RUN_PREFIX}ioc:`;
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

runStoreConformance('RedisStore on a 3-master Redis Cluster through node-redis', {
  create: async () => {
    const cluster = await sharedCluster();
    const client = createCluster({ rootNodes: cluster.nodes.map((node) => ({ url: `redis://${node.host}:${node.port}` })) });
    await client.connect();
    const store = new RedisStore({ client, prefix: `${RUN_PREFIX}nrc:` });
    // The Cluster is this file's own and is stopped after the file, keys and all.
    teardowns.set(store, () => client.quit());
    return store;
  },
  destroy,
});
