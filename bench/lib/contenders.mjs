// Every contender the bench knows, one entry each. A contender is built inside
// its own server process by `create(env)`, which returns the session middleware
// (null for bare Koa) and a `close()` for whatever it opened; bare Koa and the
// floors also return `mintCookie()`, which makes the cookies they are sent.
//
// Flags: `throughput` / `writers` put it in the default throughput table /
// concurrent-writers figure, `quick` in `--quick`, `login` in the default set
// of the login workload; `services` lists what must answer (else it is left
// out with a note); `peer` names the koa-session contender it is compared
// with; `floor` the floor reference that bounds it (floors.mjs); `unindexed`
// (on a `-indexed` contender) the same store without indexBy, its partner in
// the login figures. Anything can still be picked with `--only`.
//
// Adding one of this package's stores is one `ours(...)` line below, or one
// `serverStore(...)` line for a server store, which also gets a login pair.
import { createRequire } from 'node:module';
import { redisFloor, sealedFloor, signedFloor, storeFloor } from './floors.mjs';
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
 * returns `{ store, close? }` where `store` is the `store` option; `options`
 * are further options of `session()`.
 */
function ours(name, label, { entry = 'index', exportName, store, options = {}, needs, ...flags }) {
  return {
    name,
    label,
    family: 'koa-session-store',
    ...flags,
    async available() {
      const index = await loadEntry('index');
      if (typeof index?.session !== 'function') return 'this package does not export session yet (dist/esm/index.js)';
      for (const module of needs ?? []) {
        try {
          require.resolve(module);
        } catch {
          return `${module} is not installed (npm install)`;
        }
      }
      if (exportName === undefined) return null;
      const module = await loadEntry(entry);
      if (typeof module?.[exportName] !== 'function') return `src/${entry}.ts does not export ${exportName} yet`;
      return null;
    },
    async create(env) {
      const index = await loadEntry('index');
      const Export = exportName === undefined ? undefined : (await loadEntry(entry))[exportName];
      const made = store === undefined ? {} : await store(Export, env);
      const middleware = index.session(made.store === undefined ? { ...options } : { ...options, store: made.store });
      return { middleware, store: made.store, close: made.close };
    },
  };
}

