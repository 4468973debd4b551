// Every contender the bench knows, one entry each. A contender is built inside
// its own server process by `create(env)`, which returns the session middleware
// (null for bare Koa) and a `close()` for whatever it opened.
//
// Flags: `throughput` / `writers` put it in the default throughput table /
// concurrent-writers figure, `quick` in `--quick`; `services` lists what must
// answer (else it is left out with a note); `peer` names the koa-session
// contender it is compared with. Anything can still be picked with `--only`.
//
// Adding one of this package's stores is one `ours(...)` line below.
import { createHmac, createSecretKey, randomUUID } from 'node:crypto';
import { createRequire } from 'node:module';
import { loadEntry } from './package.mjs';
import { koaSessionMapStore, koaSessionRedisStore, mapStore } from './map-store.mjs';
import { MYSQL_URL } from './services.mjs';

const require = createRequire(import.meta.url);

async function ioredisClient(env) {
  const { default: Redis } = await import('ioredis');
  const client = new Redis(env.redisUrl, { maxRetriesPerRequest: 2 });
  await client.ping();
  return client;
}

async function pgPool(env) {
  const { default: pg } = await import('pg');
  return new pg.Pool({ connectionString: env.databaseUrl, max: 10 });
}

async function mysqlPool() {
  const { default: mysql } = await import('mysql2/promise');
  return mysql.createPool({ uri: MYSQL_URL, connectionLimit: 10 });
}

/**
 * A contender running this package's `session` middleware.
 * `entry` is the dist/esm file that exports `exportName` ('index' for the main
 * entry, 'redis' for the koa-session-store/redis subpath, …); `store(Export, env)`
 * returns `{ store, close? }` where `store` is the `store` option.
 */
function ours(name, label, { entry = 'index', exportName, store, ...flags }) {
  return {
    name,
    label,
    family: 'koa-session-store',
    ...flags,
    async available() {
      const index = await loadEntry('index');
      if (typeof index?.session !== 'function') return 'this package does not export session yet (dist/esm/index.js)';
      if (exportName === undefined) return null;
      const module = await loadEntry(entry);
      if (typeof module?.[exportName] !== 'function') return `src/${entry}.ts does not export ${exportName} yet`;
      return null;
    },
    async create(env) {
      const index = await loadEntry('index');
      const Export = exportName === undefined ? undefined : (await loadEntry(entry))[exportName];
      const made = await store(Export, env);
      return { middleware: index.session({ store: made.store }), store: made.store, close: made.close };
    },
  };
}

/** koa-session 7 with `store` (undefined = its cookie store) built by `makeStore(env)`. */
function koaSession(name, label, { makeStore, ...flags }) {
  return {
    name,
    label,
    family: 'koa-session',
    ...flags,
    available: async () => null,
    async create(env) {
      const { createSession } = require('koa-session');
      const made = makeStore === undefined ? {} : await makeStore(env);
      const options = made.store === undefined ? {} : { store: made.store };
      return { middleware: createSession(options, env.app), close: made.close };
    },
  };
}

/** koa-generic-session 2 with `makeStore(env)` (undefined = its default MemoryStore). */
function genericSession(name, label, { makeStore, ...flags }) {
  return {
    name,
    label,
    family: 'koa-generic-session',
    ...flags,
    available: async () => null,
    async create(env) {
      const session = require('koa-generic-session');
      const made = makeStore === undefined ? {} : await makeStore(env);
      const options = { prefix: env.redisPrefix };
      if (made.store !== undefined) options.store = made.store;
      return { middleware: session(options), close: made.close };
    },
  };
}

/** floor-cookie's middleware: the least a signed two-cookie session can do per write. */
function signedCookieFloor(app) {
  const key = createSecretKey(Buffer.from(app.keys[0]));
  const attributes = '; path=/; samesite=lax; httponly';
  return async function floor(ctx, next) {
    await next();
    const now = Date.now();
    const value = Buffer.from(`{"_sid":"${randomUUID()}","_ctime":${now},"_exp":${now + 86_400_000},"n":1}`).toString('base64url');
    const signature = createHmac('sha1', key).update(`koa:sess=${value}`).digest('base64url');
    ctx.res.setHeader('Set-Cookie', [`koa:sess=${value}${attributes}`, `koa:sess.sig=${signature}${attributes}`]);
  };
}

