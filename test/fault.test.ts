// Fault tests (issue 4): under steady load, the store's server goes away and
// comes back. Every request must get a 2xx or a 503, the 503s only around the
// outage, no client may see another session id or a cleared cookie, the app
// must recover by itself, and no increment answered 2xx may be lost: each
// session's counter, read from the server with a raw client, equals the
// client's own count of 2xx answers.
import assert from 'node:assert/strict';
import { describe, it, test } from 'node:test';
import type { TestContext } from 'node:test';
import { Redis } from 'ioredis';
import mysql from 'mysql2/promise';
import pg from 'pg';
import { MemoryStore } from '../src/index.js';
import type { SessionStore } from '../src/index.js';
import { settle } from '../src/store.js';
import { MysqlStore } from '../src/stores/mysql.js';
import { PostgresStore } from '../src/stores/postgres.js';
import { RedisStore } from '../src/stores/redis.js';
import { checkFaultRun, serveFaultApp, startLoad } from './support/fault.js';
import { killThreads, MYSQL_URL, mysqlSkip, trackedPool } from './support/mysql.js';
import { startRedis } from './support/redis-server.js';
import { DATABASE_URL, postgresSkip, redisSkip, runTag } from './support/services.js';

const tag = runTag();
const STORE_TIMEOUT = 1000;
const LOAD = { sessions: 50, rate: 175, durationMs: 20_000 } as const;
/** When the fault strikes, ms after the load starts. */
const FAULT_AT = 5000;
/** The 503 window's slack beyond storeTimeout and the reconnect backoff: the machine is shared and slow at times. */
const MARGIN_MS = 2500;

/** The stored session's `count`, read from its JSON text (undefined when missing or unreadable). */
function countOf(json: string | null | undefined): number | undefined {
  if (typeof json !== 'string') return undefined;
  const { count } = JSON.parse(json) as { count?: unknown };
  return typeof count === 'number' ? count : undefined;
}

test('RedisStore: a Redis stopped for 3 s and restarted on its own data loses no acknowledged write', { timeout: 60_000, skip: await redisSkip() }, async (t) => {
  // fsync on every write, so a write Redis acknowledged is on disk when it stops.
  const server = await startRedis({ appendonly: true, args: ['--appendfsync', 'always'] });
  t.after(() => server.stop());
  const maxBackoff = 500;
  const client = new Redis({
    host: server.host,
    port: server.port,
    // Reconnect fast, and fail queued commands after one failed attempt instead of holding them for the outage.
    retryStrategy: (times) => Math.min(times * 100, maxBackoff),
    maxRetriesPerRequest: 1,
  });
  let clientErrors = 0;
  client.on('error', () => {
    clientErrors += 1;
  });
  t.after(() => client.disconnect());
  const prefix = `koa:sess:${tag}:fault:`;
  const store = new RedisStore({ client, prefix });
  const url = await serveFaultApp(store, STORE_TIMEOUT);

  const run = startLoad({ url, ...LOAD });
  await run.until(FAULT_AT);
  const start = run.now();
  await server.halt(); // SIGTERM: Redis finishes what it has and exits
  await run.until(run.now() + 3000);
  await server.restart(); // same port, same folder: it reloads its append-only file
  const end = run.now();
  const result = await run.done;
  t.diagnostic(`ioredis reported ${clientErrors} connection error(s)`);

  const reader = new Redis({ host: server.host, port: server.port, lazyConnect: true });
  t.after(() => reader.disconnect());
  await reader.connect();
  await checkFaultRun(t, result, { start, end, storeTimeout: STORE_TIMEOUT, backoffMs: maxBackoff, marginMs: MARGIN_MS }, async (sids) => {
    const values = sids.length === 0 ? [] : await reader.mget(sids.map((sid) => prefix + sid));
    return new Map(sids.map((sid, n) => [sid, countOf(values[n])]));
  });
  // Nothing can be served from a Redis that is down for 3 s: without 503s the fault never reached the app.
  assert.ok(result.samples.some((sample) => sample.status === 503), 'no request failed while Redis was down');
});

test('PostgresStore: its connections terminated twice under load, it loses no acknowledged write', { timeout: 60_000, skip: await postgresSkip() }, async (t) => {
  const schema = `kss_${tag}_fault`;
  // Only connections with this name are terminated, so no other test's connections are touched.
  const applicationName = `kss_fault_${tag}`;
  const pool = new pg.Pool({ connectionString: DATABASE_URL, max: 10, application_name: applicationName });
  let poolErrors = 0;
  pool.on('error', () => {
    // An idle client whose backend was terminated: the pool drops it and opens a new one when needed.
    // This listener covers idle clients only; one the store has checked out is the store's to guard,
    // so a terminated backend must never surface here as an uncaught 'error' event.
    poolErrors += 1;
  });
  const admin = new pg.Client({ connectionString: DATABASE_URL, application_name: `${applicationName}_admin` });
  await admin.connect();
  t.after(async () => {
    await admin.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
    await admin.end();
    await pool.end();
  });
  const store = new PostgresStore({ pool, schema });
  const url = await serveFaultApp(store, STORE_TIMEOUT);

  const terminate = async (): Promise<number> => {
    const { rows } = await admin.query<{ terminated: boolean }>(
      'SELECT pg_terminate_backend(pid) AS terminated FROM pg_stat_activity WHERE application_name = $1 AND pid <> pg_backend_pid()',
      [applicationName],
    );
    return rows.filter((row) => row.terminated).length;
  };

  const run = startLoad({ url, ...LOAD });
  await run.until(FAULT_AT);
  const start = run.now();
  const first = await terminate();
  await run.until(start + 1000);
  const second = await terminate();
  const end = run.now();
  const result = await run.done;
  t.diagnostic(`terminated ${first} then ${second} backend(s); the pool reported ${poolErrors} error(s)`);
  if (first + second === 0) throw new Error('no connection of the store was terminated: the fault never happened');

  await checkFaultRun(t, result, { start, end, storeTimeout: STORE_TIMEOUT, backoffMs: 0, marginMs: MARGIN_MS }, async (sids) => {
    const { rows } = await admin.query<{ sid: string; data: string }>(`SELECT sid, data FROM "${schema}".sessions WHERE sid = ANY($1)`, [sids]);
    const bySid = new Map(rows.map((row) => [row.sid, row.data]));
    return new Map(sids.map((sid) => [sid, countOf(bySid.get(sid))]));
  });
});

