// MysqlStore against the store contract and the user-sessions suite on the
// real server (MariaDB here, written for MySQL 8 too), then what only it has:
// rows checked with raw SQL, server-side expiry, exact text through patches
// (lone surrogates included), the users' index table, racing table creation,
// option checks, timeouts, and recovery after the server kills the pool's
// connections.
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import net from 'node:net';
import { after, before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import mysqlCallback from 'mysql2';
import mysql from 'mysql2/promise';
import type { Pool, RowDataPacket } from 'mysql2/promise';
import { MysqlStore, mysqlTableSql } from '../../src/mysql.js';
import type { IndexedSession, SessionPatch, SessionStore } from '../../src/store.js';
import { runStoreConformance } from '../../src/testing.js';
import { killThreads, MYSQL_URL, mysqlSkip, trackedPool } from '../support/mysql.js';
import type { TrackedPool } from '../support/mysql.js';
import { runTag } from '../support/services.js';
import { runUserSessionsSuite } from '../support/user-sessions.js';
import { checkOneSweepAtATime } from '../support/sweep.js';

const skip = await mysqlSkip();
const tag = runTag();
const pools: Pool[] = [];
/** A separate pool for raw SQL, opened on first use (suites are built before any hook runs). */
let adminPool: Pool | undefined;

function admin(): Pool {
  adminPool ??= mysql.createPool({ uri: MYSQL_URL, connectionLimit: 4 });
  return adminPool;
}

function newPool(connectionLimit = 10): TrackedPool {
  const tracked = trackedPool({ connectionLimit });
  pools.push(tracked.pool);
  return tracked;
}

/** A table name of this run: every table whose name starts with `kss_<tag>_` is dropped at the end. */
function tableFor(name: string): string {
  return `kss_${tag}_${name}`;
}

async function sql<R = RowDataPacket>(text: string, values: unknown[] = []): Promise<R[]> {
  const [rows] = await admin().query(text, values);
  return rows as R[];
}

/** Inserts `count` rows named expired-1… that expired a second ago. */
async function insertExpired(table: string, count: number): Promise<void> {
  const sids = Array.from({ length: count }, (_, i) => `expired-${i + 1}`);
  const rows = sids.map(() => "(?, '{}', UTC_TIMESTAMP(3) - INTERVAL 1 SECOND)").join(', ');
  await sql(`INSERT INTO \`${table}\` (sid, data, expires_at) VALUES ${rows}`, sids);
}

/** Runs the statements of `mysqlTableSql()`, one at a time, as a migration tool would. */
async function runScript(script: string): Promise<void> {
  for (const statement of script.split(/;\n/)) if (statement.trim() !== '') await sql(statement);
}

/** An entry for `sid` as the middleware makes it: created now, expiring after `ttlMs` (null: never). */
function entryOf(sid: string, ttlMs: number | null, userAgent = 'Browser'): IndexedSession {
  const now = Date.now();
  return { sid, createdAt: now, lastActiveAt: now, expiresAt: ttlMs === null ? null : now + ttlMs, userAgent };
}

const byCreation = (entries: readonly IndexedSession[]): IndexedSession[] =>
  [...entries].sort((a, b) => a.createdAt - b.createdAt || a.sid.localeCompare(b.sid));

function patchOf(set: Record<string, unknown>, unset: string[] = []): SessionPatch {
  const values = Object.create(null) as Record<string, string>;
  for (const key of Object.keys(set)) values[key] = JSON.stringify(set[key]);
  return { set: values, unset };
}

after(async () => {
  await Promise.all(pools.map((pool) => pool.end()));
  if (adminPool) {
    const mine = await sql<{ name: string }>(
      "SELECT TABLE_NAME AS name FROM information_schema.TABLES WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME LIKE CONCAT(?, '\\_%')",
      [`kss_${tag}`],
    );
    for (const { name } of mine) await sql(`DROP TABLE IF EXISTS \`${name}\``);
    await adminPool.end();
  }
});

runStoreConformance('MysqlStore creating its own table', {
  skip,
  create: () => new MysqlStore({ pool: newPool().pool, table: tableFor('kit') }),
  destroy: (store: SessionStore) => (store as MysqlStore).close(),
});

runStoreConformance('MysqlStore on a table made from mysqlTableSql(), with createTable: false and a sweep', {
  skip,
  create: async () => {
    const table = tableFor('kit_migrated');
    await runScript(mysqlTableSql(table));
    return new MysqlStore({ pool: newPool().pool, table, createTable: false, sweepInterval: 50 });
  },
  destroy: (store: SessionStore) => (store as MysqlStore).close(),
});

runUserSessionsSuite('MysqlStore', {
  skip,
  create: () => new MysqlStore({ pool: newPool().pool, table: tableFor('user_sessions') }),
  destroy: (store) => store.close(),
});

runUserSessionsSuite('MysqlStore on tables made from mysqlTableSql(), with createTable: false and a sweep', {
  skip,
  create: async () => {
    const table = tableFor('user_sessions_migrated');
    await runScript(mysqlTableSql(table));
    return new MysqlStore({ pool: newPool().pool, table, createTable: false, sweepInterval: 50 });
  },
  destroy: (store) => store.close(),
});

runStoreConformance("MysqlStore over mysql2's callback pool", {
  skip,
  create: () => {
    const pool = mysqlCallback.createPool({ uri: MYSQL_URL, connectionLimit: 10 });
    pools.push(pool.promise());
    return new MysqlStore({ pool, table: tableFor('kit_callback') });
  },
  destroy: (store: SessionStore) => (store as MysqlStore).close(),
});

describe('MysqlStore as an operator sees it', { skip }, () => {
  let table: string;
  let store: MysqlStore;

  before(async () => {
    table = tableFor('rows');
    store = new MysqlStore({ pool: newPool().pool, table });
    await store.load('warm-up');
  });
  after(() => store.close());

  const rowOf = async (sid: string): Promise<{ data: string; ttl_ms: number | null } | undefined> =>
    (
      await sql<{ data: string; ttl_ms: number | null }>(
        `SELECT data, TIMESTAMPDIFF(MICROSECOND, UTC_TIMESTAMP(3), expires_at) / 1000 AS ttl_ms FROM \`${table}\` WHERE sid = ?`,
        [sid],
      )
    ).map((row) => ({ data: row.data, ttl_ms: row.ttl_ms === null ? null : Number(row.ttl_ms) }))[0];

  it('creates the table with sid, data and expires_at, InnoDB, and an index on expires_at', async () => {
    const columns = await sql(
      `SELECT COLUMN_NAME AS name, COLUMN_TYPE AS type, IS_NULLABLE AS nullable, COLLATION_NAME AS collation
         FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = ? ORDER BY ORDINAL_POSITION`,
      [table],
    );
    assert.deepEqual(
      columns.map((column) => ({ ...column })),
      [
        { name: 'sid', type: 'varbinary(255)', nullable: 'NO', collation: null },
        { name: 'data', type: 'longtext', nullable: 'NO', collation: 'utf8mb4_bin' },
        { name: 'expires_at', type: 'datetime(3)', nullable: 'YES', collation: null },
      ],
    );
    const [engine] = await sql<{ ENGINE: string }>('SELECT ENGINE FROM information_schema.TABLES WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = ?', [table]);
    assert.equal(engine?.ENGINE, 'InnoDB');
    const indexed = await sql<{ COLUMN_NAME: string }>(
      `SELECT COLUMN_NAME FROM information_schema.STATISTICS WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = ? AND INDEX_NAME <> 'PRIMARY'`,
      [table],
    );
    assert.deepEqual(
      indexed.map((row) => row.COLUMN_NAME),
      ['expires_at'],
    );
  });

  it('keeps the exact JSON text and an expiry computed by the server in the row', async () => {
    const json = '{ "spaced" : [1 , 2], "esc": "\\u00e9\\u0000", "n": 1.50, "trailing": "space"}  ';
    await store.save('exact', json, 60_000);
    const row = await rowOf('exact');
    assert.equal(row?.data, json);
    assert.ok(row?.ttl_ms !== null && row !== undefined && row.ttl_ms > 50_000 && row.ttl_ms <= 60_000, `expires in ${row?.ttl_ms} ms`);
    await store.save('forever', '{"a":1}');
    assert.equal((await rowOf('forever'))?.ttl_ms, null);
  });

  it('keeps escaped lone surrogates and any Unicode exactly, in ids, values and keys', async () => {
    const data = { lone: '\ud800', pair: '\ud83d\ude00', low: '\udfff x', '\udbff key': 'v', emoji: '😀👍🏽', nul: 'a\u0000b', bom: '\ufeff' };
    const json = JSON.stringify(data);
    assert.ok(json.includes('\\ud800'), 'JSON.stringify writes a lone surrogate as an escape');
    for (const sid of ['ключ-😀', 'e\u0301', 'E\u0301', 'a', 'a ', 'A']) {
      await store.save(sid, JSON.stringify({ sid }), 60_000);
    }
    for (const sid of ['ключ-😀', 'e\u0301', 'E\u0301', 'a', 'a ', 'A']) {
      assert.equal(await store.load(sid), JSON.stringify({ sid }), 'ids differing in case, accents or a trailing space are different ids');
    }
    await store.save('surrogates', json, 60_000);
    assert.equal(await store.load('surrogates'), json);
    assert.equal((await rowOf('surrogates'))?.data, json, 'the server holds the same text');
    // Applied under the row lock (no base): lone surrogates in keys and values, set and unset.
    assert.equal(await store.patch('surrogates', patchOf({ '\ud800': '\udc00', low: 'replaced', '': 'empty key' }, ['\udbff key']), 60_000), true);
    const { '\udbff key': _dropped, ...kept } = data;
    assert.deepEqual(JSON.parse(await store.load('surrogates') ?? ''), { ...kept, low: 'replaced', '\ud800': '\udc00', '': 'empty key' });
    assert.equal(_dropped, 'v');
  });

  it('refuses text that UTF-8 cannot carry (a raw lone surrogate), naming neither id nor data', async () => {
    await assert.rejects(store.save('raw', '{"a":"\ud800"}'), (error: Error) => {
      assert.ok(error instanceof TypeError);
      assert.match(error.message, /^koa-session-store: MysqlStore.save needs the session as JSON text/);
      return true;
    });
    await assert.rejects(store.load('secret-id-\udc00'), (error: Error) => {
      assert.ok(error instanceof TypeError);
      assert.doesNotMatch(error.message, /secret-id/);
      return true;
    });
    await assert.rejects(store.load(`secret-${'x'.repeat(300)}`), /at most 255 UTF-8 bytes/);
    await store.save('raw-patch', '{"a":1}', 60_000);
    const set = Object.create(null) as Record<string, string>;
    set.b = '"\ud800"';
    await assert.rejects(store.patch('raw-patch', { set, unset: [] }, 60_000), /lone surrogate/);
    assert.equal(await store.load('raw-patch'), '{"a":1}');
  });

  it('moves expires_at on touch and on patch, and to NULL without a ttl', async () => {
    await store.save('moving', '{"a":1}', 1000);
    await store.touch('moving', 3_600_000);
    assert.ok(((await rowOf('moving'))?.ttl_ms ?? 0) > 3_500_000, 'touch must push expires_at out');
    await store.patch('moving', patchOf({ b: 2 }), 7_200_000);
    const patched = await rowOf('moving');
    assert.ok((patched?.ttl_ms ?? 0) > 7_100_000, 'patch must reset expires_at');
    assert.equal(patched?.data, '{"a":1,"b":2}');
    await store.touch('moving');
    assert.equal((await rowOf('moving'))?.ttl_ms, null);
    // A ttl past the year 9999 would overflow DATETIME: it is cut to 100 years.
    await store.touch('moving', Number.MAX_SAFE_INTEGER);
    const far = (await rowOf('moving'))?.ttl_ms ?? 0;
    assert.ok(far > 99 * 365 * 86_400_000 && far <= 3_155_760_000_000, `expires in ${far} ms`);
  });

  it('ignores a row whose expires_at has passed, on load, touch and patch (with and without a base)', async () => {
    await sql(`INSERT INTO \`${table}\` (sid, data, expires_at) VALUES ('stale', '{"old":true}', UTC_TIMESTAMP(3) - INTERVAL 1 SECOND)`);
    assert.equal(await store.load('stale'), null);
    await store.touch('stale', 60_000);
    assert.equal(await store.patch('stale', patchOf({ revived: true }), 60_000), false);
    const whole = { ...patchOf({ revived: true }), base: '{"old":true}', result: '{"old":true,"revived":true}' };
    assert.equal(await store.patch('stale', whole, 60_000), false);
    const row = await rowOf('stale');
    assert.equal(row?.data, '{"old":true}', 'an expired row must not be written to');
    assert.ok((row?.ttl_ms ?? 0) < 0, 'an expired row must stay expired');
  });

  it('removes the row on remove', async () => {
    await store.save('gone', '{}');
    await store.remove('gone');
    assert.equal(await rowOf('gone'), undefined);
  });

  it("writes a patch's whole result only over exactly its base, byte for byte", async () => {
    await store.save('cas', '{"a":1} ', 60_000);
    // Equal but for a trailing space, which a padding collation would ignore: the keys are applied instead.
    assert.equal(await store.patch('cas', { ...patchOf({ b: 2 }), base: '{"a":1}', result: '{"a":1,"b":2,"from":"result"}' }, 60_000), true);
    assert.equal((await rowOf('cas'))?.data, '{"a":1,"b":2}');
    assert.equal(await store.patch('cas', { ...patchOf({ c: 3 }), base: '{"a":1,"b":2}', result: '{"whole":"result"}' }, 60_000), true);
    assert.equal((await rowOf('cas'))?.data, '{"whole":"result"}', 'a matching base lets the result replace the row as it is');
  });

  it('patches keys with dots, quotes, brackets, $, spaces, Unicode and __proto__, keeping the place of existing keys', async () => {
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
      '$."x"': 'path-looking key',
    };
    const patch = patchOf(set, ['drop me', 'never there', 'NULL', '"quoted"']);
    (patch.set as Record<string, string>)['__proto__'] = '{"replaced":[1]}';
    assert.equal(await store.patch('tricky', patch, 60_000), true);
    const text = (await rowOf('tricky'))?.data ?? '';
    const stored = JSON.parse(text) as Record<string, unknown>;
    const expected = JSON.parse(original) as Record<string, unknown>;
    delete expected['drop me'];
    for (const [key, value] of Object.entries(set)) expected[key] = value;
    Object.defineProperty(expected, '__proto__', { value: { replaced: [1] }, enumerable: true, writable: true, configurable: true });
    assert.deepEqual(stored, expected);
    assert.equal(Object.getPrototypeOf(stored), Object.prototype);
    assert.ok(text.startsWith('{"keep":{"deep":[1,2.5,"x"]},"n":1e+21,"__proto__":{"replaced":[1]},"a.b":{"now":"object"},'), text.slice(0, 120));
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
    await sql(`INSERT INTO \`${table}\` (sid, data) VALUES ('not-object', '[1,2]')`);
    await assert.rejects(store.patch('not-object', patchOf({ b: 1 }), 60_000), /found a stored session that is not a JSON object; it was left as it is/);
    assert.equal((await rowOf('not-object'))?.data, '[1,2]');
    // Both left the connections usable.
    assert.equal(await store.load('malformed'), '{"a":1}');
  });

  it('keeps all 50 keys when 50 patches run at once over 10 connections, applying keys and whole results', async () => {
    await store.save('race', '{"base":true}', 60_000);
    await store.save('race-whole', '{"base":true}', 60_000);
    await Promise.all(Array.from({ length: 50 }, (_, i) => store.patch('race', patchOf({ [`k${i}`]: i }), 60_000)));
    await Promise.all(
      Array.from({ length: 50 }, (_, i) =>
        store.patch('race-whole', { ...patchOf({ [`k${i}`]: i }), base: '{"base":true}', result: JSON.stringify({ base: true, [`k${i}`]: i }) }, 60_000),
      ),
    );
    for (const sid of ['race', 'race-whole']) {
      const data = JSON.parse((await rowOf(sid))?.data ?? '{}') as Record<string, unknown>;
      const lost = Array.from({ length: 50 }, (_, i) => `k${i}`).filter((key) => !(key in data));
      assert.deepEqual(lost, [], `${sid}: ${lost.length} of 50 concurrent patches were lost`);
      assert.equal(Object.keys(data).length, 51);
    }
  });
});