/** A floor reference (floors.mjs): bare Koa plus only the unavoidable work of one session format. */
function floor(name, label, make, flags) {
  return {
    name,
    label,
    family: 'reference',
    ...flags,
    available: async () => {
      if (name !== 'floor-sealed') return null;
      try {
        require.resolve('sodium-native');
        return null;
      } catch {
        return 'sodium-native is not installed (npm install)';
      }
    },
    create: async (env) => make(env.app, env.handler),
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

/**
 * One of this package's server stores, as `ours()` makes it, and the same
 * with `indexBy: 'userId'` as `<name>-indexed`. Both are in the login set;
 * the indexed one is in no other default set, so a default run measures it
 * on `login` only and every other figure stays that of the app without
 * indexBy. (Run on another workload with --only, it is an app with indexBy
 * whose sessions name no user: the seeded sessions have no userId.)
 */
function serverStore(name, label, spec) {
  return [
    ours(name, label, { ...spec, login: true }),
    // Not in the other default sets, nor compared with koa-session.
    ours(`${name}-indexed`, `${label} with indexBy: 'userId'`, {
      ...spec,
      throughput: false,
      writers: false,
      peer: undefined,
      login: true,
      unindexed: name,
      options: { ...spec.options, indexBy: 'userId' },
    }),
  ];
}

/**
 * MemoryStore's `max` for a bench server: room for every session it makes,
 * so nothing is evicted. On `login` every request adds a session and every
 * run a fresh pool (app.mjs), more than any bound set ahead could know of:
 * there the bound is out of reach, as an eviction would be measured with the
 * login it fell on and could take a pool session before its request came.
 */
function memoryMax(env) {
  if (env.workload === 'login') return Number.MAX_SAFE_INTEGER;
  return Math.max(10_000, (env.sessions ?? 0) + 1);
}

export const CONTENDERS = [
  {
    name: 'bare',
    label: 'bare Koa (no session), sent cookies of the cookie store’s format',
    family: 'koa',
    throughput: true,
    quick: true,
    login: true,
    available: async () => null,
    create: async (env) => ({ middleware: null, mintCookie: (await signedFloor(env.app, 'none')).mintCookie }),
  },

  {
    // Not in the default set: run it with --only beside the `none` rows, where the floor is bare Koa,
    // to see what one middleware that does nothing costs (Koa's dispatch, an async function, a promise).
    name: 'koa-empty-middleware',
    label: 'bare Koa plus one empty async middleware (what any middleware costs), sent cookies of the cookie store’s format',
    family: 'koa',
    // Measured beside bare Koa in every round (bench/lib/schedule.mjs), its `× floor` is `× bare`.
    floor: 'bare',
    available: async () => null,
    create: async (env) => ({
      middleware: async (ctx, next) => {
        await next();
      },
      bare: true,
      mintCookie: (await signedFloor(env.app, 'none')).mintCookie,
    }),
  },

  {
    // The floor of `none` for a session middleware: ctx.session must find this request's
    // state, so the middleware hangs one object on ctx (a new own property: V8 grows the
    // context's property store for it) and looks at it after next(). Not in the default set.
    name: 'koa-state-middleware',
    label: 'bare Koa plus one async middleware that hangs a per-request object on ctx and looks at it after next() (the least a middleware offering ctx.session does for a request that never uses it), sent cookies of the cookie store’s format',
    family: 'koa',
    floor: 'bare',
    available: async () => null,
    create: async (env) => {
      const STATE = Symbol('request state');
      return {
        middleware: async (ctx, next) => {
          const state = { ctx, used: false };
          ctx[STATE] = state;
          await next();
          if (state.used) throw new Error('koa-state-middleware: nothing marks the state used');
        },
        bare: true,
        mintCookie: (await signedFloor(env.app, 'none')).mintCookie,
      };
    },
  },

  // Not session libraries: bare Koa plus only the unavoidable work of each format (floors.mjs).
  // On `none` a floor is bare Koa, so no floor server runs there.
  floor('floor-signed', 'floor: signed cookie (find both cookies, one HMAC-SHA1 verify, base64url JSON; uuid, payload, one HMAC, two Set-Cookie)', signedFloor, {
    throughput: true, quick: true,
  }),
  floor('floor-sealed', 'floor: sealed cookie (one XChaCha20-Poly1305 open + JSON parse; uuid, payload, one seal, one Set-Cookie)', sealedFloor, {
    throughput: true, quick: true,
  }),
  floor('floor-store', 'floor: server store (signed id cookie verified with one HMAC, the data as JSON in a Map)', storeFloor, {
    throughput: true, quick: true,
  }),
  {
    // What Redis itself costs here: its ratio to floor-store bounds RedisStore's target against a
    // Map store, and its ratio to koa-session's Redis store bounds the target against that one.
    name: 'floor-redis',
    label: 'floor: Redis store (signed id cookie verified with one HMAC, the data as JSON in Redis: one GET, one SET PX)',
    family: 'reference',
    throughput: true,
    floor: 'floor-store',
    services: ['redis'],
    available: async () => null,
    create: async (env) => {
      const { default: Redis } = await import('ioredis');
      const client = new Redis(env.redisUrl, { maxRetriesPerRequest: 2, enableAutoPipelining: true });
      await client.ping();
      return redisFloor(env.app, env.handler, client, `${env.redisPrefix}floor:`);
    },
  },

  // this package
  ours('kss-cookie', 'koa-session-store, cookie store (signed)', {
    throughput: true, quick: true, peer: 'koa-session-cookie', floor: 'floor-signed',
    store: () => ({ store: 'cookie' }),
  }),
  ours('kss-sealed', 'koa-session-store, sealed cookie store (encrypt: true)', {
    throughput: true, quick: true, peer: 'koa-session-cookie', floor: 'floor-sealed', needs: ['sodium-native'],
    options: { encrypt: true },
  }),
  ours('kss-map', 'koa-session-store, Map store (no patch)', {
    throughput: true, quick: true, writers: true, peer: 'koa-session-map', floor: 'floor-store',
    store: () => ({ store: mapStore() }),
  }),
  // Sized to hold every session the bench makes (10,000 is also its default bound).
  ...serverStore('kss-memory', 'koa-session-store, MemoryStore', {
    throughput: true, writers: true, floor: 'floor-store', exportName: 'MemoryStore',
    store: (MemoryStore, env) => {
      const store = new MemoryStore({ max: memoryMax(env) });
      return { store, close: () => store.close?.() };
    },
  }),
  ...serverStore('kss-sqlite', 'koa-session-store, SqliteStore', {
    throughput: true, writers: true, floor: 'floor-store', entry: 'sqlite', exportName: 'SqliteStore',
    store: (SqliteStore, env) => {
      const store = new SqliteStore({ path: env.sqlitePath });
      return { store, close: () => store.close?.() };
    },
  }),
  ...serverStore('kss-redis', 'koa-session-store, RedisStore (ioredis)', {
    throughput: true, writers: true, services: ['redis'], peer: 'koa-session-redis', floor: 'floor-store', entry: 'redis', exportName: 'RedisStore',
    store: async (RedisStore, env) => {
      const client = await ioredisClient(env);
      const store = new RedisStore({ client, prefix: env.redisPrefix });
      return { store, close: async () => { await store.close?.(); await client.quit(); } };
    },
  }),
  ...serverStore('kss-postgres', 'koa-session-store, PostgresStore', {
    throughput: true, writers: true, services: ['postgres'], floor: 'floor-store', entry: 'postgres', exportName: 'PostgresStore',
    store: async (PostgresStore, env) => {
      const pool = await pgPool(env);
      const store = new PostgresStore({ pool, schema: env.pgSchema, table: env.sqlTable ?? 'sessions' });
      return { store, close: async () => { await store.close?.(); await pool.end(); } };
    },
  }),
  // Its tables (named after the run and the server, like PostgreSQL's) go with the server that made them:
  // the sessions and `<table>_users`, the users' index, which the store creates with or without indexBy.
  // (The names stay within MySQL's 64 characters, so the store does not shorten the second one.)
  ...serverStore('kss-mysql', 'koa-session-store, MysqlStore', {
    throughput: true, writers: true, services: ['mysql'], floor: 'floor-store', entry: 'mysql', exportName: 'MysqlStore',
    store: async (MysqlStore, env) => {
      const pool = await mysqlPool();
      const table = `${env.pgSchema}_${env.sqlTable ?? 'sessions'}`;
      const store = new MysqlStore({ pool, table });
      const close = async () => {
        await store.close?.();
        await pool.query(`DROP TABLE IF EXISTS \`${table}\`, \`${table}_users\``).catch(() => undefined);
        await pool.end();
      };
      return { store, close };
    },
  }),

  // koa-session 7
  koaSession('koa-session-cookie', 'koa-session 7, cookie store', { throughput: true, quick: true, floor: 'floor-signed' }),
  koaSession('koa-session-map', 'koa-session 7, Map external store', {
    throughput: true, floor: 'floor-store', makeStore: () => ({ store: koaSessionMapStore() }),
  }),
  koaSession('koa-session-redis', 'koa-session 7, ioredis external store', {
    throughput: true, writers: true, floor: 'floor-store', services: ['redis'],
    makeStore: async (env) => {
      const client = await ioredisClient(env);
      return { store: koaSessionRedisStore(client, env.redisPrefix), close: () => client.quit() };
    },
  }),

  // koa-generic-session 2
  genericSession('kgs-memory', 'koa-generic-session 2, its MemoryStore', { throughput: true, floor: 'floor-store' }),
  genericSession('kgs-redis', 'koa-generic-session 2 + koa-redis 4', {
    throughput: true, writers: true, floor: 'floor-store', services: ['redis'],
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
