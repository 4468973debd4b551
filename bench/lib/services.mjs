// Where the bench finds Redis, PostgreSQL and MySQL, whether they answer, and
// how it cleans up what it left there. Only loopback addresses are ever
// contacted by default; REDIS_URL / DATABASE_URL / MYSQL_URL override them as
// in the test suites.
import net from 'node:net';

export const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
export const DATABASE_URL = process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
export const MYSQL_URL = process.env.MYSQL_URL ?? 'mysql://root@127.0.0.1:3306/test';

/** Resolves true when a TCP connection to the URL's host and port succeeds within 1.5 s. */
export function reachable(url, defaultPort) {
  const { hostname, port } = new URL(url);
  return new Promise((resolve) => {
    const socket = net.connect({ host: hostname, port: Number(port || defaultPort) });
    const done = (ok) => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(1500);
    socket.once('connect', () => done(true));
    socket.once('timeout', () => done(false));
    socket.once('error', () => done(false));
  });
}

/** Which services answer right now: `{ redis: boolean, postgres: boolean, mysql: boolean }`. */
export async function probeServices() {
  const [redis, postgres, mysql] = await Promise.all([reachable(REDIS_URL, 6379), reachable(DATABASE_URL, 5432), reachable(MYSQL_URL, 3306)]);
  return { redis, postgres, mysql };
}

/** A tag unique to this bench run, used in Redis key prefixes and the PostgreSQL schema name. */
export function runTag() {
  return `b${process.pid}_${Date.now().toString(36)}`;
}

/** Deletes every Redis key under `prefix` (SCAN, never KEYS, so a busy Redis is not blocked). */
export async function cleanRedis(prefix) {
  const { default: Redis } = await import('ioredis');
  const client = new Redis(REDIS_URL, { lazyConnect: true, maxRetriesPerRequest: 1 });
  let removed = 0;
  try {
    await client.connect();
    let cursor = '0';
    do {
      const [next, keys] = await client.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 1000);
      cursor = next;
      if (keys.length > 0) removed += await client.del(...keys);
    } while (cursor !== '0');
  } finally {
    client.disconnect();
  }
  return removed;
}

/** Runs one SQL statement on DATABASE_URL with a short-lived client. */
export async function postgresQuery(sql) {
  const { default: pg } = await import('pg');
  const client = new pg.Client({ connectionString: DATABASE_URL });
  await client.connect();
  try {
    return await client.query(sql);
  } finally {
    await client.end();
  }
}
