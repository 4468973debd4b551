// End to end on every shipped store (issue 4): one session's whole life over
// real HTTP, checked against what each store really holds, read with
// redis-cli-style commands or SQL on connections of the test's own.
// The stores run concurrently (each scenario is mostly waiting for expiry).
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, describe } from 'node:test';
import Database from 'better-sqlite3';
import { Cluster, Redis } from 'ioredis';
import mysql from 'mysql2/promise';
import pg from 'pg';
// node-redis 4, the oldest major of the peer range, under an alias: the `redis` devDependency is 5,
// as connect-redis 10's peer range needs; redis-drivers.test.ts runs the store suites on 5 and 6.
import { createClient } from 'redis4';
import { MemoryStore } from '../src/index.js';
import { PostgresStore } from '../src/stores/postgres.js';
import { RedisStore } from '../src/stores/redis.js';
import type { RedisStoreOptions } from '../src/stores/redis.js';
import { SqliteStore } from '../src/stores/sqlite.js';
import { MysqlStore } from '../src/stores/mysql.js';
import { runEndToEnd } from './support/e2e.js';
import type { RawView } from './support/e2e.js';
import { startRedisCluster } from './support/redis-server.js';
import type { RedisCluster } from './support/redis-server.js';
import { DATABASE_URL, REDIS_URL, postgresSkip, redisSkip, runTag } from './support/services.js';
import { deleteKeys } from './stores/redis-helpers.js';
import { MYSQL_URL, mysqlSkip } from './support/mysql.js';

const tag = runTag();
const redisSkipped = await redisSkip();
const postgresSkipped = await postgresSkip();
const mysqlSkipped = await mysqlSkip();

/** GET and PTTL on `prefix + sid` through a client of the test's own (a Cluster client routes each key to its shard). */
function redisView(inspector: Redis | Cluster, prefix: string): RawView {
  return {
    get: async (sid) => (await inspector.get(prefix + sid)) ?? undefined,
    ttlMs: async (sid) => {
      const ttl = await inspector.pttl(prefix + sid);
      // -2: no such key (expired keys included); -1: a key without expiry, which these sessions must never be.
      if (ttl === -2) return undefined;
      return ttl === -1 ? Infinity : ttl;
    },
  };
}

let cluster: RedisCluster | undefined;
// Whatever happens in the scenario, the Cluster's processes go with this file.
after(async () => {
  await cluster?.stop();
});