describe("MysqlStore: the users' index, read with SQL", { skip }, () => {
  let table: string;
  let users: string;
  let store: MysqlStore;
  const user = (): string => `user-${randomUUID()}`;

  before(async () => {
    table = tableFor('index');
    users = `${table}_users`;
    store = new MysqlStore({ pool: newPool().pool, table });
    await store.load('warm-up');
  });
  after(() => store.close());

  /** Saves a session and indexes it under `userId`. */
  async function signIn(userId: string, ttlMs: number | null, userAgent?: string): Promise<IndexedSession> {
    const entry = entryOf(randomUUID(), ttlMs, userAgent);
    await store.save(entry.sid, JSON.stringify({ userId }), ttlMs ?? undefined);
    assert.equal(await store.indexSession(userId, entry), true);
    return entry;
  }

  /** The rows of `storedUserId` as the table holds them, bytes read as UTF-8 and times as numbers. */
  const rowsOf = async (storedUserId: string) =>
    (
      await sql<{ sid: Buffer; created_at: number; last_active_at: number; expires_at: number | null; user_agent: string }>(
        `SELECT sid, created_at, last_active_at, expires_at, user_agent FROM \`${users}\` WHERE user_id = ? ORDER BY created_at, sid`,
        [storedUserId],
      )
    ).map((row) => ({ ...row, sid: row.sid.toString('utf8') }));

  /** Makes sessions `sids` expired a second ago, as the server's clock sees it. */
  const expire = (sids: string[]) => sql(`UPDATE \`${table}\` SET expires_at = UTC_TIMESTAMP(3) - INTERVAL 1 SECOND WHERE sid IN (?)`, [sids]);

  it('creates <table>_users keyed by (user_id, sid), user ids as bytes, times in ms, an index on expires_at, and one row per session of a user', async () => {
    const columns = await sql(
      `SELECT COLUMN_NAME AS name, COLUMN_TYPE AS type, IS_NULLABLE AS nullable, COLLATION_NAME AS collation
         FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = ? ORDER BY ORDINAL_POSITION`,
      [users],
    );
    assert.deepEqual(
      // MariaDB says bigint(20), MySQL 8 bigint.
      columns.map((column) => ({ ...column, type: String(column['type']).replace(/^bigint\(20\)$/, 'bigint') })),
      [
        { name: 'user_id', type: 'varbinary(512)', nullable: 'NO', collation: null },
        { name: 'sid', type: 'varbinary(255)', nullable: 'NO', collation: null },
        { name: 'created_at', type: 'bigint', nullable: 'NO', collation: null },
        { name: 'last_active_at', type: 'bigint', nullable: 'NO', collation: null },
        { name: 'expires_at', type: 'bigint', nullable: 'YES', collation: null },
        { name: 'user_agent', type: 'text', nullable: 'NO', collation: 'utf8mb4_bin' },
      ],
    );
    const keys = await sql<{ INDEX_NAME: string; COLUMN_NAME: string }>(
      `SELECT INDEX_NAME, COLUMN_NAME FROM information_schema.STATISTICS WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = ? ORDER BY INDEX_NAME, SEQ_IN_INDEX`,
      [users],
    );
    assert.deepEqual(
      keys.map((key) => `${key.INDEX_NAME === 'PRIMARY' ? 'PRIMARY' : 'other'}:${key.COLUMN_NAME}`).sort(),
      ['PRIMARY:sid', 'PRIMARY:user_id', 'other:expires_at'],
    );

    const alice = user();
    const phone = await signIn(alice, 60_000, 'Phone');
    const laptop = await signIn(alice, null, 'Laptop "x" é 😀');
    assert.deepEqual(
      (await rowsOf(alice)).map((row) => ({ ...row, created_at: Number(row.created_at), last_active_at: Number(row.last_active_at), expires_at: row.expires_at === null ? null : Number(row.expires_at) })),
      byCreation([phone, laptop]).map((entry) => ({ sid: entry.sid, created_at: entry.createdAt, last_active_at: entry.lastActiveAt, expires_at: entry.expiresAt, user_agent: entry.userAgent })),
    );
    assert.deepEqual(byCreation(await store.listIndexed(alice)), byCreation([phone, laptop]));
    assert.deepEqual(await store.listIndexed(user()), [], 'a user without sessions lists none');
  });

  it('upserts: a known session keeps createdAt and userAgent, and takes the new lastActiveAt and expiresAt', async () => {
    const carol = user();
    const first = await signIn(carol, 60_000, 'First browser');
    const later = { sid: first.sid, createdAt: first.createdAt + 5000, lastActiveAt: first.lastActiveAt + 5000, expiresAt: (first.expiresAt as number) + 5000, userAgent: 'Other' };
    assert.equal(await store.indexSession(carol, later), true);
    assert.deepEqual(await store.listIndexed(carol), [{ ...first, lastActiveAt: later.lastActiveAt, expiresAt: later.expiresAt }]);
    assert.equal(await store.indexSession(carol, { ...later, expiresAt: null }), true);
    assert.deepEqual(await store.listIndexed(carol), [{ ...first, lastActiveAt: later.lastActiveAt, expiresAt: null }]);
  });

  it('writes no entry for a session that is missing or expired', async () => {
    const frank = user();
    assert.equal(await store.indexSession(frank, entryOf(randomUUID(), 60_000)), false);
    const expired = await signIn(frank, 60_000);
    await expire([expired.sid]);
    await store.unindexSession(frank, expired.sid);
    assert.equal(await store.indexSession(frank, { ...expired, lastActiveAt: Date.now() }), false, 'an expired session is not one');
    assert.deepEqual(await rowsOf(frank), []);
  });

  it("drops the user's entries of sessions that are gone or expired when it indexes a new one, and no other user's", async () => {
    const dave = user();
    const other = user();
    const old: string[] = [];
    for (let i = 0; i < 20; i += 1) old.push((await signIn(dave, 60_000, `old ${i}`)).sid);
    const removed = await signIn(dave, 60_000, 'removed');
    const forever = await signIn(dave, null, 'never expires');
    const others = await signIn(other, 60_000, 'other user');
    assert.equal((await rowsOf(dave)).length, 22);
    await store.remove(removed.sid);
    await expire([...old, others.sid]);
    const fresh = await signIn(dave, 60_000, 'fresh');
    assert.deepEqual((await rowsOf(dave)).map((row) => row.user_agent).sort(), ['fresh', 'never expires']);
    assert.deepEqual(byCreation(await store.listIndexed(dave)), byCreation([forever, fresh]));
    assert.deepEqual((await rowsOf(other)).map((row) => row.sid), [others.sid], "another user's entries wait for their own sign-in or the sweep");
  });

  it('deletes one entry on unindex, and ignores a missing one', async () => {
    const gina = user();
    const a = await signIn(gina, 60_000);
    const b = await signIn(gina, 60_000);
    await store.unindexSession(gina, a.sid);
    assert.deepEqual((await rowsOf(gina)).map((row) => row.sid), [b.sid]);
    await store.unindexSession(gina, a.sid);
    await store.unindexSession(user(), randomUUID());
    assert.equal(await store.load(a.sid), JSON.stringify({ userId: gina }), 'the session itself stays');
  });

  it('keeps user ids and user agents exactly, %, U+0000 and lone surrogates included, and ids that differ only there never share rows', async () => {
    const base = user();
    const ids = [base, `${base}%00`, `${base}\u0000`, `${base}%uD800`, `${base}\ud800`, `${base}\ud801`, `${base}\ufffd`, `${base}\ud83d\ude00`, `${base} `, `${base.toUpperCase()}`];
    const entries = new Map<string, IndexedSession>();
    for (const id of ids) entries.set(id, await signIn(id, 60_000, `agent ${id} \u0000 \udc00 %41`));
    for (const id of ids) assert.deepEqual(await store.listIndexed(id), [entries.get(id)], `user ${JSON.stringify(id)} sees only its own entry`);
    const stored = await sql<{ user_id: Buffer; user_agent: string }>(`SELECT user_id, user_agent FROM \`${users}\` WHERE user_id LIKE ?`, [`${base}%`]);
    assert.deepEqual(
      stored.map((row) => row.user_id.toString('utf8')).sort(),
      [base, `${base}%2500`, `${base}%00`, `${base}%25uD800`, `${base}%uD800`, `${base}%uD801`, `${base}\ufffd`, `${base}\ud83d\ude00`, `${base} `].sort(),
      'a plain id is kept as it is, and only %, U+0000 and lone surrogates are escaped',
    );
    assert.ok(stored.some((row) => row.user_agent === `agent ${base} %00 %uDC00 %2541`));
  });

  it('refuses a user id longer than 512 bytes, and one that is not a string, without quoting it', async () => {
    const long = `secret-${'é'.repeat(300)}`;
    await assert.rejects(store.indexSession(long, entryOf('s', 60_000)), (error: Error) => {
      assert.ok(error instanceof TypeError);
      assert.match(error.message, /^koa-session-store: MysqlStore.indexSession got a user id of 307 characters; .* at most 512 bytes/);
      assert.doesNotMatch(error.message, /secret/);
      return true;
    });
    await assert.rejects(store.listIndexed(42 as unknown as string), /needs a user id as a non-empty string, got number/);
    await assert.rejects(store.indexSession('u', { ...entryOf('s', 60_000), sid: 'secret-\udc00' }), (error: Error) => {
      assert.match(error.message, /a MysqlStore session id must be a string of at most 255 UTF-8 bytes without lone surrogates/);
      assert.doesNotMatch(error.message, /secret/);
      return true;
    });
  });

  it('never leaves an entry of a session that a revocation removed while it was being indexed', async () => {
    const ivan = user();
    for (let round = 0; round < 100; round += 1) {
      const entry = entryOf(randomUUID(), 60_000);
      await store.save(entry.sid, '{}', 60_000);
      // What a revocation does (remove, then unindex), racing the end of a request that wrote the session.
      await Promise.all([
        store.indexSession(ivan, entry),
        (async () => {
          await store.remove(entry.sid);
          await store.unindexSession(ivan, entry.sid);
        })(),
      ]);
    }
    assert.deepEqual(await rowsOf(ivan), []);
  });

  it('sweeps the entries of sessions that are gone or expired, in batches, and keeps those of live sessions', async () => {
    const sweeper = new MysqlStore({ pool: newPool(2).pool, table, sweepInterval: 0 });
    const jane = user();
    const live = await signIn(jane, 60_000, 'live');
    const forever = await signIn(jane, null, 'forever');
    // Its entry says it expired (an app server's clock ahead of the others'), its session is alive: the session decides.
    const stillAlive = await signIn(jane, 60_000, 'entry expired, session alive');
    await sql(`UPDATE \`${users}\` SET expires_at = 1000 WHERE sid = ?`, [stillAlive.sid]);
    const expired = await signIn(jane, 60_000, 'session expired');
    await expire([expired.sid]);
    await sql(`UPDATE \`${users}\` SET expires_at = ? WHERE sid = ?`, [Date.now() - 1000, expired.sid]);
    const rows = Array.from({ length: 1300 }, (_, i) => [`swept-${i % 7}`, `gone-${i}`, 1, 1, i % 10 === 0 ? null : 1000, 'x']);
    await sql(`INSERT INTO \`${users}\` (user_id, sid, created_at, last_active_at, expires_at, user_agent) VALUES ?`, [rows]);
    assert.ok((await sweeper.sweep()) >= 1, 'the expired session went');
    const left = await sql<{ n: number }>(`SELECT COUNT(*) AS n FROM \`${users}\` WHERE sid LIKE 'gone-%'`);
    assert.equal(Number(left[0]?.n), 0, 'every entry of a missing session went, never-expiring ones included');
    assert.deepEqual(byCreation(await store.listIndexed(jane)), byCreation([live, forever, { ...stillAlive, expiresAt: 1000 }]));
    await sweeper.close();
  });

  it('works on a sessions table made before the index existed: creates <table>_users when it may, says which table to create when not', async () => {
    const old = tableFor('before_index');
    await sql(`CREATE TABLE \`${old}\` (sid VARBINARY(255) NOT NULL PRIMARY KEY, data LONGTEXT CHARACTER SET utf8mb4 COLLATE utf8mb4_bin NOT NULL, expires_at DATETIME(3) NULL) ENGINE=InnoDB`);
    const migrated = new MysqlStore({ pool: newPool(1).pool, table: old, createTable: false, sweepInterval: 0 });
    await migrated.save('s', '{"userId":"kim"}', 60_000);
    assert.equal(await migrated.load('s'), '{"userId":"kim"}', 'sessions work without the index table');
    await sql(`UPDATE \`${old}\` SET expires_at = UTC_TIMESTAMP(3) - INTERVAL 1 SECOND`);
    assert.equal(await migrated.sweep(), 1, 'and so does the sweep');
    await migrated.save('s', '{"userId":"kim"}', 60_000);
    await assert.rejects(migrated.indexSession('kim', entryOf('s', 60_000)), (error: Error) => {
      assert.match(error.message, /^koa-session-store: MySQL indexSession failed: the table `.*_before_index_users` does not exist/);
      assert.match(error.message, /mysqlTableSql\(\)/);
      return true;
    });
    await migrated.close();
    const creating = new MysqlStore({ pool: newPool(1).pool, table: old });
    assert.equal(await creating.load('s'), '{"userId":"kim"}');
    assert.equal(await creating.indexSession('kim', entryOf('s', 60_000)), true, 'the index table was made on first use');
    assert.equal((await creating.listIndexed('kim')).length, 1);
    await creating.close();
  });
});

