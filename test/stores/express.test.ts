// fromExpressStore on real express-session stores: express-session's own
// MemoryStore, connect-redis 8 (on ioredis and node-redis 4) and 10 (on
// node-redis 5 and 6, the clients it accepts) on the shared Redis, and
// connect-pg-simple on PostgreSQL. The conformance kit runs on each in a child
// process and must fail exactly its three cases about the JSON's spelling (an
// express store keeps an object, not text); then what only the adapter does:
// the records and ttls the stores keep, touch, and errors passed on as they are.
// connect-redis 10 declares engines node >=22, yet its code (class fields, async
// iteration) runs on Node 20, where this file passes too: its tests run on every Node.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { RedisStore as ConnectRedis8Store } from 'connect-redis';
import { RedisStore as ConnectRedis10Store } from 'connect-redis10';
import connectPgSimple from 'connect-pg-simple';
import expressSession from 'express-session';
import { Redis } from 'ioredis';
import pg from 'pg';
import { ClientClosedError, createClient as createClient5 } from 'redis';
import { createClient as createClient4 } from 'redis4';
import { createClient as createClient6 } from 'redis6';
import { fromExpressStore, session } from '../../src/index.js';
import type { ExpressSessionStore, SessionStore } from '../../src/index.js';
import { settle } from '../../src/store.js';
import { runStoreConformance } from '../../src/testing.js';
import type { StoreConformanceOptions } from '../../src/testing.js';
import { DATABASE_URL, REDIS_URL, postgresSkip, redisSkip, runTag } from '../support/services.js';
import { RUN_PREFIX, deleteKeys } from './redis-helpers.js';

const redisSkipped = await redisSkip();
const postgresSkipped = await postgresSkip();
const tag = runTag();
const PGStore = connectPgSimple(expressSession);
type PgSessionStore = InstanceType<typeof PGStore>;

/**
 * connect-redis sets `EX ceil(ms / 1000)`; connect-pg-simple stores `ceil(expires / 1000)`
 * and hides a row once `ceil(now / 1000)` passes it. An entry can so outlive its ttl by up
 * to a second, and the kit checks `shortTtlMs / 2` after the ttl: 2000 ms is the least
 * that covers it.
 */
const SECOND_GRANULARITY_TTL = 2000;

// ---- Redis ------------------------------------------------------------------

const PREFIX = `${RUN_PREFIX}express:`;
const redisClients: Array<{ quit(): Promise<unknown> }> = [];
/** A plain ioredis connection to look at, and clean up, the keys connect-redis writes. */
let checker: Redis | undefined;
function redis(): Redis {
  checker ??= new Redis(REDIS_URL);
  return checker;
}

function ioredisClient(): Redis {
  const client = new Redis(REDIS_URL);
  redisClients.push(client);
  return client;
}

/** A node-redis client of any major, connected, and quit after the file. */
async function connected<Client extends { connect(): Promise<unknown>; quit(): Promise<unknown> }>(client: Client): Promise<Client> {
  await client.connect();
  redisClients.push(client);
  return client;
}

after(async () => {
  await Promise.all(redisClients.map((client) => client.quit().catch(() => undefined)));
  // Every process of this file, the kit's children too, deletes the keys of its own prefix.
  if (!redisSkipped) {
    await deleteKeys(redis(), PREFIX);
    await redis().quit();
  }
});

// ---- PostgreSQL -------------------------------------------------------------

const pools: pg.Pool[] = [];
const pgStores: PgSessionStore[] = [];
const schemas: string[] = [];
let admin: pg.Pool | undefined;

async function sql<R extends pg.QueryResultRow = pg.QueryResultRow>(text: string, values?: unknown[]): Promise<R[]> {
  admin ??= new pg.Pool({ connectionString: DATABASE_URL, max: 1 });
  return (await admin.query<R>(text, values)).rows;
}

/** A connect-pg-simple store on a schema of this run; the store creates its table from the SQL it ships. */
async function newPgStore(name: string, options: { ttl?: number; createTableIfMissing?: boolean } = {}): Promise<{ store: PgSessionStore; table: string }> {
  const schema = `kss_${tag}_express_${name}`;
  schemas.push(schema);
  await sql(`CREATE SCHEMA "${schema}"`);
  const pool = new pg.Pool({ connectionString: DATABASE_URL, max: 10 });
  pool.on('error', () => {});
  pools.push(pool);
  const store = new PGStore({ pool, schemaName: schema, createTableIfMissing: true, pruneSessionInterval: false, ...options });
  pgStores.push(store);
  return { store, table: `"${schema}"."session"` };
}

