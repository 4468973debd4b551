// The `koa-session-store/redis` entry: import it only when you use Redis, so
// nobody else needs a Redis client installed.
export { RedisStore } from './stores/redis.js';
export type { RedisStoreOptions, RedisClient, IoredisClient, IoredisPipeline, NodeRedisClient, NodeRedisCluster } from './stores/redis.js';