describe('MysqlStore table creation and options', { skip }, () => {
  it('creates one table when five stores on five pools start at once, and all of them work', async () => {
    const table = tableFor('race');
    const stores = Array.from({ length: 5 }, () => new MysqlStore({ pool: newPool(2).pool, table }));
    await Promise.all(stores.map((store, i) => store.save(`s${i}`, `{"i":${i}}`)));
    const loaded = await Promise.all(stores.map((store, i) => store.load(`s${(i + 1) % 5}`)));
    assert.deepEqual(
      loaded,
      stores.map((_, i) => `{"i":${(i + 1) % 5}}`),
    );
    const found = await sql<{ name: string }>(
      'SELECT TABLE_NAME AS name FROM information_schema.TABLES WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME IN (?, ?) ORDER BY TABLE_NAME',
      [table, `${table}_users`],
    );
    assert.deepEqual(
      found.map((row) => row.name),
      [table, `${table}_users`],
    );
    await Promise.all(stores.map((store) => store.close()));
  });

  it('says the table is missing and how to create it when createTable is false', async () => {
    const store = new MysqlStore({ pool: newPool(1).pool, table: tableFor('absent'), createTable: false });
    await assert.rejects(store.load('secret-sid'), (error: Error) => {
      assert.match(error.message, /^koa-session-store: MySQL load failed: the table `kss_.*_absent` does not exist/);
      assert.doesNotMatch(`${error.message} ${(error.cause as Error).message}`, /secret-sid/);
      assert.match(error.message, /mysqlTableSql\(\)/);
      assert.equal((error.cause as { errno?: number }).errno, 1146);
      return true;
    });
    await store.close();
  });

  it('works in the database named by its database option, and says when there is none', async () => {
    const table = tableFor('elsewhere');
    const noDatabase = mysql.createPool({ uri: MYSQL_URL.replace(/\/[^/]*$/, ''), connectionLimit: 1 });
    pools.push(noDatabase);
    const [{ db }] = (await sql<{ db: string }>('SELECT DATABASE() AS db')) as [{ db: string }];
    const lost = new MysqlStore({ pool: noDatabase, table });
    await assert.rejects(lost.load('s'), /MysqlStore has no database for its table.*database option/);
    const found = new MysqlStore({ pool: noDatabase, table, database: db });
    await found.save('s', '{"here":true}');
    assert.equal(await found.load('s'), '{"here":true}');
    const [row] = await sql<{ data: string }>(`SELECT data FROM \`${table}\` WHERE sid = 's'`);
    assert.equal(row?.data, '{"here":true}');
    await Promise.all([lost.close(), found.close()]);
  });

  it('leaves the value out of a server error that would quote it, in the message and in the cause', async () => {
    // A table made by hand with a latin1 column, which cannot hold an emoji: the server's message quotes the bytes.
    const table = tableFor('latin1_column');
    await sql(`CREATE TABLE \`${table}\` (sid VARBINARY(255) PRIMARY KEY, data TEXT CHARACTER SET latin1 NOT NULL, expires_at DATETIME(3) NULL)`);
    const store = new MysqlStore({ pool: newPool(1).pool, table, createTable: false });
    await assert.rejects(store.save('secret-sid', '{"secret":"😀"}'), (error: Error) => {
      const cause = error.cause as Error & { errno?: number };
      assert.equal(cause.errno, 1366);
      assert.match(error.message, /^koa-session-store: MySQL save failed \(ER_TRUNCATED_WRONG_VALUE_FOR_FIELD \(1366\): the server's message quotes a value and is left out\)/);
      for (const text of [error.message, cause.message, String(cause.stack)]) {
        assert.doesNotMatch(text, /secret|\\xF0|😀/i);
      }
      return true;
    });
    await store.close();
  });

  it('reads its rows whatever the pool does to rows (arrays, nested tables, a typeCast of its own or none, named placeholders)', async () => {
    const settings = [
      { rowsAsArray: true, nestTables: true, namedPlaceholders: true, typeCast: () => 'cast by the app' },
      { nestTables: '_', typeCast: false },
    ];
    for (const [i, odd] of settings.entries()) {
      const pool = mysql.createPool({ uri: MYSQL_URL, connectionLimit: 2, ...odd });
      pools.push(pool);
      const store = new MysqlStore({ pool, table: tableFor(`odd_pool_${i}`) });
      await store.save('s', '{"a":1}', 60_000);
      assert.equal(await store.load('s'), '{"a":1}');
      assert.equal(await store.patch('s', patchOf({ b: 2 }), 60_000), true);
      assert.equal(await store.load('s'), '{"a":1,"b":2}');
      await sql(`UPDATE \`${tableFor(`odd_pool_${i}`)}\` SET expires_at = UTC_TIMESTAMP(3) - INTERVAL 1 SECOND`);
      assert.equal(await store.sweep(), 1);
      await store.close();
    }
  });

  it('refuses a pool whose connections do not carry utf8mb4, before writing anything', async () => {
    const latin1 = mysql.createPool({ uri: MYSQL_URL, charset: 'LATIN1_SWEDISH_CI', connectionLimit: 1 });
    pools.push(latin1);
    const store = new MysqlStore({ pool: latin1, table: tableFor('latin1') });
    await assert.rejects(store.save('s', '{"emoji":"😀"}'), /needs connections that use the utf8mb4 character set/);
    await store.close();
  });

  it('throws a TypeError naming the option for a bad table, database, pool, timeout, sweep interval or createTable', () => {
    const { pool } = newPool(1);
    for (const bad of ['', 'x; DROP TABLE y', 'my-table', '1abc', 'a`b', 'x'.repeat(64), 'tablé', ' sessions']) {
      assert.throws(() => new MysqlStore({ pool, table: bad }), (error: unknown) => error instanceof TypeError && /option table of MysqlStore/.test(error.message));
      assert.throws(() => new MysqlStore({ pool, database: bad }), (error: unknown) => error instanceof TypeError && /option database of MysqlStore/.test(error.message));
      assert.throws(() => mysqlTableSql(bad), TypeError);
    }
    assert.throws(() => new MysqlStore({} as never), /option pool of MysqlStore must be a mysql2 pool/);
    assert.throws(() => new MysqlStore({ pool: { query() {} } as never }), /option pool of MysqlStore must be a mysql2 pool/);
    assert.throws(() => new MysqlStore(undefined as never), /MysqlStore needs an options object/);
    assert.throws(() => new MysqlStore({ pool, queryTimeout: -1 }), /option queryTimeout of MysqlStore/);
    assert.throws(() => new MysqlStore({ pool, sweepInterval: 1.5 }), /option sweepInterval of MysqlStore/);
    assert.throws(() => new MysqlStore({ pool, createTable: 'yes' as unknown as boolean }), /option createTable of MysqlStore/);
  });

  it('documents the table as SQL that creates it when run as it is', async () => {
    const table = tableFor('documented');
    const ddl = mysqlTableSql(table);
    assert.match(ddl, /^CREATE TABLE IF NOT EXISTS `kss_.*_documented` \(/);
    assert.match(ddl, /;\nCREATE TABLE IF NOT EXISTS `kss_.*_documented_users` \(/);
    await runScript(ddl);
    await runScript(ddl); // Idempotent: safe to run twice.
    const [{ db }] = (await sql<{ db: string }>('SELECT DATABASE() AS db')) as [{ db: string }];
    assert.match(mysqlTableSql(table, db), new RegExp(`^CREATE TABLE IF NOT EXISTS \`${db}\`\\.\`${table}\``));
    const store = new MysqlStore({ pool: newPool(1).pool, table, createTable: false });
    await store.save('s', '{"ok":true}');
    assert.equal(await store.load('s'), '{"ok":true}');
    assert.equal(await store.indexSession('u', entryOf('s', 60_000)), true);
    await store.close();
  });

  it('creates the table again when it was dropped while the store was running', async () => {
    const table = tableFor('dropped');
    const store = new MysqlStore({ pool: newPool(1).pool, table });
    await store.save('s', '{}');
    await sql(`DROP TABLE \`${table}\``);
    await assert.rejects(store.load('s'), /table `.*_dropped` does not exist/);
    await store.save('s', '{"again":true}');
    assert.equal(await store.load('s'), '{"again":true}');
    await store.close();
  });

  it('works with table names of the longest length allowed', async () => {
    const { pool } = newPool(2);
    const long = ['a', 'b'].map((last) => tableFor(`${'x'.repeat(62 - `kss_${tag}_`.length)}${last}`));
    for (const table of long) {
      assert.equal(table.length, 63);
      const store = new MysqlStore({ pool, table });
      await store.save('s', JSON.stringify({ table }), 60_000);
      assert.equal(await store.indexSession('u', entryOf('s', 60_000)), true);
      assert.equal(await store.load('s'), JSON.stringify({ table }));
      assert.equal((await store.listIndexed('u')).length, 1, 'each table has a users\' index of its own');
      await store.close();
    }
  });

  it('leaves the pool open on close and rejects calls after close', async () => {
    const { pool } = newPool(1);
    const store = new MysqlStore({ pool, table: tableFor('close') });
    await store.save('s', '{}');
    await store.close();
    const [rows] = await pool.query('SELECT 1 AS one');
    assert.deepEqual((rows as RowDataPacket[]).map((row) => ({ ...row })), [{ one: 1 }]);
    await assert.rejects(store.load('s'), /MysqlStore is closed/);
  });

  it('deletes expired rows on its sweep timer, in batches, and keeps live ones', async () => {
    const table = tableFor('sweep');
    const store = new MysqlStore({ pool: newPool(2).pool, table, sweepInterval: 50 });
    await store.save('live', '{}', 3_600_000);
    await store.save('forever', '{}');
    await insertExpired(table, 2500); // Several batches of 500.
    const count = async (): Promise<number> => Number((await sql<{ n: number }>(`SELECT COUNT(*) AS n FROM \`${table}\` WHERE sid LIKE 'expired-%'`))[0]?.n);
    const deadline = Date.now() + 10_000;
    while ((await count()) !== 0 && Date.now() < deadline) await sleep(25);
    assert.equal(await count(), 0, 'the sweep must delete every expired row');
    const left = await sql<{ sid: Buffer }>(`SELECT sid FROM \`${table}\` ORDER BY sid`);
    assert.deepEqual(
      left.map((row) => row.sid.toString()),
      ['forever', 'live'],
    );
    await store.close();
    await sql(`INSERT INTO \`${table}\` (sid, data, expires_at) VALUES ('late', '{}', UTC_TIMESTAMP(3) - INTERVAL 1 SECOND)`);
    assert.equal(await store.sweep().catch(() => 'closed'), 'closed');
  });

  it('runs one sweep at a time: a second sweep() waits and sweeps itself, close() waits for a running sweep, sweep() after close rejects', async () => {
    const table = tableFor('sweep_overlap');
    const store = new MysqlStore({ pool: newPool(2).pool, table, sweepInterval: 0 });
    await store.save('live', '{}', 3_600_000);
    await checkOneSweepAtATime(store, (count) => insertExpired(table, count), 1200, /MysqlStore is closed/);
  });

  it('sweeps 2500 expired rows in one sweep() call and says how many went', async () => {
    const table = tableFor('sweep_call');
    const store = new MysqlStore({ pool: newPool(2).pool, table, sweepInterval: 0 });
    await store.save('live', '{}', 3_600_000);
    await insertExpired(table, 2500);
    assert.equal(await store.sweep(), 2500);
    assert.equal(await store.load('live'), '{}');
    await store.close();
  });
});

describe('MysqlStore faults', { skip }, () => {
  it('fails within queryTimeout when the server accepts connections but never answers', async () => {
    const sockets = new Set<net.Socket>();
    const silent = net.createServer((socket) => {
      sockets.add(socket);
      socket.on('error', () => {});
    });
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
    const { port } = silent.address() as net.AddressInfo;
    const pool = mysql.createPool({ host: '127.0.0.1', port, user: 'root', database: 'test', connectionLimit: 2, connectTimeout: 60_000 });
    const store = new MysqlStore({ pool, queryTimeout: 300 });
    try {
      const started = Date.now();
      await assert.rejects(store.load('s'), /MySQL did not answer the start-up check within 300 ms/);
      await assert.rejects(store.load('s'), /did not answer .* within 300 ms.*queryTimeout/);
      assert.ok(Date.now() - started < 10_000, 'the calls must not hang');
    } finally {
      await store.close();
      for (const socket of sockets) socket.destroy();
      await new Promise((resolve) => silent.close(resolve));
      await pool.end().catch(() => undefined);
    }
  });

  it('fails within queryTimeout when a write waits on a row lock, stops it on the server so it never lands, then works again', async () => {
    const table = tableFor('locked');
    const store = new MysqlStore({ pool: newPool(2).pool, table, queryTimeout: 300 });
    await store.save('held', '{"v":1}');
    const holder = await admin().getConnection();
    /** Statements on this table that wait for a row lock. */
    const waiting = async (): Promise<number> => {
      const [rows] = await holder.query<RowDataPacket[]>(
        "SELECT count(*) AS n FROM information_schema.INNODB_TRX WHERE trx_state = 'LOCK WAIT' AND trx_query LIKE CONCAT('%', ?, '%')",
        [table],
      );
      return Number(rows[0]?.['n'] ?? 0);
    };
    try {
      await holder.query('START TRANSACTION');
      await holder.query(`SELECT * FROM \`${table}\` WHERE sid = 'held' FOR UPDATE`);
      await assert.rejects(store.save('held', '{"v":2}'), /MySQL did not answer the save within 300 ms/);
      await assert.rejects(store.patch('held', patchOf({ w: 1 }), 60_000), /MySQL did not answer the patch within 300 ms/);
      assert.equal(await store.load('held'), '{"v":1}', 'reads do not wait for the row lock');
      // Left waiting, the timed-out writes would land once the lock is gone, after the requests were told
      // they failed, and perhaps after a newer save they would then undo. The store stops them on the server.
      const deadline = Date.now() + 5000;
      while ((await waiting()) > 0 && Date.now() < deadline) await sleep(10);
      assert.equal(await waiting(), 0, 'the timed-out writes no longer wait for the lock');
      await holder.query('ROLLBACK');
      await sleep(100);
      assert.equal(await store.load('held'), '{"v":1}', 'the writes that timed out never landed');
      await store.save('held', '{"v":3}');
      assert.equal(await store.load('held'), '{"v":3}');
    } finally {
      holder.release();
      await store.close();
    }
  });

  it('recovers by itself after the server kills every connection of its pool', async () => {
    const tracked = newPool(5);
    const store = new MysqlStore({ pool: tracked.pool, table: tableFor('fault') });
    await store.save('survivor', '{"n":1}');
    // Five busy calls at once open five connections, which the server then kills while they sit idle in the pool.
    await Promise.all(Array.from({ length: 5 }, () => store.load('survivor')));
    assert.equal(tracked.threadIds.size, 5);
    const killed = await killThreads(admin(), tracked.threadIds);
    assert.equal(killed, 5, 'the test must have killed the pool connections');

    const outcomes = await Promise.allSettled(Array.from({ length: 10 }, () => store.load('survivor')));
    for (const outcome of outcomes) {
      if (outcome.status === 'fulfilled') assert.equal(outcome.value, '{"n":1}');
      else assert.match(String(outcome.reason), /koa-session-store: MySQL load failed/);
    }
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
    console.log(`  after KILL: ${outcomes.filter((o) => o.status === 'rejected').length} of 10 calls failed, then recovered`);
    await store.close();
  });

  it('retries once on a new connection when its connection is killed mid-query, and fails when the retry is killed too', async () => {
    const table = tableFor('midquery');
    const tracked = newPool(1);
    const store = new MysqlStore({ pool: tracked.pool, table, queryTimeout: 10_000 });
    await store.save('held', '{"v":1}');
    const holder = await admin().getConnection();
    /** Waits until a connection of the store other than `previous` waits on the row lock; resolves to its id. */
    const waiting = async (previous?: number): Promise<number> => {
      for (let i = 0; i < 200; i += 1) {
        const ids = [...tracked.threadIds].filter((id) => id !== previous);
        if (ids.length > 0) {
          const rows = await sql<{ ID: number }>(
            `SELECT ID FROM information_schema.PROCESSLIST WHERE ID IN (${ids.map(Number).join(',')}) AND COMMAND = 'Execute' AND INFO LIKE 'INSERT INTO%'`,
          );
          if (rows[0]) return Number(rows[0].ID);
        }
        await sleep(20);
      }
      throw new Error('the save never waited on the row lock');
    };
    try {
      await holder.query('START TRANSACTION');
      await holder.query(`SELECT * FROM \`${table}\` WHERE sid = 'held' FOR UPDATE`);

      // Killed once: the store tries again on a fresh connection, which gets through once the lock is gone.
      const retried = store.save('held', '{"v":2}');
      const first = await waiting();
      assert.equal(await killThreads(admin(), [first]), 1);
      const second = await waiting(first);
      assert.notEqual(second, first);
      await holder.query('ROLLBACK');
      await retried;
      assert.equal(await store.load('held'), '{"v":2}', 'the retried save landed');

      // Killed twice: the call fails, with the driver's error as its cause.
      await holder.query('START TRANSACTION');
      await holder.query(`SELECT * FROM \`${table}\` WHERE sid = 'held' FOR UPDATE`);
      // Settled into a value at once, so that its rejection is never "unhandled" while the test is still killing.
      const blocked = store.save('held', '{"v":4}').then(
        () => assert.fail('the save must fail when its retry is killed too'),
        (error: unknown) => error as Error,
      );
      const third = await waiting();
      assert.equal(await killThreads(admin(), [third]), 1);
      const fourth = await waiting(third);
      assert.equal(await killThreads(admin(), [fourth]), 1);
      const error = await blocked;
      assert.match(error.message, /^koa-session-store: MySQL save failed \(Connection lost/);
      assert.equal((error.cause as { code?: string }).code, 'PROTOCOL_CONNECTION_LOST');
      await holder.query('ROLLBACK');
      await store.save('held', '{"v":5}');
      assert.equal(await store.load('held'), '{"v":5}');
    } finally {
      holder.release();
      await store.close();
    }
  });
});