test('MysqlStore: its connections killed twice under load, it loses no acknowledged write', { timeout: 60_000, skip: await mysqlSkip() }, async (t) => {
  const table = `kss_${tag}_fault`;
  // The store's pool remembers the thread id of every connection it opens, so only those are killed.
  const { pool, threadIds } = trackedPool({ connectionLimit: 10 });
  const admin = mysql.createPool({ uri: MYSQL_URL, connectionLimit: 1 });
  t.after(async () => {
    await admin.query(`DROP TABLE IF EXISTS \`${table}\``);
    await admin.end();
    await pool.end();
  });
  const store = new MysqlStore({ pool, table });
  const url = await serveFaultApp(store, STORE_TIMEOUT);

  const run = startLoad({ url, ...LOAD });
  await run.until(FAULT_AT);
  const start = run.now();
  // KILL CONNECTION from a connection of the test's own: statements in flight are cut off and idle pool connections die.
  const first = await killThreads(admin, threadIds);
  await run.until(start + 1000);
  const second = await killThreads(admin, threadIds);
  const end = run.now();
  const result = await run.done;
  t.diagnostic(`killed ${first} then ${second} connection(s); the pool opened ${threadIds.size} in all`);
  if (first + second === 0) throw new Error('no connection of the store was killed: the fault never happened');

  await checkFaultRun(t, result, { start, end, storeTimeout: STORE_TIMEOUT, backoffMs: 0, marginMs: MARGIN_MS }, async (sids) => {
    if (sids.length === 0) return new Map();
    const [rows] = await admin.query(`SELECT sid, data FROM \`${table}\` WHERE sid IN (?)`, [sids]);
    const bySid = new Map((rows as { sid: Buffer; data: string }[]).map((row) => [row.sid.toString(), row.data]));
    return new Map(sids.map((sid) => [sid, countOf(bySid.get(sid))]));
  });
});

/**
 * A MemoryStore whose `patch` misbehaves while `active()` says so: it writes
 * and then fails as a lost connection does, writes and then fails as an error
 * reply does (which would be a lie: an error reply means nothing was written),
 * or answers without writing (a lost acknowledged write).
 */
function misbehavingStore(fault: 'connection lost after the write' | 'error reply after the write' | 'acknowledged, not written', active: () => boolean): SessionStore {
  const memory = new MemoryStore();
  return {
    load: async (sid) => memory.load(sid) ?? null,
    save: async (sid, json, ttlMs) => memory.save(sid, json, ttlMs),
    remove: async (sid) => memory.remove(sid),
    touch: async (sid, ttlMs) => memory.touch(sid, ttlMs),
    patch: async (sid, patch, ttlMs) => {
      if (!active() || fault === 'acknowledged, not written') {
        if (!active()) memory.patch(sid, patch, ttlMs);
        return true;
      }
      memory.patch(sid, patch, ttlMs);
      throw new Error(fault === 'connection lost after the write' ? 'Connection is closed.' : 'ERR wrong number of arguments');
    },
  };
}

describe('the fault checker itself (a MemoryStore made to misbehave for 0.5 s)', () => {
  const SHORT = { sessions: 5, rate: 50, durationMs: 2000, graceMs: 2000 } as const;
  const run = async (t: TestContext, fault: Parameters<typeof misbehavingStore>[0]) => {
    let active = false;
    const store = misbehavingStore(fault, () => active);
    const url = await serveFaultApp(store, STORE_TIMEOUT);
    const load = startLoad({ url, ...SHORT });
    await load.until(500);
    active = true;
    await load.until(1000);
    active = false;
    const result = await load.done;
    return checkFaultRun(t, result, { start: 500, end: 1000, storeTimeout: STORE_TIMEOUT, backoffMs: 0, marginMs: 500 }, async (sids) => {
      const stored = await Promise.all(sids.map((sid) => settle(store.load(sid))));
      return new Map(sids.map((sid, n) => [sid, countOf(stored[n])]));
    });
  };

  it('passes a write that landed although its request failed with a lost connection, and counts it as ambiguous', async (t) => {
    const figures = await run(t, 'connection lost after the write');
    assert.ok(figures.ambiguous > 0, 'no ambiguous 503 was seen');
  });

  it('fails a write that landed although the store reported an error reply', async (t) => {
    await assert.rejects(run(t, 'error reply after the write'), /no earlier attempt was a write of unknown outcome/);
  });

  it('fails a write answered 2xx but never stored', async (t) => {
    await assert.rejects(run(t, 'acknowledged, not written'), /count \d+, expected \d+/);
  });
});