after(async () => {
  for (const store of pgStores) store.close();
  await Promise.all(pools.map((pool) => pool.end()));
  if (admin) {
    for (const schema of schemas) await sql(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
    await admin.end();
  }
});

// ---- the conformance kit, in child processes ----------------------------------------

const kitStores: Record<string, Omit<StoreConformanceOptions, 'skip'> & { skip: string | false }> = {
  'fromExpressStore(connect-redis 8 on ioredis)': {
    skip: redisSkipped,
    shortTtlMs: SECOND_GRANULARITY_TTL,
    create: () => fromExpressStore(new ConnectRedis8Store({ client: ioredisClient(), prefix: `${PREFIX}kit-io:` })),
  },
  'fromExpressStore(connect-redis 8 on node-redis 4)': {
    skip: redisSkipped,
    shortTtlMs: SECOND_GRANULARITY_TTL,
    create: async () => {
      const client = await connected(createClient4({ url: REDIS_URL }));
      return fromExpressStore(new ConnectRedis8Store({ client, prefix: `${PREFIX}kit-nr4:` }));
    },
  },
  // connect-redis 10 passes its ttl in node-redis 5's SET option shape; node-redis 4 would drop it and keep the key forever.
  'fromExpressStore(connect-redis 10 on node-redis 5)': {
    skip: redisSkipped,
    shortTtlMs: SECOND_GRANULARITY_TTL,
    create: async () => {
      const client = await connected(createClient5({ url: REDIS_URL }));
      return fromExpressStore(new ConnectRedis10Store({ client, prefix: `${PREFIX}kit-nr5:` }));
    },
  },
  'fromExpressStore(connect-redis 10 on node-redis 6)': {
    skip: redisSkipped,
    shortTtlMs: SECOND_GRANULARITY_TTL,
    create: async () => {
      const client = await connected(createClient6({ url: REDIS_URL }));
      return fromExpressStore(new ConnectRedis10Store({ client, prefix: `${PREFIX}kit-nr6:` }));
    },
  },
  'fromExpressStore(connect-pg-simple)': {
    skip: postgresSkipped,
    shortTtlMs: SECOND_GRANULARITY_TTL,
    create: async () => fromExpressStore((await newPgStore('kit')).store),
  },
  // It compares cookie.expires with Date.now() on every get: expiry to the millisecond, so the kit's default ttl.
  "fromExpressStore(express-session's MemoryStore)": {
    skip: false,
    create: () => fromExpressStore(new expressSession.MemoryStore()),
  },
};

/**
 * The kit's cases that save hand-written JSON (escapes where JSON.stringify writes
 * characters, spacing, `0.10`, `-0`, `1E-7`) and want that very text back. An express
 * store keeps the parsed object, so `load` answers in JSON.stringify's spelling. The
 * middleware only ever saves JSON.stringify's output, whose text comes back exactly:
 * the same cases check that first, and pass it.
 */
const RESPELLED = [
  'returns exactly the saved string for Unicode text',
  'returns exactly the saved string for keys and values with lone surrogates, U+0000 and U+FFFF',
  'returns exactly the saved string for numbers such as 1e21, -0 and 0.1',
];

const KIT_ENV = 'KOA_SESSION_STORE_EXPRESS_KIT';
const kitChild = process.env[KIT_ENV];

if (kitChild !== undefined) {
  const selected = kitStores[kitChild];
  if (!selected) throw new Error(`koa-session-store: unknown express kit run ${kitChild}`);
  runStoreConformance(kitChild, selected);
} else {
  describe('the conformance kit on fromExpressStore', () => {
    const file = fileURLToPath(import.meta.url);
    for (const [name, { skip }] of Object.entries(kitStores)) {
      // Started at once, so the children's ttl waits overlap.
      const outcome = skip ? undefined : runKit(file, name);
      it(`passes every case on ${name} but the three about hand-written JSON's spelling, and logs that there is no patch`, { skip }, async () => {
        const { passed, failed, output } = (await outcome) as KitOutcome;
        assert.deepEqual(failed.sort(), [...RESPELLED].sort(), output);
        for (const needed of [
          'expires an entry saved with a ttl after it, while one saved without a ttl stays',
          'extends the life of an entry on touch, until the new ttl has passed',
          'does not create an entry on touch of a missing id',
          'returns exactly the saved string for a value of about 1 MB',
          'returns exactly the saved string for __proto__, constructor and prototype keys and pollutes no prototype',
          'lands all of 100 concurrent saves to different ids',
        ]) {
          assert.ok(passed.includes(needed), `"${needed}" must run and pass:\n${output}`);
        }
        assert.match(output, /fromExpressStore\(\w+\): no atomic patch/);
      });
    }
  });
}

interface KitOutcome {
  passed: string[];
  failed: string[];
  output: string;
}

/** Runs the kit on one store in a child process (with the package's debug output on) and reads its cases' results. */
function runKit(file: string, name: string): Promise<KitOutcome> {
  return new Promise((resolve, reject) => {
    const env: NodeJS.ProcessEnv = { ...process.env, [KIT_ENV]: name, NODE_DEBUG: 'koa-session-store' };
    // Without this the child would talk to our test runner's protocol instead of printing TAP.
    delete env.NODE_TEST_CONTEXT;
    const child = spawn(process.execPath, ['--import', 'tsx', '--test-reporter=tap', file], { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => (output += chunk));
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => (output += chunk));
    child.once('error', reject);
    child.once('close', () => {
      const passed: string[] = [];
      const failed: string[] = [];
      // The kit's cases are nested one level inside its suite.
      for (const match of output.matchAll(/^ {4}(not ok|ok) \d+ - (.*)$/gm)) {
        (match[1] === 'ok' ? passed : failed).push(match[2] as string);
      }
      resolve({ passed, failed, output });
    });
  });
}

// ---- what only the adapter does ----------------------------------------------------------

const newSid = (): string => `x${Math.random().toString(36).slice(2)}${Date.now().toString(36)}`;

/** A connect-redis major on a client it accepts, for the suite that looks at what it writes. */
interface ConnectRedisCase {
  readonly name: string;
  /** Part of the key prefix, so the cases never share keys. */
  readonly key: string;
  /** A store on a new, connected client; `ttl` is connect-redis' own option, in seconds. */
  store(options: { prefix: string; ttl?: number }): Promise<ExpressSessionStore>;
  /** A store whose client has quit. */
  closed(prefix: string): Promise<ExpressSessionStore>;
  /** Whether an error is the one the client gives for a command after quit. */
  isClosedError(error: unknown): boolean;
}

const connectRedisCases: ConnectRedisCase[] = [
  {
    name: 'connect-redis 8 on ioredis',
    key: 'cr8',
    store: async (options) => new ConnectRedis8Store({ client: ioredisClient(), ...options }),
    closed: async (prefix) => {
      const client = ioredisClient();
      await client.quit();
      return new ConnectRedis8Store({ client, prefix });
    },
    isClosedError: (error) => error instanceof Error && error.message === 'Connection is closed.',
  },
  {
    name: 'connect-redis 10 on node-redis 5',
    key: 'cr10',
    store: async (options) => new ConnectRedis10Store({ client: await connected(createClient5({ url: REDIS_URL })), ...options }),
    closed: async (prefix) => {
      const client = createClient5({ url: REDIS_URL });
      await client.connect();
      await client.quit();
      return new ConnectRedis10Store({ client, prefix });
    },
    isClosedError: (error) => error instanceof ClientClosedError,
  },
];

if (kitChild === undefined) {
  for (const { name, key, store, closed, isClosedError } of connectRedisCases) {
    describe(`fromExpressStore on ${name}, as Redis sees it`, { skip: redisSkipped }, () => {
      const prefix = `${PREFIX}rows-${key}:`;
      let adapter: SessionStore;
      let limited: SessionStore;

      before(async () => {
        adapter = fromExpressStore(await store({ prefix }));
        limited = fromExpressStore(await store({ prefix, ttl: 3600 }));
      });

      const record = async (sid: string): Promise<{ value: Record<string, unknown> | null; pttl: number }> => {
        const [value, pttl] = await Promise.all([redis().get(prefix + sid), redis().pttl(prefix + sid)]);
        return { value: value === null ? null : (JSON.parse(value) as Record<string, unknown>), pttl };
      };

      it('stores the data with a cookie field like express-session’s, and Redis expires it after the ttl, in whole seconds', async () => {
        const sid = newSid();
        const before = Date.now();
        await settle(adapter.save(sid, '{"user":"ada","n":[1,2]}', 60_000));
        const { value, pttl } = await record(sid);
        assert.deepEqual(Object.keys(value ?? {}), ['cookie', 'user', 'n']);
        const cookie = value?.cookie as { originalMaxAge: unknown; expires: string };
        assert.deepEqual(Object.keys(cookie), ['originalMaxAge', 'expires'], 'maxAge is a getter, as on express-session’s Cookie, so it is not stored');
        assert.equal(cookie.originalMaxAge, 60_000);
        const expires = Date.parse(cookie.expires);
        assert.ok(expires >= before + 60_000 && expires <= Date.now() + 60_000, `expires ${cookie.expires}`);
        assert.ok(pttl > 59_000 && pttl <= 60_000, `PTTL ${pttl}`);
        assert.equal(await settle(adapter.load(sid)), '{"user":"ada","n":[1,2]}');
      });

      it('rounds a ttl up to whole seconds, as connect-redis sends EX', async () => {
        const sid = newSid();
        await settle(adapter.save(sid, '{}', 1_200));
        const { pttl } = await record(sid);
        assert.ok(pttl > 1_200 && pttl <= 2_000, `PTTL ${pttl}`);
      });

      it('without a ttl, stores a browser-session cookie and connect-redis applies its own ttl (one day, or its ttl option)', async () => {
        const sid = newSid();
        await settle(adapter.save(sid, '{"forever":true}'));
        const stored = await record(sid);
        assert.deepEqual(stored.value?.cookie, { originalMaxAge: null, expires: null });
        assert.ok(stored.pttl > 86_399_000 && stored.pttl <= 86_400_000, `PTTL ${stored.pttl}`);
        const other = newSid();
        await settle(limited.save(other, '{"forever":true}'));
        const pttl = (await record(other)).pttl;
        assert.ok(pttl > 3_599_000 && pttl <= 3_600_000, `PTTL ${pttl}`);
      });

      it('touches with an object holding only cookie: connect-redis resets the key’s ttl and leaves the value as it was', async () => {
        const sid = newSid();
        await settle(adapter.save(sid, '{"user":"ada"}', 60_000));
        const saved = await redis().get(prefix + sid);
        await settle(adapter.touch?.(sid, 600_000));
        const { pttl } = await record(sid);
        assert.ok(pttl > 599_000 && pttl <= 600_000, `PTTL ${pttl}`);
        assert.equal(await redis().get(prefix + sid), saved);
        assert.equal(await settle(adapter.load(sid)), '{"user":"ada"}');
      });

      it('reads a session express-session wrote, without its cookie field', async () => {
        const sid = newSid();
        const written = {
          cookie: { originalMaxAge: 86_400_000, expires: new Date(Date.now() + 86_400_000).toISOString(), secure: false, httpOnly: true, path: '/' },
          passport: { user: 42 },
          views: 3,
        };
        await redis().set(prefix + sid, JSON.stringify(written), 'EX', 60);
        assert.equal(await settle(adapter.load(sid)), '{"passport":{"user":42},"views":3}');
      });

      it('removes the key', async () => {
        const sid = newSid();
        await settle(adapter.save(sid, '{"a":1}', 60_000));
        await settle(adapter.remove(sid));
        assert.equal(await redis().exists(prefix + sid), 0);
      });

      it('refuses data with a top-level key "cookie", which express-session stores keep for themselves, and writes nothing', async () => {
        const sid = newSid();
        await assert.rejects(settle(adapter.save(sid, '{"cookie":"accepted"}', 60_000)), {
          name: 'TypeError',
          message: /top-level key "cookie".*rename the key/,
        });
        assert.equal(await redis().exists(prefix + sid), 0);
        await assert.rejects(settle(adapter.save(sid, '[1,2]', 60_000)), /can only save a JSON object/);
      });

      it('rejects with the client’s own error when Redis cannot be reached', async () => {
        const broken = fromExpressStore(await closed(prefix));
        for (const operation of [() => broken.load('a'), () => broken.save('a', '{}', 1000), () => broken.remove('a'), () => broken.touch?.('a', 1000)]) {
          await assert.rejects(settle(operation()), isClosedError);
        }
      });
    });
  }

  describe('fromExpressStore on connect-pg-simple, as PostgreSQL sees it', { skip: postgresSkipped }, () => {
    let adapter: SessionStore;
    let table: string;
    let limited: SessionStore;

    before(async () => {
      const made = await newPgStore('rows');
      adapter = fromExpressStore(made.store);
      table = made.table;
      limited = fromExpressStore((await newPgStore('rows_ttl', { ttl: 3600 })).store);
    });

    const row = async (sid: string, from = table): Promise<{ sess: Record<string, unknown>; ttl: number } | undefined> =>
      (
        await sql<{ sess: Record<string, unknown>; ttl: number }>(
          `SELECT sess, extract(epoch FROM expire - localtimestamp)::float8 AS ttl FROM ${from} WHERE sid = $1`,
          [sid],
        )
      )[0];

    it('stores the data with a cookie field in the json column, and an expire rounded up to the second', async () => {
      const sid = newSid();
      await settle(adapter.save(sid, '{"user":"ada"}', 60_000));
      const stored = await row(sid);
      assert.deepEqual(Object.keys(stored?.sess ?? {}), ['cookie', 'user']);
      assert.equal((stored?.sess.cookie as { originalMaxAge: number }).originalMaxAge, 60_000);
      assert.ok(stored !== undefined && stored.ttl > 59 && stored.ttl <= 61, `expires in ${stored?.ttl} s`);
      assert.equal(await settle(adapter.load(sid)), '{"user":"ada"}');
    });

    it('without a ttl, lets connect-pg-simple apply its own (one day, or its ttl option)', async () => {
      const sid = newSid();
      await settle(adapter.save(sid, '{"forever":true}'));
      const stored = await row(sid);
      assert.deepEqual(stored?.sess.cookie, { originalMaxAge: null, expires: null });
      assert.ok(stored !== undefined && stored.ttl > 86_398 && stored.ttl <= 86_401, `expires in ${stored?.ttl} s`);
      const other = newSid();
      await settle(limited.save(other, '{"forever":true}'));
      const limitedRow = (await sql<{ ttl: number }>(
        `SELECT extract(epoch FROM expire - localtimestamp)::float8 AS ttl FROM "kss_${tag}_express_rows_ttl"."session" WHERE sid = $1`,
        [other],
      ))[0];
      assert.ok(limitedRow !== undefined && limitedRow.ttl > 3598 && limitedRow.ttl <= 3601, `expires in ${limitedRow?.ttl} s`);
    });

    it('touches by moving expire only, leaving sess as it was', async () => {
      const sid = newSid();
      await settle(adapter.save(sid, '{"user":"ada"}', 60_000));
      const saved = await row(sid);
      await settle(adapter.touch?.(sid, 600_000));
      const touched = await row(sid);
      assert.deepEqual(touched?.sess, saved?.sess);
      assert.ok(touched !== undefined && touched.ttl > 599 && touched.ttl <= 601, `expires in ${touched?.ttl} s`);
    });

    it('reads a session express-session wrote, without its cookie field', async () => {
      const sid = newSid();
      const written = { cookie: { originalMaxAge: null, expires: null, httpOnly: true, path: '/' }, flash: { info: ['hi'] } };
      await sql(`INSERT INTO ${table} (sid, sess, expire) VALUES ($1, $2, localtimestamp + interval '1 hour')`, [sid, JSON.stringify(written)]);
      assert.equal(await settle(adapter.load(sid)), '{"flash":{"info":["hi"]}}');
    });

    it('rejects with the driver’s own error, such as a table that does not exist', async () => {
      const broken = fromExpressStore(new PGStore({ pool: pools[0], schemaName: `kss_${tag}_absent`, createTableIfMissing: false, pruneSessionInterval: false }));
      await assert.rejects(settle(broken.load('a')), (error: Error & { code?: string }) => error instanceof pg.DatabaseError && error.code === '42P01');
      await assert.rejects(settle(broken.save('a', '{}', 1000)), (error: Error & { code?: string }) => error instanceof pg.DatabaseError && error.code === '42P01');
    });
  });

  describe('fromExpressStore with any express-session store', () => {
    it("has touch when the store has one and the option allows it, so the middleware saves whole sessions otherwise", () => {
      const memory = new expressSession.MemoryStore();
      assert.equal(typeof fromExpressStore(memory).touch, 'function');
      assert.equal(fromExpressStore(memory, { touch: false }).touch, undefined);
      const { touch: _unused, ...withoutTouch } = callbackStore();
      void _unused;
      assert.equal(fromExpressStore(withoutTouch).touch, undefined);
      assert.equal('patch' in fromExpressStore(memory), false);
    });

    it('refuses what is not an express-session store, and bad options, naming them', () => {
      assert.throws(() => fromExpressStore(null as never), { name: 'TypeError', message: /^koa-session-store: fromExpressStore needs an express-session store.*got null/ });
      assert.throws(() => fromExpressStore({ get() {}, set() {} } as never), /has no destroy\(sid, …, callback\) method/);
      assert.throws(() => fromExpressStore({ ...callbackStore(), touch: 1 } as never), /store\.touch must be a function/);
      assert.throws(() => fromExpressStore(callbackStore(), { touch: 'yes' as never }), /option touch is invalid: yes/);
    });

    it('settles on the first callback, whether it comes synchronously, late or twice', async () => {
      const store = callbackStore();
      const adapter = fromExpressStore(store);
      await settle(adapter.save('s', '{"a":1}', 1000));
      assert.equal(await settle(adapter.load('s')), '{"a":1}');
      const first = { cookie: { originalMaxAge: null }, first: true };
      store.get = (_sid, callback) => {
        callback(null, first);
        callback(new Error('ignored'));
      };
      assert.equal(await settle(adapter.load('s')), '{"first":true}');
    });

    it('rejects with exactly what the store calls back with, throws or rejects with', async () => {
      const store = callbackStore();
      const adapter = fromExpressStore(store);
      const error = new Error('down');
      store.get = (_sid, callback) => setImmediate(() => callback(error));
      await assert.rejects(settle(adapter.load('s')), (thrown) => thrown === error);
      store.set = () => {
        throw error;
      };
      await assert.rejects(settle(adapter.save('s', '{}', 1000)), (thrown) => thrown === error);
      // A promise-returning store that rejects without calling back must not leave the request hanging.
      store.destroy = () => Promise.reject(error);
      await assert.rejects(settle(adapter.remove('s')), (thrown) => thrown === error);
      const notAnError = { code: 'E_STORE' };
      store.touch = (_sid, _session, callback) => callback?.(notAnError);
      await assert.rejects(settle(adapter.touch?.('s', 1000)), (thrown) => thrown === notAnError);
    });

    it('keeps a __proto__ key as data and pollutes nothing', async () => {
      const adapter = fromExpressStore(new expressSession.MemoryStore());
      const json = '{"__proto__":{"polluted":"yes"},"a":1}';
      await settle(adapter.save('p', json, 60_000));
      assert.equal(await settle(adapter.load('p')), json);
      assert.equal(({} as { polluted?: unknown }).polluted, undefined);
    });

    it('names fromExpressStore when an express-session store is passed to session() as it is', () => {
      assert.throws(() => session({ store: new expressSession.MemoryStore() as never }), {
        name: 'TypeError',
        message:
          'koa-session-store: option store has no save(sid) method; it looks like an express-session store (get, set, destroy): wrap it with fromExpressStore(store)',
      });
      assert.throws(() => session({ store: { load() {}, remove() {} } as never }), {
        message: 'koa-session-store: option store has no save(sid) method; a store needs load, save and remove',
      });
      if (!redisSkipped) {
        assert.throws(() => session({ store: new ConnectRedis8Store({ client: redis(), prefix: PREFIX }) as never }), /wrap it with fromExpressStore\(store\)/);
        // A client that never connects: the store is only looked at.
        const idle = createClient5({ url: REDIS_URL });
        assert.throws(() => session({ store: new ConnectRedis10Store({ client: idle, prefix: PREFIX }) as never }), /wrap it with fromExpressStore\(store\)/);
      }
    });
  });
}

/** An express-session store over a Map, written the old way: callbacks, session objects, no promises. */
function callbackStore(): Required<ExpressSessionStore> {
  const rows = new Map<string, string>();
  return {
    get(sid, callback) {
      const row = rows.get(sid);
      callback(null, row === undefined ? null : JSON.parse(row));
    },
    set(sid, sessionObject, callback) {
      rows.set(sid, JSON.stringify(sessionObject));
      callback?.();
    },
    destroy(sid, callback) {
      rows.delete(sid);
      callback?.();
    },
    touch(_sid, _sessionObject, callback) {
      callback?.();
    },
  };
}
