// Two app processes on one Redis (issue 13; the scenario is in
// test/support/index-processes.ts): on a single node and on a 3-master
// Cluster, where the user's hash and the sessions sit in different slots.
import { after, describe, it } from 'node:test';
import { Cluster, Redis } from 'ioredis';
import { twoProcesses, type DatabaseView } from '../support/index-processes.js';
import { REDIS_URL, redisSkip } from '../support/services.js';
import { RUN_PREFIX, deleteClusterKeys, deleteKeys, sharedCluster, stopSharedCluster } from './redis-helpers.js';

const skip = await redisSkip();
after(stopSharedCluster);

/** The user's hash and the session keys, as Redis holds them. */
function viewOf(raw: Redis | Cluster, prefix: string): DatabaseView {
  return {
    indexedSids: (user) => raw.hkeys(`${prefix}user:${user}`),
    sessionExists: async (sid) => (await raw.exists(prefix + sid)) === 1,
  };
}

describe('two app processes sharing one Redis', () => {
  it('see the same sessions of a user, and a revocation on either ends the session on the other (single node)', { skip }, async () => {
    const prefix = `${RUN_PREFIX}ux-procs:`;
    const raw = new Redis(REDIS_URL);
    const env = { KSS_STORE: 'redis', KSS_REDIS_URL: REDIS_URL, KSS_PREFIX: prefix };
    try {
      await twoProcesses(env, env, viewOf(raw, prefix));
    } finally {
      await deleteKeys(raw, prefix);
      await raw.quit();
    }
  });

  it("do the same on a 3-master Redis Cluster, with the user's hash and the sessions in different slots", async () => {
    const cluster = await sharedCluster();
    const prefix = `${RUN_PREFIX}ux-procs-cluster:`;
    const raw = new Cluster(cluster.nodes);
    const env = { KSS_STORE: 'redis', KSS_REDIS_CLUSTER: JSON.stringify(cluster.nodes), KSS_PREFIX: prefix };
    try {
      await twoProcesses(env, env, viewOf(raw, prefix));
    } finally {
      await deleteClusterKeys(raw, prefix);
      await raw.quit();
    }
  });
});
