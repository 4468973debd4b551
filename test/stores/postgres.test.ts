// PostgresStore against the store contract on the real server, then what only
// PostgreSQL has: rows checked with raw SQL, server-side expiry, jsonb patches
// (and their fallback for JSON jsonb cannot hold), racing table creation,
// timeouts, and recovery after the server kills the pool's connections.
import assert from 'node:assert/strict';
import net from 'node:net';
import { after, before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import pg from 'pg';
import { PostgresStore, postgresTableSql } from '../../src/postgres.js';
import type { SessionPatch, SessionStore } from '../../src/store.js';
import { runStoreConformance } from '../../src/testing.js';
import { DATABASE_URL, postgresSkip, runTag } from '../support/services.js';

const skip = await postgresSkip();
const tag = runTag();
/** Every connection this file opens for stores carries this name, so the fault test kills only its own. */
const APP = `kss-test-${tag}`;
const pools: pg.Pool[] = [];
const schemas = new Set<string>();
/** A separate connection for raw SQL, opened on first use (suites are built before any hook runs). */
let admin: Promise<pg.Client> | undefined;

function newPool(max = 10, applicationName = APP): pg.Pool {
  const pool = new pg.Pool({ connectionString: DATABASE_URL, application_name: applicationName, max });
  // pg emits 'error' for idle clients the server drops; the fault test does exactly that.
  pool.on('error', () => {});
  pools.push(pool);
  return pool;
}

/** A schema name of this run, dropped at the end. */
function schemaFor(name: string): string {
  const schema = `kss_${tag}_${name}`;
  schemas.add(schema);
  return schema;
}

async function sql<R extends pg.QueryResultRow = pg.QueryResultRow>(text: string, values?: unknown[]): Promise<R[]> {
  admin ??= (async () => {
    const client = new pg.Client({ connectionString: DATABASE_URL, application_name: `kss-admin-${tag}` });
    client.on('error', () => {}); // Reported by the next query instead.
    await client.connect();
    return client;
  })();
  return (await (await admin).query<R>(text, values)).rows;
}

/**
 * Terminates the backends of this file's connections named `applicationName`, and only those: the pids are
 * read first and killed by number, because a filter next to pg_terminate_backend() in one WHERE clause may
 * be evaluated after it, killing every connection of the database.
 */
async function terminate(applicationName: string): Promise<number> {
  const targets = await sql<{ pid: number }>(
    `SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid() AND application_name = $1`,
    [applicationName],
  );
  const pids = targets.map((target) => target.pid);
  const killed = await sql<{ ok: boolean }>('SELECT pg_terminate_backend(pid) AS ok FROM unnest($1::int[]) AS pid', [pids]);
  return killed.filter((row) => row.ok).length;
}

function patchOf(set: Record<string, unknown>, unset: string[] = []): SessionPatch {
  const values = Object.create(null) as Record<string, string>;
  for (const key of Object.keys(set)) values[key] = JSON.stringify(set[key]);
  return { set: values, unset };
}

after(async () => {
  await Promise.all(pools.map((pool) => pool.end()));
  if (admin) {
    for (const schema of schemas) await sql(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
    await (await admin).end();
  }
});

runStoreConformance('PostgresStore creating its own table', {
  skip,
  create: () => new PostgresStore({ pool: newPool(), schema: schemaFor('kit') }),
  destroy: (store: SessionStore) => (store as PostgresStore).close(),
});

runStoreConformance('PostgresStore on a table made from postgresTableSql(), with createTable: false and a sweep', {
  skip,
  create: async () => {
    const schema = schemaFor('kit_migrated');
    await sql(postgresTableSql(schema, 'web_sessions'));
    return new PostgresStore({ pool: newPool(), schema, table: 'web_sessions', createTable: false, sweepInterval: 50 });
  },
  destroy: (store: SessionStore) => (store as PostgresStore).close(),
});

describe('PostgresStore as an operator sees it', { skip }, () => {
  let schema: string;
  let store: PostgresStore;
  let table: string;

  before(async () => {
    schema = schemaFor('rows');
    table = `"${schema}"."sessions"`;
    store = new PostgresStore({ pool: newPool(), schema });
    await store.load('warm-up');
  });
  after(() => store.close());

  const rowOf = async (sid: string): Promise<{ data: string; ttl_ms: number | null } | undefined> =>
    (
      await sql<{ data: string; ttl_ms: number | null }>(
        `SELECT data, (extract(epoch FROM expires_at - now()) * 1000)::float8 AS ttl_ms FROM ${table} WHERE sid = $1`,
        [sid],
      )
    )[0];

  it('creates the table with sid, data and expires_at, and an index on expires_at', async () => {
    const columns = await sql(
      `SELECT column_name, data_type, is_nullable FROM information_schema.columns WHERE table_schema = $1 AND table_name = 'sessions' ORDER BY ordinal_position`,
      [schema],
    );
    assert.deepEqual(columns, [
      { column_name: 'sid', data_type: 'text', is_nullable: 'NO' },
      { column_name: 'data', data_type: 'text', is_nullable: 'NO' },
      { column_name: 'expires_at', data_type: 'timestamp with time zone', is_nullable: 'YES' },
    ]);
    const indexes = await sql<{ indexdef: string }>(`SELECT indexdef FROM pg_indexes WHERE schemaname = $1 AND tablename = 'sessions'`, [schema]);
    assert.ok(
      indexes.some((index) => /\(expires_at\)/.test(index.indexdef)),
      `an index on expires_at must exist: ${JSON.stringify(indexes)}`,
    );
  });

  it('keeps the exact JSON text and an expiry computed by the server in the row', async () => {
    const json = '{ "spaced" : [1 , 2], "esc": "\\u00e9\\u0000", "n": 1.50 }';
    await store.save('exact', json, 60_000);
    const row = await rowOf('exact');
    assert.equal(row?.data, json);
    assert.ok(row?.ttl_ms !== null && row !== undefined && row.ttl_ms > 50_000 && row.ttl_ms <= 60_000, `expires in ${row?.ttl_ms} ms`);
    await store.save('forever', '{"a":1}');
    assert.equal((await rowOf('forever'))?.ttl_ms, null);
  });

  it('moves expires_at on touch and on patch, and to NULL without a ttl', async () => {
    await store.save('moving', '{"a":1}', 1000);
    await store.touch('moving', 3_600_000);
    assert.ok(((await rowOf('moving'))?.ttl_ms ?? 0) > 3_500_000, 'touch must push expires_at out');
    await store.patch('moving', patchOf({ b: 2 }), 7_200_000);
    const patched = await rowOf('moving');
    assert.ok((patched?.ttl_ms ?? 0) > 7_100_000, 'patch must reset expires_at');
    assert.deepEqual(JSON.parse(patched?.data ?? ''), { a: 1, b: 2 });
    await store.touch('moving');
    assert.equal((await rowOf('moving'))?.ttl_ms, null);
  });

  it('ignores a row whose expires_at has passed, on load, touch and patch', async () => {
    await sql(`INSERT INTO ${table} (sid, data, expires_at) VALUES ('stale', '{"old":true}', now() - interval '1 second')`);
    assert.equal(await store.load('stale'), null);
    await store.touch('stale', 60_000);
    assert.equal(await store.patch('stale', patchOf({ revived: true }), 60_000), false);
    const row = await rowOf('stale');
    assert.equal(row?.data, '{"old":true}', 'an expired row must not be written to');
    assert.ok((row?.ttl_ms ?? 0) < 0, 'an expired row must stay expired');
  });

  it('removes the row on remove', async () => {
    await store.save('gone', '{}');
    await store.remove('gone');
    assert.equal(await rowOf('gone'), undefined);
  });

  it('patches keys with dots, quotes, brackets, $, spaces, Unicode and __proto__ with one jsonb UPDATE', async () => {
    const original = '{"keep":{"deep":[1,2.5,"x"]},"n":1e21,"__proto__":{"polluted":true},"a.b":"old","$":"old","[0]":"old","drop me":1}';
    await store.save('tricky', original, 60_000);
    const set: Record<string, unknown> = {
      'a.b': { now: 'object' },
      $: ['array', null],
      '[0]': 'string with "quotes", \\ and \u2028',
      "it's": 12.5,
      'say "hi"': true,
      'with space': null,
      'back\\slash': 'x',
      ключ: 'значение',
      '🔑': '🔓',
      '': '',
      '{a,b}': 'array-literal-looking key',
      'new.key': { 'nested.key': { $: 1 } },
    };
    const patch = patchOf(set, ['drop me', 'never there', 'NULL', '"quoted"']);
    (patch.set as Record<string, string>)['__proto__'] = '{"replaced":[1]}';
    assert.equal(await store.patch('tricky', patch, 60_000), true);
    const stored = JSON.parse((await rowOf('tricky'))?.data ?? '') as Record<string, unknown>;
    const expected = JSON.parse(original) as Record<string, unknown>;
    delete expected['drop me'];
    for (const [key, value] of Object.entries(set)) expected[key] = value;
    Object.defineProperty(expected, '__proto__', { value: { replaced: [1] }, enumerable: true, writable: true, configurable: true });
    assert.deepEqual(stored, expected);
    assert.equal(Object.getPrototypeOf(stored), Object.prototype);
  });

  it('patches sessions holding \\u0000 and lone surrogates, which jsonb cannot hold, with the same result', async () => {
    const original = JSON.stringify({ nul: 'a\u0000b', lone: '\ud800', keep: 1, 'k\u0000': 'nul key', drop: true });
    await store.save('nul', original, 60_000);
    assert.equal(await store.patch('nul', patchOf({ added: 'x\u0000y', lone2: '\udfff', keep: 2 }, ['drop']), 60_000), true);
    assert.deepEqual(JSON.parse((await rowOf('nul'))?.data ?? ''), {
      nul: 'a\u0000b',
      lone: '\ud800',
      keep: 2,
      'k\u0000': 'nul key',
      added: 'x\u0000y',
      lone2: '\udfff',
    });
    // Unset of a key with U+0000, which jsonb cannot hold either: the fallback applies it.
    await store.patch('nul', patchOf({}, ['k\u0000']), 60_000);
    assert.equal('k\u0000' in (JSON.parse((await rowOf('nul'))?.data ?? '') as object), false);
    // And no resurrection on that path either.
    await store.remove('nul');
    assert.equal(await store.patch('nul', patchOf({ z: '\u0000' }), 60_000), false);
    assert.equal(await rowOf('nul'), undefined);
  });

  it('unsets a key with a lone surrogate from jsonb-safe data without dropping U+FFFD, the key UTF-8 text would make of it', async () => {
    await store.save('lookalike', JSON.stringify({ '\ufffd': 'replacement', 'x\ufffdy': 'inside', other: 1 }), 60_000);
    assert.equal(await store.patch('lookalike', patchOf({ other: 2 }, ['\ud800', 'x\udc00y']), 60_000), true);
    assert.deepEqual(JSON.parse((await rowOf('lookalike'))?.data ?? ''), { '\ufffd': 'replacement', 'x\ufffdy': 'inside', other: 2 });
    // A plain unset still goes through jsonb: its spelling of the data, shorter keys first and a space after each colon.
    await store.patch('lookalike', patchOf({}, ['other']), 60_000);
    assert.equal((await rowOf('lookalike'))?.data, '{"\ufffd": "replacement", "x\ufffdy": "inside"}');
  });

  it('rejects a patch with a malformed value and leaves the row as it was', async () => {
    await store.save('malformed', '{"a":1}', 60_000);
    const set = Object.create(null) as Record<string, string>;
    set.b = '{not json';
    await assert.rejects(store.patch('malformed', { set, unset: ['a'] }, 60_000), (error: Error) => {
      assert.match(error.message, /^koa-session-store: .*patch.*not valid JSON text; nothing was written/);
      assert.doesNotMatch(error.message, /not json/, 'the message must not quote session data');
      return true;
    });
    assert.equal((await rowOf('malformed'))?.data, '{"a":1}');
  });

  it('keeps all 50 keys when 50 patches run at once over 10 connections, on plain and on \\u0000 data', async () => {
    await store.save('race', '{"base":true}', 60_000);
    await store.save('race-nul', '{"base":"\\u0000"}', 60_000);
    for (const sid of ['race', 'race-nul']) {
      await Promise.all(
        Array.from({ length: 50 }, (_, i) => store.patch(sid, patchOf({ [`k${i}`]: i % 5 === 0 ? `v\u0000${i}` : i }), 60_000)),
      );
      const data = JSON.parse((await rowOf(sid))?.data ?? '{}') as Record<string, unknown>;
      const lost = Array.from({ length: 50 }, (_, i) => `k${i}`).filter((key) => !(key in data));
      assert.deepEqual(lost, [], `${sid}: ${lost.length} of 50 concurrent patches were lost`);
      assert.equal(Object.keys(data).length, 51);
    }
  });
});

describe('PostgresStore table creation and options', { skip }, () => {
  it('creates one table when five stores on five pools start at once, and all of them work', async () => {
    const schema = schemaFor('race');
    const stores = Array.from({ length: 5 }, () => new PostgresStore({ pool: newPool(2), schema }));
    await Promise.all(stores.map((store, i) => store.save(`s${i}`, `{"i":${i}}`)));
    const loaded = await Promise.all(stores.map((store, i) => store.load(`s${(i + 1) % 5}`)));
    assert.deepEqual(
      loaded,
      stores.map((_, i) => `{"i":${(i + 1) % 5}}`),
    );
    const tables = await sql(`SELECT tablename FROM pg_tables WHERE schemaname = $1`, [schema]);
    assert.deepEqual(tables, [{ tablename: 'sessions' }]);
    await Promise.all(stores.map((store) => store.close()));
  });

  it('says the table is missing and how to create it when createTable is false', async () => {
    const store = new PostgresStore({ pool: newPool(1), schema: schemaFor('absent'), createTable: false });
    await assert.rejects(store.load('s'), (error: Error) => {
      assert.match(error.message, /^koa-session-store: PostgreSQL load failed: the table ".*"\."sessions" does not exist/);
      assert.match(error.message, /postgresTableSql\(\)/);
      // 42P01 (no such table) or 3F000 (no such schema), depending on the server version.
      assert.ok(['42P01', '3F000'].includes(String((error.cause as { code?: string }).code)));
      return true;
    });
    await store.close();
  });

  it('throws a TypeError naming the option for a table or schema that is not a plain identifier', () => {
    const pool = newPool(1);
    for (const bad of ['', 'x; DROP TABLE y', 'my-table', '1abc', 'a"b', 'x'.repeat(64), 'tablé', ' sessions']) {
      assert.throws(() => new PostgresStore({ pool, table: bad }), (error: unknown) => error instanceof TypeError && /option table of PostgresStore/.test(error.message));
      assert.throws(() => new PostgresStore({ pool, schema: bad }), (error: unknown) => error instanceof TypeError && /option schema of PostgresStore/.test(error.message));
      assert.throws(() => postgresTableSql(bad), TypeError);
    }
    assert.throws(() => new PostgresStore({} as never), /option pool of PostgresStore must be a pg.Pool/);
    assert.throws(() => new PostgresStore({ pool, queryTimeout: -1 }), /option queryTimeout of PostgresStore/);
    assert.throws(() => new PostgresStore({ pool, sweepInterval: 1.5 }), /option sweepInterval of PostgresStore/);
    assert.throws(() => new PostgresStore({ pool, createTable: 'yes' as unknown as boolean }), /option createTable of PostgresStore/);
  });

  it('documents the table as SQL that creates it when run as it is', async () => {
    const schema = schemaFor('documented');
    const ddl = postgresTableSql(schema, 'sess');
    assert.match(ddl, /CREATE TABLE IF NOT EXISTS ".*"\."sess"/);
    await sql(ddl);
    await sql(ddl); // Idempotent: safe to run twice.
    const store = new PostgresStore({ pool: newPool(1), schema, table: 'sess', createTable: false });
    await store.save('s', '{"ok":true}');
    assert.equal(await store.load('s'), '{"ok":true}');
    await store.close();
  });

  it('creates the table again when it was dropped while the store was running', async () => {
    const schema = schemaFor('dropped');
    const store = new PostgresStore({ pool: newPool(1), schema });
    await store.save('s', '{}');
    await sql(`DROP TABLE "${schema}".sessions`);
    await assert.rejects(store.load('s'), /table ".*"\."sessions" does not exist/);
    await store.save('s', '{"again":true}');
    assert.equal(await store.load('s'), '{"again":true}');
    await store.close();
  });

  it('works with table names of the longest length allowed, each with its own expiry index', async () => {
    const schema = schemaFor('long');
    const pool = newPool(2);
    const long = ['a', 'b'].map((last) => `${'x'.repeat(62)}${last}`);
    for (const table of long) {
      const store = new PostgresStore({ pool, schema, table });
      await store.save('s', '{}', 60_000);
      assert.equal(await store.load('s'), '{}');
      await store.close();
    }
    const indexed = await sql(`SELECT tablename FROM pg_indexes WHERE schemaname = $1 AND indexdef LIKE '%(expires_at)' ORDER BY tablename`, [schema]);
    assert.deepEqual(
      indexed.map((row) => row.tablename),
      long,
    );
  });

  it('leaves the pool open on close and rejects calls after close', async () => {
    const pool = newPool(1);
    const store = new PostgresStore({ pool, schema: schemaFor('close') });
    await store.save('s', '{}');
    await store.close();
    assert.deepEqual((await pool.query('SELECT 1 AS one')).rows, [{ one: 1 }]);
    await assert.rejects(store.load('s'), /PostgresStore is closed/);
  });

  it('deletes expired rows on its sweep timer and keeps live ones', async () => {
    const schema = schemaFor('sweep');
    const store = new PostgresStore({ pool: newPool(2), schema, sweepInterval: 50 });
    await store.save('live', '{}', 3_600_000);
    await store.save('forever', '{}');
    await sql(
      `INSERT INTO "${schema}".sessions (sid, data, expires_at) SELECT 'expired-' || i, '{}', now() - interval '1 second' FROM generate_series(1, 50) AS i`,
    );
    const count = async (): Promise<number> =>
      Number((await sql<{ n: string }>(`SELECT count(*) AS n FROM "${schema}".sessions WHERE sid LIKE 'expired-%'`))[0]?.n);
    const deadline = Date.now() + 10_000;
    while ((await count()) !== 0 && Date.now() < deadline) await sleep(25);
    assert.equal(await count(), 0, 'the sweep must delete every expired row');
    assert.deepEqual(await sql(`SELECT sid FROM "${schema}".sessions ORDER BY sid`), [{ sid: 'forever' }, { sid: 'live' }]);
    await store.close();
    await sql(`INSERT INTO "${schema}".sessions (sid, data, expires_at) VALUES ('late', '{}', now() - interval '1 second')`);
    assert.equal(await store.sweep().catch(() => 'closed'), 'closed');
  });
});

describe('PostgresStore faults', { skip }, () => {
  it('fails within queryTimeout when the server accepts connections but never answers', async () => {
    const sockets = new Set<net.Socket>();
    const silent = net.createServer((socket) => {
      sockets.add(socket);
      socket.on('error', () => {});
    });
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
    const { port } = silent.address() as net.AddressInfo;
    const pool = new pg.Pool({ host: '127.0.0.1', port, user: 'postgres', database: 'test', max: 2 });
    pool.on('error', () => {});
    const store = new PostgresStore({ pool, queryTimeout: 300 });
    try {
      const started = Date.now();
      await assert.rejects(store.load('s'), /PostgreSQL did not answer the table creation within 300 ms/);
      await assert.rejects(store.load('s'), /did not answer .* within 300 ms.*queryTimeout/);
      assert.ok(Date.now() - started < 10_000, 'the calls must not hang');
    } finally {
      await store.close();
      for (const socket of sockets) socket.destroy();
      await new Promise((resolve) => silent.close(resolve));
      await pool.end();
    }
  });

  it('fails within queryTimeout when a query waits on a lock, then works again', async () => {
    const schema = schemaFor('locked');
    const store = new PostgresStore({ pool: newPool(2), schema, queryTimeout: 300 });
    await store.save('held', '{"v":1}');
    const holder = new pg.Client({ connectionString: DATABASE_URL, application_name: `kss-holder-${tag}` });
    await holder.connect();
    try {
      await holder.query('BEGIN');
      await holder.query(`SELECT * FROM "${schema}".sessions WHERE sid = 'held' FOR UPDATE`);
      await assert.rejects(store.save('held', '{"v":2}'), /PostgreSQL did not answer the save within 300 ms/);
      assert.equal(await store.load('held'), '{"v":1}', 'reads do not wait for the row lock');
      await holder.query('ROLLBACK');
      // The timed-out UPDATE may still land once the lock is gone; either way the store keeps working.
      await store.save('held', '{"v":3}');
      assert.equal(await store.load('held'), '{"v":3}');
    } finally {
      await holder.end();
      await store.close();
    }
  });

  it('recovers by itself after the server terminates every connection of its pool', async () => {
    const faultApp = `kss-fault-${tag}`;
    const pool = newPool(5, faultApp);
    const store = new PostgresStore({ pool, schema: schemaFor('fault') });
    await store.save('survivor', '{"n":1}');
    // Five busy calls at once open five connections, which the server then kills while they sit idle in the pool.
    await Promise.all(Array.from({ length: 5 }, () => store.load('survivor')));
    assert.equal(pool.totalCount, 5);
    const killed = await terminate(faultApp);
    assert.equal(killed, 5, 'the test must have killed the pool connections');

    const outcomes = await Promise.allSettled(Array.from({ length: 10 }, () => store.load('survivor')));
    for (const outcome of outcomes) {
      if (outcome.status === 'fulfilled') assert.equal(outcome.value, '{"n":1}');
      else assert.match(String(outcome.reason), /koa-session-store: PostgreSQL load failed/);
    }
    // Whatever the first calls met, later ones succeed with no help: pg replaces the dead clients.
    let recovered = false;
    for (let attempt = 0; attempt < 20 && !recovered; attempt += 1) {
      recovered = await store.load('survivor').then(
        (value) => value === '{"n":1}',
        () => false,
      );
      if (!recovered) await sleep(100);
    }
    assert.ok(recovered, 'the store must recover by itself');
    for (let i = 0; i < 20; i += 1) await store.patch('survivor', patchOf({ [`after${i}`]: i }), 60_000);
    const data = JSON.parse((await store.load('survivor')) ?? '{}') as Record<string, unknown>;
    assert.equal(Object.keys(data).length, 21);
    console.log(`  after pg_terminate_backend: ${outcomes.filter((o) => o.status === 'rejected').length} of 10 calls failed, then recovered`);
    await store.close();
  });

  it('retries once on a new connection when its connection is killed mid-query, and fails when the retry is killed too', async () => {
    const schema = schemaFor('midquery');
    const victimApp = `kss-victim-${tag}`;
    const store = new PostgresStore({ pool: newPool(1, victimApp), schema, queryTimeout: 10_000 });
    await store.save('held', '{"v":1}');
    const holder = new pg.Client({ connectionString: DATABASE_URL, application_name: `kss-holder2-${tag}` });
    await holder.connect();
    /** Waits until a backend of the store other than `previous` waits on the row lock; resolves to its pid. */
    const waitingPid = async (previous?: number): Promise<number> => {
      for (let i = 0; i < 200; i += 1) {
        const rows = await sql<{ pid: number }>(
          `SELECT pid FROM pg_stat_activity WHERE application_name = $1 AND wait_event_type = 'Lock' AND pid IS DISTINCT FROM $2`,
          [victimApp, previous ?? null],
        );
        if (rows[0]) return rows[0].pid;
        await sleep(20);
      }
      throw new Error('the save never waited on the row lock');
    };
    try {
      await holder.query('BEGIN');
      await holder.query(`SELECT * FROM "${schema}".sessions WHERE sid = 'held' FOR UPDATE`);

      // Killed once: the store tries again on a fresh connection, which gets through once the lock is gone.
      const retried = store.save('held', '{"v":2}');
      const first = await waitingPid();
      assert.equal(await terminate(victimApp), 1);
      const second = await waitingPid(first);
      assert.notEqual(second, first);

      const queued = store.save('held', '{"v":3}');
      await holder.query('ROLLBACK');
      await retried;
      await queued;
      assert.equal(await store.load('held'), '{"v":3}', 'the retried save and the one queued behind it both landed');

      // Killed twice: the call fails, with the driver's error as its cause.
      await holder.query('BEGIN');
      await holder.query(`SELECT * FROM "${schema}".sessions WHERE sid = 'held' FOR UPDATE`);
      // Settled into a value at once, so that its rejection is never "unhandled" while the test is still killing.
      const blocked = store.save('held', '{"v":4}').then(
        () => assert.fail('the save must fail when its retry is killed too'),
        (error: unknown) => error as Error,
      );
      const third = await waitingPid();
      assert.equal(await terminate(victimApp), 1);
      const fourth = await waitingPid(third);
      assert.equal(await terminate(victimApp), 1);
      const error = await blocked;
      assert.match(error.message, /^koa-session-store: PostgreSQL save failed/);
      assert.equal((error.cause as { code?: string }).code, '57P01');
      assert.notEqual(fourth, third);
      await holder.query('ROLLBACK');
      await store.save('held', '{"v":5}');
      assert.equal(await store.load('held'), '{"v":5}');
    } finally {
      await holder.end();
      await store.close();
    }
  });
});
