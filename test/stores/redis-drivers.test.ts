// RedisStore on every driver major the peer ranges admit, installed side by
// side under aliases: ioredis 5 (the `ioredis` devDependency, also run in
// redis.test.ts) and 6; node-redis 4 (the `redis4` alias, which redis.test.ts
// and the other Redis files use), 5 (the `redis` devDependency, a major
// connect-redis 10 accepts as its peer) and 6.
// Each runs the conformance kit, 50 concurrent writers of one session over
// HTTP, and the user-sessions suite, so a new driver major cannot break a
// store call quietly.
import { after } from 'node:test';
import { Redis as Redis6 } from 'ioredis6';
import { Redis } from 'ioredis';
import { createClient as createClient5 } from 'redis';
import { createClient as createClient6 } from 'redis6';
import { RedisStore } from '../../src/redis.js';
import type { SessionStore } from '../../src/store.js';
import { runStoreConformance } from '../../src/testing.js';
import { runConcurrencySuite } from '../support/concurrency.js';
import { REDIS_URL, redisSkip } from '../support/services.js';
import { runUserSessionsSuite } from '../support/user-sessions.js';
import { RUN_PREFIX, deleteKeys } from './redis-helpers.js';

const skip = await redisSkip();
const cleanups: Array<() => Promise<unknown>> = [];
after(async () => {
  const checker = new Redis(REDIS_URL);
  await deleteKeys(checker, `${RUN_PREFIX}drivers:`);
  await checker.quit();
  await Promise.all(cleanups.map((cleanup) => cleanup()));
});

/** A RedisStore over a client each driver makes its own way; the client is quit after the file. */
const drivers: Array<[string, (prefix: string) => Promise<SessionStore>]> = [
  [
    'ioredis 6',
    async (prefix) => {
      const client = new Redis6(REDIS_URL);
      cleanups.push(() => client.quit());
      return new RedisStore({ client, prefix });
    },
  ],
  [
    'node-redis 5',
    async (prefix) => {
      const client = createClient5({ url: REDIS_URL });
      await client.connect();
      cleanups.push(() => client.quit());
      return new RedisStore({ client, prefix });
    },
  ],
  [
    'node-redis 6',
    async (prefix) => {
      const client = createClient6({ url: REDIS_URL });
      await client.connect();
      cleanups.push(() => client.quit());
      return new RedisStore({ client, prefix });
    },
  ],
];

for (const [driver, make] of drivers) {
  const tag = driver.replace(/\W+/g, '');
  runStoreConformance(`RedisStore on ${driver}`, { skip, create: () => make(`${RUN_PREFIX}drivers:${tag}:kit:`) });
  runConcurrencySuite(`RedisStore on ${driver}`, { skip, create: () => make(`${RUN_PREFIX}drivers:${tag}:race:`) });
  runUserSessionsSuite(`RedisStore on ${driver}`, { skip, create: () => make(`${RUN_PREFIX}drivers:${tag}:users:`) });
}
