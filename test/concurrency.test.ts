// No lost updates (issue 6): concurrent requests of one session keep each
// other's writes on every shipped store, over real HTTP and real servers; a
// store without patch still works (and shows what whole-object saves lose).
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after } from 'node:test';
import { Cluster, Redis } from 'ioredis';
import mysql from 'mysql2/promise';
import pg from 'pg';
import { MemoryStore } from '../src/index.js';
import { PostgresStore } from '../src/stores/postgres.js';
import { RedisStore } from '../src/stores/redis.js';
import { SqliteStore } from '../src/stores/sqlite.js';
import { MysqlStore } from '../src/stores/mysql.js';
import { runConcurrencySuite } from './support/concurrency.js';
import { deleteKeys } from './stores/redis-helpers.js';
import { startRedisCluster } from './support/redis-server.js';
import type { RedisCluster } from './support/redis-server.js';
import { DATABASE_URL, REDIS_URL, postgresSkip, redisSkip, runTag } from './support/services.js';
import { countingStore } from './support/stores.js';
import { MYSQL_URL, mysqlSkip } from './support/mysql.js';

const tag = runTag();
const redisSkipped = await redisSkip();
const postgresSkipped = await postgresSkip();
const mysqlSkipped = await mysqlSkip();

runConcurrencySuite('MemoryStore', {
  create: () => new MemoryStore(),
  destroy: (store) => store.close(),
});

runConcurrencySuite('a store without patch (keys may be lost, nothing may break)', {
  create: () => countingStore('async').store,
  expectAllKept: false,
});

let sqliteDir: string | undefined;
runConcurrencySuite('SqliteStore', {
  create: () => {
    sqliteDir = mkdtempSync(path.join(os.tmpdir(), 'kss-concurrency-'));
    return new SqliteStore({ path: path.join(sqliteDir, 'sessions.db') });
  },
  destroy: async (store) => {
    await store.close();
    if (sqliteDir !== undefined) rmSync(sqliteDir, { recursive: true, force: true });
  },
});

const redisClients = new WeakMap<RedisStore, Redis>();
runConcurrencySuite('RedisStore', {
  skip: redisSkipped,
  create: () => {
    const client = new Redis(REDIS_URL);
    const store = new RedisStore({ client, prefix: `koa:sess:${tag}:concurrency:` });
    redisClients.set(store, client);
    return store;
  },
  destroy: async (store) => {
    await store.close();
    const client = redisClients.get(store);
    if (client === undefined) return;
    await deleteKeys(client, store.prefix);
    await client.quit();
  },
});

let cluster: RedisCluster | undefined;
let clusterClient: Cluster | undefined;
// Whatever happens in the suite, the Cluster's processes go with this file.
after(async () => {
  await clusterClient?.quit().catch(() => undefined);
  await cluster?.stop();
});
runConcurrencySuite('RedisStore on a 3-master Redis Cluster', {
  create: async () => {
    cluster = await startRedisCluster(3);
    clusterClient = new Cluster(cluster.nodes);
    return new RedisStore({ client: clusterClient, prefix: `koa:sess:${tag}:concurrency:` });
  },
  destroy: async (store) => {
    await store.close();
    await clusterClient?.quit();
    clusterClient = undefined;
    await cluster?.stop();
    cluster = undefined;
  },
});

const schema = `kss_${tag}_concurrency`;
let pool: pg.Pool | undefined;
runConcurrencySuite('PostgresStore', {
  skip: postgresSkipped,
  create: () => {
    pool = new pg.Pool({ connectionString: DATABASE_URL, max: 10 });
    // pg emits 'error' for idle clients the server drops; the store's own calls report failures.
    pool.on('error', () => {});
    return new PostgresStore({ pool, schema });
  },
  destroy: async (store) => {
    await store.close();
    if (pool === undefined) return;
    await pool.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
    await pool.end();
    pool = undefined;
  },
});

const mysqlTable = `kss_${tag}_concurrency`;
let mysqlPool: mysql.Pool | undefined;
runConcurrencySuite('MysqlStore', {
  skip: mysqlSkipped,
  create: () => {
    mysqlPool = mysql.createPool({ uri: MYSQL_URL, connectionLimit: 10 });
    // The first call also creates the table, which a machine busy with other suites can make slower than the 2 s default.
    return new MysqlStore({ pool: mysqlPool, table: mysqlTable, queryTimeout: 10_000 });
  },
  destroy: async (store) => {
    await store.close();
    if (mysqlPool === undefined) return;
    await mysqlPool.query(`DROP TABLE IF EXISTS \`${mysqlTable}\``);
    await mysqlPool.end();
    mysqlPool = undefined;
  },
});
