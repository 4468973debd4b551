// Shared pieces of the Redis store tests: a per-run prefix, key cleanup, and a
// lazily started 3-master Redis Cluster shared by the suites of one test file.
import type { Cluster, Redis } from 'ioredis';
import { runTag } from '../support/services.js';
import { startRedisCluster } from '../support/redis-server.js';
import type { RedisCluster } from '../support/redis-server.js';

/** A key prefix of this test run, so parallel runs and other suites never share keys. */
export const RUN_PREFIX = `koa:sess:${runTag()}:`;

/** Deletes every key starting with `prefix` on one node (SCAN + DEL), so the shared Redis is left clean. */
export async function deleteKeys(client: Redis, prefix: string): Promise<void> {
  let cursor = '0';
  do {
    const [next, keys] = await client.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 1000);
    cursor = next;
    // One DEL per key: on a Cluster node the keys of one SCAN page may sit in different slots.
    await Promise.all(keys.map((key) => client.del(key)));
  } while (cursor !== '0');
}

/** `deleteKeys` on every master of a Cluster. */
export async function deleteClusterKeys(cluster: Cluster, prefix: string): Promise<void> {
  await Promise.all(cluster.nodes('master').map((node) => deleteKeys(node, prefix)));
}

let clusterStart: Promise<RedisCluster> | undefined;

/**
 * The 3-master Cluster of this test file, started on first use. The file
 * registers `after(stopSharedCluster)` at its top level, so the Cluster
 * outlives every suite of the file and stops whatever happened.
 */
export function sharedCluster(): Promise<RedisCluster> {
  clusterStart ??= startRedisCluster(3);
  return clusterStart;
}

export async function stopSharedCluster(): Promise<void> {
  const cluster = await clusterStart?.catch(() => undefined);
  clusterStart = undefined;
  await cluster?.stop();
}