describe('end to end: one session from login to logout on every store', { concurrency: true }, () => {
  runEndToEnd('MemoryStore', {
    create: async () => {
      const store = new MemoryStore();
      // A MemoryStore has no outside view: its raw view is its own load (which
      // hides expired entries) and it cannot show a ttl, so ttl checks are left out.
      const raw: RawView = { get: async (sid) => store.load(sid) ?? undefined, ttlMs: null };
      return { store, raw, cleanup: async () => store.close() };
    },
  });

  runEndToEnd('SqliteStore', {
    create: async () => {
      const dir = mkdtempSync(path.join(os.tmpdir(), 'kss-e2e-'));
      const file = path.join(dir, 'sessions.db');
      const store = new SqliteStore({ path: file });
      // A second, read-only connection on the same file, opened on first use (the store creates the file).
      let db: Database.Database | undefined;
      const row = (sid: string) => {
        db ??= new Database(file, { readonly: true, fileMustExist: true });
        return db.prepare('SELECT data, expires_at FROM sessions WHERE sid = ?').get(sid) as
          | { data: string; expires_at: number | null }
          | undefined;
      };
      const live = (sid: string) => {
        const found = row(sid);
        return found !== undefined && (found.expires_at === null || found.expires_at > Date.now()) ? found : undefined;
      };
      const raw: RawView = {
        get: async (sid) => live(sid)?.data,
        ttlMs: async (sid) => {
          const found = live(sid);
          if (found === undefined) return undefined;
          return found.expires_at === null ? Infinity : found.expires_at - Date.now();
        },
        rowExpiresAt: async (sid) => row(sid)?.expires_at,
      };
      const cleanup = async () => {
        db?.close();
        await store.close();
        rmSync(dir, { recursive: true, force: true });
      };
      return { store, raw, cleanup };
    },
  });

  /** A RedisStore over `client` on the shared Redis, inspected through a separate ioredis connection. */
  const sharedRedisCase = (label: string, prefixPart: string, connect: () => Promise<RedisStoreOptions['client'] & { quit(): Promise<unknown> }>) =>
    runEndToEnd(label, {
      skip: redisSkipped,
      create: async () => {
        const prefix = `koa:sess:${tag}:e2e:${prefixPart}:`;
        const client = await connect();
        const inspector = new Redis(REDIS_URL);
        const store = new RedisStore({ client, prefix });
        const cleanup = async () => {
          await store.close();
          await deleteKeys(inspector, prefix);
          await client.quit();
          await inspector.quit();
        };
        return { store, raw: redisView(inspector, prefix), cleanup };
      },
    });

  sharedRedisCase('RedisStore (ioredis)', 'io', async () => new Redis(REDIS_URL));
  sharedRedisCase('RedisStore (node-redis v4)', 'nr', async () => {
    const client = createClient({ url: REDIS_URL });
    await client.connect();
    return client;
  });

  runEndToEnd('RedisStore on a 3-master Redis Cluster (ioredis Cluster)', {
    create: async () => {
      cluster = await startRedisCluster(3);
      const prefix = `koa:sess:${tag}:e2e:cl:`;
      const client = new Cluster(cluster.nodes);
      const inspector = new Cluster(cluster.nodes);
      const store = new RedisStore({ client, prefix });
      const cleanup = async () => {
        await store.close();
        await client.quit();
        await inspector.quit();
        await cluster?.stop();
        cluster = undefined;
      };
      return { store, raw: redisView(inspector, prefix), cleanup };
    },
  });

  runEndToEnd('PostgresStore', {
    skip: postgresSkipped,
    create: async () => {
      const schema = `kss_${tag}_e2e`;
      const pool = new pg.Pool({ connectionString: DATABASE_URL, max: 4 });
      // pg emits 'error' for idle clients the server drops; the store's own calls report failures.
      pool.on('error', () => {});
      const store = new PostgresStore({ pool, schema });
      // A connection of the test's own, outside the store's pool. Times come from the server's clock, as the store's do.
      const inspector = new pg.Client({ connectionString: DATABASE_URL });
      await inspector.connect();
      const row = async (sid: string) => {
        const result = await inspector.query<{ data: string; expires_ms: number | null; ttl_ms: number | null }>(
          `SELECT data,
                  (extract(epoch FROM expires_at) * 1000)::float8 AS expires_ms,
                  (extract(epoch FROM expires_at - now()) * 1000)::float8 AS ttl_ms
             FROM "${schema}"."sessions" WHERE sid = $1`,
          [sid],
        );
        return result.rows[0];
      };
      const live = async (sid: string) => {
        const found = await row(sid);
        return found !== undefined && (found.ttl_ms === null || found.ttl_ms > 0) ? found : undefined;
      };
      const raw: RawView = {
        get: async (sid) => (await live(sid))?.data,
        ttlMs: async (sid) => {
          const found = await live(sid);
          if (found === undefined) return undefined;
          return found.ttl_ms ?? Infinity;
        },
        rowExpiresAt: async (sid) => (await row(sid))?.expires_ms,
      };
      const cleanup = async () => {
        await store.close();
        await inspector.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
        await inspector.end();
        await pool.end();
      };
      return { store, raw, cleanup };
    },
  });

  runEndToEnd('MysqlStore', {
    skip: mysqlSkipped,
    create: async () => {
      const table = `kss_${tag}_e2e`;
      const pool = mysql.createPool({ uri: MYSQL_URL, connectionLimit: 4 });
      const store = new MysqlStore({ pool, table });
      // A pool of the test's own, outside the store's. Times come from the server's clock (UTC), as the store's do.
      const inspector = mysql.createPool({ uri: MYSQL_URL, connectionLimit: 1 });
      const row = async (sid: string) => {
        const [rows] = await inspector.query(
          `SELECT data,
                  TIMESTAMPDIFF(MICROSECOND, '1970-01-01 00:00:00', expires_at) / 1000 AS expires_ms,
                  TIMESTAMPDIFF(MICROSECOND, UTC_TIMESTAMP(3), expires_at) / 1000 AS ttl_ms
             FROM \`${table}\` WHERE sid = ?`,
          [sid],
        );
        const found = (rows as { data: string; expires_ms: string | null; ttl_ms: string | null }[])[0];
        if (found === undefined) return undefined;
        const number = (value: string | null) => (value === null ? null : Number(value));
        return { data: found.data, expires_ms: number(found.expires_ms), ttl_ms: number(found.ttl_ms) };
      };
      const live = async (sid: string) => {
        const found = await row(sid);
        return found !== undefined && (found.ttl_ms === null || found.ttl_ms > 0) ? found : undefined;
      };
      const raw: RawView = {
        get: async (sid) => (await live(sid))?.data,
        ttlMs: async (sid) => {
          const found = await live(sid);
          if (found === undefined) return undefined;
          return found.ttl_ms ?? Infinity;
        },
        rowExpiresAt: async (sid) => (await row(sid))?.expires_ms,
      };
      const cleanup = async () => {
        await store.close();
        await inspector.query(`DROP TABLE IF EXISTS \`${table}\``);
        await inspector.end();
        await pool.end();
      };
      return { store, raw, cleanup };
    },
  });
});
