// A store failure gives a 503 whose error an application logs the usual way
// (`app.on('error', e => log(util.inspect(e)))`): nothing of that text may be
// a session id, a store key, a cookie value or session data, whatever the
// store's driver hangs on its errors. Checked on a hand-made store that puts
// everything on its error, and on the real Redis, PostgreSQL and SQLite.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import util from 'node:util';
import { after, describe, it } from 'node:test';
import Database from 'better-sqlite3';
import { Redis } from 'ioredis';
import pg from 'pg';
import { session } from '../src/index.js';
import type { SessionStore } from '../src/index.js';
import { PostgresStore } from '../src/postgres.js';
import { RedisStore } from '../src/redis.js';
import { SqliteStore } from '../src/sqlite.js';
import { cookieHeader, cookieValue, listen, makeApp } from './support/http.js';
import { DATABASE_URL, postgresSkip, REDIS_URL, redisSkip, runTag } from './support/services.js';
import { deleteKeys, RUN_PREFIX } from './stores/redis-helpers.js';

const SECRET = 'top-secret-session-data';
const tag = runTag();

/**
 * Drives a login (which writes `SECRET`), then a request that changes the session after
 * `sabotage` ran, and returns the 503's logged text and what must not appear in it.
 */
async function failedWrite(store: SessionStore, sabotage: (sid: string) => Promise<void>) {
  const app = makeApp();
  app.use(session({ store }));
  app.use(async (ctx) => {
    if (ctx.path === '/login') ctx.session.secret = SECRET;
    if (ctx.path === '/change') {
      await sabotage(ctx.sessionId);
      ctx.session.more = `${SECRET}-more`;
    }
    ctx.body = 'ok';
  });
  const { agent, errors } = await listen(app);
  const login = await agent.get('/login').expect(200);
  const sid = (cookieValue(login, 'koa:sess') as string).split('.')[0] as string;
  const res = await agent.get('/change').set('Cookie', cookieHeader(login)).expect(503);
  assert.equal(errors.length, 1);
  const error = errors[0] as Error;
  const logged = `${util.inspect(error, { depth: Infinity, showHidden: true })}\n${String(error.stack)}\n${res.text}`;
  return { error, logged, forbidden: [sid, cookieValue(login, 'koa:sess') as string, cookieValue(login, 'koa:sess.sig') as string, SECRET] };
}

/** The `code` of each error in the `cause` chain below `error`. */
function codesIn(error: Error): unknown[] {
  const codes: unknown[] = [];
  for (let cause = error.cause as { code?: unknown; cause?: unknown } | undefined; cause; cause = cause.cause as typeof cause) codes.push(cause.code);
  return codes;
}

function assertClean(logged: string, forbidden: readonly string[]): void {
  for (const secret of forbidden) assert.ok(!logged.includes(secret), 'the logged error must not contain an id, cookie, key or session data');
}

describe('store errors never carry ids or data', () => {
  it('takes the command, its arguments and row details off a store error, and cuts the id and data out of messages', async () => {
    const map = new Map<string, string>();
    const store: SessionStore = {
      load: async (sid) => map.get(sid),
      save: async (sid, json) => {
        if (map.has(sid)) {
          const cause = Object.assign(new Error(`row ${sid} refused`), { detail: `Failing row contains (${sid}, ${json})` });
          throw Object.assign(new Error(`EVALSHA failed for key sess:${sid}`), { command: { name: 'set', args: [`sess:${sid}`, json] }, code: 'EFAIL', cause });
        }
        map.set(sid, json);
      },
      remove: async (sid) => void map.delete(sid),
    };
    const { error, logged, forbidden } = await failedWrite(store, async () => {});
    assertClean(logged, forbidden);
    const cause = error.cause as Error & { code?: string; command?: unknown; cause?: Error & { detail?: string } };
    assert.equal(cause.code, 'EFAIL', 'what failed stays: the code');
    assert.equal(cause.command, undefined);
    assert.match(cause.message, /^EVALSHA failed for key sess:\[redacted\]$/);
    assert.equal(cause.cause?.detail, undefined);
    assert.match(cause.cause?.message ?? '', /^row \[redacted\] refused$/);
  });

  it('turns a rejected string or object into an Error that shows no content', async () => {
    for (const rejection of [`sid in a string`, { sid: 'x', json: SECRET }]) {
      const map = new Map<string, string>();
      const store: SessionStore = {
        load: async (sid) => map.get(sid),
        save: async (sid, json) => {
          if (map.has(sid)) throw typeof rejection === 'string' ? `${rejection} ${sid} ${json}` : rejection;
          map.set(sid, json);
        },
        remove: async (sid) => void map.delete(sid),
      };
      const { error, logged, forbidden } = await failedWrite(store, async () => {});
      assertClean(logged, forbidden);
      assert.ok(error.cause instanceof Error);
    }
  });
});