export const CONTENDERS = [
  {
    name: 'bare',
    label: 'bare Koa (no session)',
    family: 'koa',
    throughput: true,
    quick: true,
    available: async () => null,
    create: async () => ({ middleware: null }),
  },

  // Not a session library: bare Koa plus only what any signed two-cookie session
  // must do when it writes (new, write): make an id, encode a payload of the same
  // shape as kss-cookie's, one HMAC-SHA1, two Set-Cookie headers. On read and none
  // it is bare Koa. Its ratio is the ceiling for a cookie session on this machine.
  {
    name: 'floor-cookie',
    label: 'reference: bare Koa + one id, one payload, one HMAC, two Set-Cookie headers (new, write only)',
    family: 'reference',
    throughput: true,
    available: async () => null,
    create: async (env) => ({ middleware: env.workload === 'new' || env.workload === 'write' ? signedCookieFloor(env.app) : null }),
  },

  // this package
  ours('kss-cookie', 'koa-session-store, cookie store', {
    throughput: true, quick: true, peer: 'koa-session-cookie',
    store: () => ({ store: 'cookie' }),
  }),
  // No encrypted cookie store exists yet; the export name and options below are a
  // placeholder to adjust when one does (until then it is reported as not available).
  ours('kss-encrypted', 'koa-session-store, encrypted cookie store', {
    throughput: true, peer: 'koa-session-cookie', exportName: 'EncryptedCookieStore',
    store: (EncryptedCookieStore) => ({ store: new EncryptedCookieStore({ secret: 'bench secret of at least thirty-two chars' }) }),
  }),
  ours('kss-map', 'koa-session-store, Map store (no patch)', {
    throughput: true, quick: true, writers: true, peer: 'koa-session-map',
    store: () => ({ store: mapStore() }),
  }),
  ours('kss-memory', 'koa-session-store, MemoryStore', {
    throughput: true, writers: true, exportName: 'MemoryStore',
    store: (MemoryStore) => {
      const store = new MemoryStore();
      return { store, close: () => store.close?.() };
    },
  }),
  ours('kss-sqlite', 'koa-session-store, SqliteStore', {
    writers: true, entry: 'sqlite', exportName: 'SqliteStore',
    store: (SqliteStore, env) => {
      const store = new SqliteStore({ path: env.sqlitePath });
      return { store, close: () => store.close?.() };
    },
  }),
  ours('kss-redis', 'koa-session-store, RedisStore (ioredis)', {
    throughput: true, writers: true, services: ['redis'], peer: 'koa-session-redis', entry: 'redis', exportName: 'RedisStore',
    store: async (RedisStore, env) => {
      const client = await ioredisClient(env);
      const store = new RedisStore({ client, prefix: env.redisPrefix });
      return { store, close: async () => { await store.close?.(); await client.quit(); } };
    },
  }),
  ours('kss-postgres', 'koa-session-store, PostgresStore', {
    writers: true, services: ['postgres'], entry: 'postgres', exportName: 'PostgresStore',
    store: async (PostgresStore, env) => {
      const pool = await pgPool(env);
      const store = new PostgresStore({ pool, schema: env.pgSchema });
      return { store, close: async () => { await store.close?.(); await pool.end(); } };
    },
  }),
  // Its table (named after the run, like PostgreSQL's schema) goes with the server that made it.
  ours('kss-mysql', 'koa-session-store, MysqlStore', {
    writers: true, services: ['mysql'], entry: 'mysql', exportName: 'MysqlStore',
    store: async (MysqlStore, env) => {
      const pool = await mysqlPool();
      const table = `${env.pgSchema}_sessions`;
      const store = new MysqlStore({ pool, table });
      const close = async () => {
        await store.close?.();
        await pool.query(`DROP TABLE IF EXISTS \`${table}\``).catch(() => undefined);
        await pool.end();
      };
      return { store, close };
    },
  }),

  // koa-session 7
  koaSession('koa-session-cookie', 'koa-session 7, cookie store', { throughput: true, quick: true }),
  koaSession('koa-session-map', 'koa-session 7, Map external store', {
    throughput: true, makeStore: () => ({ store: koaSessionMapStore() }),
  }),
  koaSession('koa-session-redis', 'koa-session 7, ioredis external store', {
    throughput: true, writers: true, services: ['redis'],
    makeStore: async (env) => {
      const client = await ioredisClient(env);
      return { store: koaSessionRedisStore(client, env.redisPrefix), close: () => client.quit() };
    },
  }),

  // koa-generic-session 2
  genericSession('kgs-memory', 'koa-generic-session 2, its MemoryStore', { throughput: true }),
  genericSession('kgs-redis', 'koa-generic-session 2 + koa-redis 4', {
    throughput: true, writers: true, services: ['redis'],
    makeStore: (env) => {
      const redisStore = require('koa-redis');
      const store = redisStore({ url: env.redisUrl });
      return { store, close: () => store.client.quit() };
    },
  }),
];

export const BY_NAME = new Map(CONTENDERS.map((contender) => [contender.name, contender]));

/**
 * null when `contender` can run here, else why not. `services` is probeServices()'s
 * answer; `buildNote` is ensureBuilt()'s (null when dist/ is usable).
 */
export async function unavailable(contender, { services, buildNote }) {
  if (contender.family === 'koa-session-store' && buildNote) return buildNote;
  for (const service of contender.services ?? []) if (!services[service]) return `${service} is down`;
  return contender.available();
}