const redisSkipReason = await redisSkip();
describe('RedisStore errors never carry ids or data', { skip: redisSkipReason }, () => {
  const prefix = `${RUN_PREFIX}redact:`;
  const raw = redisSkipReason ? undefined : new Redis(REDIS_URL);
  const client = redisSkipReason ? undefined : new Redis(REDIS_URL);
  after(async () => {
    if (raw === undefined || client === undefined) return;
    await deleteKeys(raw, prefix);
    await Promise.all([raw.quit(), client.quit()]);
  });

  it('gives a 503 for a WRONGTYPE patch whose logged error names neither the key nor the JSON', async () => {
    const store = new RedisStore({ client: client as Redis, prefix });
    const { error, logged, forbidden } = await failedWrite(store, async (sid) => {
      await raw?.del(prefix + sid);
      await raw?.lpush(prefix + sid, 'not a session');
    });
    assertClean(logged, [...forbidden, prefix]);
    assert.match(logged, /WRONGTYPE/, 'the cause still says what failed');
    assert.equal((error as { status?: number }).status, 503);
  });
});

const postgresSkipReason = await postgresSkip();
describe('PostgresStore errors never carry ids or data', { skip: postgresSkipReason }, () => {
  const schema = `kss_${tag}_redact`;
  const pool = postgresSkipReason ? undefined : new pg.Pool({ connectionString: DATABASE_URL, max: 4 });
  pool?.on('error', () => {});
  after(async () => {
    await pool?.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
    await pool?.end();
  });

  it('gives a 503 for a patch refused by a CHECK constraint, without the failing row PostgreSQL quotes in its detail', async () => {
    const store = new PostgresStore({ pool: pool as pg.Pool, schema });
    const { error, logged, forbidden } = await failedWrite(store, async () => {
      await pool?.query(`ALTER TABLE "${schema}".sessions ADD CONSTRAINT refuse_writes CHECK (false) NOT VALID`);
    });
    assertClean(logged, forbidden);
    assert.match(logged, /violates check constraint/);
    assert.ok(codesIn(error).includes('23514'), 'the cause chain still has the SQLSTATE');
  });
});

describe('SqliteStore errors never carry ids or data', () => {
  const folder = mkdtempSync(path.join(os.tmpdir(), 'kss-redact-'));
  const db = new Database(path.join(folder, 'sessions.db'));
  after(() => {
    db.close();
    rmSync(folder, { recursive: true, force: true });
  });

  it('gives a 503 for a patch a trigger aborts, whose logged error holds no id or data', async () => {
    const store = new SqliteStore({ db });
    const { error, logged, forbidden } = await failedWrite(store, async () => {
      db.exec(`CREATE TRIGGER IF NOT EXISTS refuse_writes BEFORE UPDATE ON sessions BEGIN SELECT RAISE(ABORT, 'writes refused'); END`);
    });
    assertClean(logged, forbidden);
    assert.match(logged, /writes refused/);
    assert.ok(codesIn(error).includes('SQLITE_CONSTRAINT_TRIGGER'), 'the cause chain still has the SQLite code');
  });
});
