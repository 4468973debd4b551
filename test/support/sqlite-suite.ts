// SqliteStore's tests, once per driver (better-sqlite3, node:sqlite): the
// store contract, the user-sessions suite over HTTP, the rows as an operator
// sees them, the users' index, durability across a killed process, the sweep,
// and writes racing from several processes on one file. Each driver's test
// file passes how to open a database with it; nothing here loads either one.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { SqliteStore } from '../../src/sqlite.js';
import type { SqliteDatabase } from '../../src/sqlite.js';
import type { IndexedSession, SessionPatch, SessionStore } from '../../src/store.js';
import { runStoreConformance } from '../../src/testing.js';
import { runUserSessionsSuite } from './user-sessions.js';
import { checkOneSweepAtATime } from './sweep.js';

export const storeModule = fileURLToPath(new URL('../../src/sqlite.ts', import.meta.url));
const repoRoot = fileURLToPath(new URL('../../', import.meta.url));

type Row = Record<string, unknown>;

/** A database opened by the test, as an operator with the sqlite3 shell would use it; rows are plain objects, blobs Buffers. */
export interface RawDb {
  /** The driver's own handle, to pass as `{ db }`. */
  readonly db: SqliteDatabase;
  exec(sql: string): void;
  run(sql: string, ...params: unknown[]): void;
  get(sql: string, ...params: unknown[]): Row | undefined;
  all(sql: string, ...params: unknown[]): Row[];
  /** The first column of the first row. */
  value(sql: string, ...params: unknown[]): unknown;
  /** The first column of every row. */
  values(sql: string, ...params: unknown[]): unknown[];
  close(): void;
}

/** How one driver opens databases; everything else is the same for both. */
export interface SqliteTestDriver {
  /** For test names: 'better-sqlite3' or 'node:sqlite'. */
  readonly name: string;
  /** Opens `path` (or ':memory:') with the driver. */
  open(path: string): RawDb;
  /** A store on the file at `path`, made as an app on this driver makes it. */
  fileStore(path: string, options?: { table?: string; sweepInterval?: number }): SqliteStore;
  /** Closes a store made by `fileStore`, and the database it opened for it. */
  closeFileStore(store: SqliteStore): Promise<void>;
  /** Module source for a child process that declares `const store`, a `fileStore(path, options)`; `options` is a JS object literal. */
  childStore(path: string, options: string): string;
  /** Extra node arguments a child process needs for the driver. */
  readonly childArgs: readonly string[];
}

/** A RawDb over a driver handle whose statements take positional parameters (both drivers' do). */
export function rawDb(db: SqliteDatabase & { close(): unknown }): RawDb {
  const statement = (sql: string) => db.prepare(sql) as unknown as { run(...p: unknown[]): unknown; get(...p: unknown[]): unknown; all(...p: unknown[]): unknown[] };
  const plain = (row: unknown): Row | undefined => {
    if (row === undefined || row === null) return undefined;
    const copy: Row = {};
    for (const [key, value] of Object.entries(row as Row)) copy[key] = value instanceof Uint8Array ? Buffer.from(value) : value;
    return copy;
  };
  const first = (row: Row | undefined): unknown => (row === undefined ? undefined : Object.values(row)[0]);
  return {
    db,
    exec: (sql) => void db.exec(sql),
    run: (sql, ...params) => void statement(sql).run(...params),
    get: (sql, ...params) => plain(statement(sql).get(...params)),
    all: (sql, ...params) => statement(sql).all(...params).map((row) => plain(row) as Row),
    value: (sql, ...params) => first(plain(statement(sql).get(...params))),
    values: (sql, ...params) => statement(sql).all(...params).map((row) => first(plain(row))),
    close: () => void db.close(),
  };
}

function patchOf(set: Record<string, unknown>, unset: string[] = []): SessionPatch {
  const values = Object.create(null) as Record<string, string>;
  for (const key of Object.keys(set)) values[key] = JSON.stringify(set[key]);
  return { set: values, unset };
}

function entryOf(sid: string, at: number, userAgent = 'agent', expiresAt: number | null = at + 3_600_000): IndexedSession {
  return { sid, createdAt: at, lastActiveAt: at, expiresAt, userAgent };
}

/**
 * Registers every SqliteStore test on `driver`. Await it at the top level: the
 * conformance kit makes its store while registering, so the temporary folder
 * must exist before.
 */
export async function runSqliteSuite(driver: SqliteTestDriver): Promise<void> {
  const label = `SqliteStore on ${driver.name}`;
  const dir = await mkdtemp(join(tmpdir(), 'koa-session-sqlite-'));
  let files = 0;
  after(() => rm(dir, { recursive: true, force: true }));
  /** A fresh database file path in this run's temporary folder. */
  const newFile = (): string => join(dir, `sessions-${++files}.db`);

  /** Runs a TypeScript module in a child node and resolves to its exit code and signal. */
  function runChild(source: string, timeoutMs = 30_000): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
    return new Promise((resolve, reject) => {
      const child = spawn(process.execPath, [...driver.childArgs, '--import', 'tsx', '--input-type=module', '-e', source], {
        cwd: repoRoot,
        stdio: ['ignore', 'inherit', 'inherit'],
      });
      const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
      child.once('error', reject);
      child.once('exit', (code, signal) => {
        clearTimeout(timer);
        resolve({ code, signal });
      });
    });
  }

  runStoreConformance(`${label}, a file`, {
    create: () => driver.fileStore(newFile()),
    destroy: (store: SessionStore) => driver.closeFileStore(store as SqliteStore),
  });

  const memory = driver.open(':memory:');
  runStoreConformance(`${label}, an in-memory database passed as db`, {
    create: () => new SqliteStore({ db: memory.db, table: 'kit_sessions', sweepInterval: 0 }),
    destroy: async (store: SessionStore) => {
      await (store as SqliteStore).close();
      memory.close();
    },
  });

  runUserSessionsSuite(`${label}, a file`, {
    create: () => driver.fileStore(newFile()),
    destroy: (store) => driver.closeFileStore(store),
  });

  describe(`${label} as an operator sees it`, () => {
    let store: SqliteStore;
    let raw: RawDb;
    const rowOf = (sid: string, table = 'sessions') => raw.get(`SELECT sid, data, expires_at FROM "${table}" WHERE sid = ?`, sid);

    before(async () => {
      const path = newFile();
      store = driver.fileStore(path, { sweepInterval: 0 });
      await store.load('warm-up'); // The file and tables exist once the first call has run.
      raw = driver.open(path);
    });
    after(async () => {
      raw.close();
      await driver.closeFileStore(store);
    });

    it('creates the sessions table with sid, data and expires_at, and an index on expires_at', () => {
      const columns = raw.all(`SELECT name, type, pk, "notnull" FROM pragma_table_info('sessions') ORDER BY cid`);
      assert.deepEqual(columns, [
        { name: 'sid', type: 'TEXT', pk: 1, notnull: 0 },
        { name: 'data', type: 'TEXT', pk: 0, notnull: 1 },
        { name: 'expires_at', type: 'INTEGER', pk: 0, notnull: 0 },
      ]);
      const indexed = raw.values(`SELECT il.name FROM pragma_index_list('sessions') AS l, pragma_index_info(l.name) AS il WHERE l.origin = 'c'`);
      assert.deepEqual(indexed, ['expires_at']);
    });

    it('creates sessions_users with a primary key (user_id, sid) and an index on sid', () => {
      const columns = raw.all(`SELECT name, type, pk, "notnull" FROM pragma_table_info('sessions_users') ORDER BY cid`);
      assert.deepEqual(columns, [
        { name: 'user_id', type: 'TEXT', pk: 1, notnull: 1 },
        { name: 'sid', type: 'TEXT', pk: 2, notnull: 1 },
        { name: 'created_at', type: 'INTEGER', pk: 0, notnull: 1 },
        { name: 'last_active_at', type: 'INTEGER', pk: 0, notnull: 1 },
        { name: 'expires_at', type: 'INTEGER', pk: 0, notnull: 0 },
        { name: 'user_agent', type: 'TEXT', pk: 0, notnull: 1 },
      ]);
      const indexes = raw.all(
        `SELECT l.name AS name, group_concat(il.name) AS columns FROM pragma_index_list('sessions_users') AS l, pragma_index_info(l.name) AS il GROUP BY l.name ORDER BY l.origin`,
      );
      assert.deepEqual(
        indexes.map((index) => index.columns),
        ['sid', 'user_id,sid'],
      );
      assert.equal(indexes[0]?.name, 'sessions_users_sid');
    });

    it('keeps the exact JSON text and an expiry in ms since the epoch in the row', async () => {
      const json = '{ "spaced" : [1 , 2], "esc": "\\u00e9", "n": 1.50 }';
      const before = Date.now();
      await store.save('exact', json, 60_000);
      const after = Date.now();
      const row = rowOf('exact');
      assert.ok(row);
      assert.equal(row.data, json);
      const expiresAt = row.expires_at as number | null;
      assert.ok(expiresAt !== null && expiresAt >= before + 60_000 && expiresAt <= after + 60_000, `expires_at ${expiresAt}`);

      await store.save('forever', '{"a":1}');
      assert.equal(rowOf('forever')?.expires_at, null);
    });

    it('moves expires_at on touch and on patch, and to NULL without a ttl', async () => {
      await store.save('moving', '{"a":1}', 1000);
      const first = (rowOf('moving')?.expires_at as number | undefined) ?? 0;
      await store.touch('moving', 3_600_000);
      const touched = (rowOf('moving')?.expires_at as number | undefined) ?? 0;
      assert.ok(touched >= first + 3_500_000, 'touch must push expires_at out');
      await store.patch('moving', patchOf({ b: 2 }), 7_200_000);
      const patched = rowOf('moving');
      assert.ok(((patched?.expires_at as number | undefined) ?? 0) >= touched + 3_500_000, 'patch must reset expires_at');
      assert.deepEqual(JSON.parse((patched?.data as string | undefined) ?? ''), { a: 1, b: 2 });
      await store.touch('moving');
      assert.equal(rowOf('moving')?.expires_at, null);
    });

    it('ignores a row whose expires_at has passed, on load, touch and patch', async () => {
      raw.run('INSERT INTO sessions (sid, data, expires_at) VALUES (?, ?, ?)', 'stale', '{"old":true}', Date.now() - 1);
      assert.equal(await store.load('stale'), null);
      await store.touch('stale', 60_000);
      assert.equal(await store.patch('stale', patchOf({ revived: true }), 60_000), false);
      const row = rowOf('stale');
      assert.equal(row?.data, '{"old":true}', 'an expired row must not be written to');
      assert.ok(((row?.expires_at as number | undefined) ?? Infinity) < Date.now(), 'an expired row must stay expired');
    });

    it('removes the row on remove', async () => {
      await store.save('gone', '{}');
      await store.remove('gone');
      assert.equal(rowOf('gone'), undefined);
    });

    it('patches keys with dots, quotes, brackets, $, spaces, Unicode, U+0000 and __proto__, keeping other values exactly', async () => {
      const original =
        '{"keep":{ "deep" : [1, 2.50, "\\ud800", "a\\u0000b"] },"n":1.50,"big":1E400,"esc":"\\u00e9\\u2028","lone":"\\udfff",' +
        '"k\\u0000":1,"k":0,"__proto__":{"polluted":true},"a.b":"old","$":"old","[0]":"old","it\'s":"old","say \\"hi\\"":"old",' +
        '"with space":"old","back\\\\slash":"old","ключ":"old","🔑":"old","":"old","drop me":1}';
      JSON.parse(original); // The test data itself is valid JSON.
      await store.save('tricky', original, 60_000);
      const set: Record<string, unknown> = {
        'a.b': { now: 'object' },
        $: ['array', null],
        '[0]': 'string with "quotes", \\ and \u2028',
        "it's": 12.5,
        'say "hi"': true,
        'with space': null,
        'back\\slash': '\ud800 lone',
        ключ: 'значение',
        '🔑': '🔓',
        '': '',
        'new.key': { 'nested.key': { $: 1 } },
        'nul\u0000key': 'a\u0000b',
      };
      const patch = patchOf(set, ['drop me', 'never there']);
      (patch.set as Record<string, string>)['__proto__'] = '{"replaced":[1]}';
      assert.equal(await store.patch('tricky', patch, 60_000), true);

      const text = (rowOf('tricky')?.data as string | undefined) ?? '';
      const stored = JSON.parse(text) as Record<string, unknown>;
      const expected = JSON.parse(original) as Record<string, unknown>;
      delete expected['drop me'];
      for (const [key, value] of Object.entries(set)) expected[key] = value;
      Object.defineProperty(expected, '__proto__', { value: { replaced: [1] }, enumerable: true, writable: true, configurable: true });
      assert.deepEqual(stored, expected);
      assert.equal(Object.getPrototypeOf(stored), Object.prototype);
      // Untouched values keep their text, not just their value: numbers, escapes and spacing as written.
      for (const fragment of ['"n":1.50', '"big":1E400', '"esc":"\\u00e9\\u2028"', '"lone":"\\udfff"', '"k":0', '{ "deep" : [1, 2.50, "\\ud800", "a\\u0000b"] }']) {
        assert.ok(text.includes(fragment), `${fragment} must be kept as written, in ${text}`);
      }
    });

    it('keeps keys with lone surrogates apart on patch, spelled as they were', async () => {
      // SQLite's JSON functions decode "\ud800" and "\ud801" to bytes that read back alike: one key was lost.
      const original = '{"\\ud800":"first","\\ud801":"second","\\udc00\\ud800":"reversed","k\\u0000":"nul","k":"plain","n":1}';
      await store.save('surrogates', original, 60_000);
      assert.equal(await store.patch('surrogates', patchOf({ n: 2, '\udfff': 'added' }), 60_000), true);
      const text = (rowOf('surrogates')?.data as string | undefined) ?? '';
      assert.equal(text, '{"\\ud800":"first","\\ud801":"second","\\udc00\\ud800":"reversed","k\\u0000":"nul","k":"plain","n":2,"\\udfff":"added"}');
      await store.patch('surrogates', patchOf({}, ['\ud800', 'k']), 60_000);
      assert.deepEqual(JSON.parse((rowOf('surrogates')?.data as string | undefined) ?? ''), {
        '\ud801': 'second',
        '\udc00\ud800': 'reversed',
        'k\u0000': 'nul',
        n: 2,
        '\udfff': 'added',
      });
    });

    it('refuses to patch a row that is not a JSON object, leaving it as it was', async () => {
      for (const data of ['[1,2]', '"text"', '{"a":1', '{"a":1}{"b":2}', '{"a" 1}', '{a:1}', '']) {
        raw.run('INSERT OR REPLACE INTO sessions (sid, data, expires_at) VALUES (?, ?, NULL)', 'not-object', data);
        await assert.rejects(
          async () => store.patch('not-object', patchOf({ b: 2 }), 60_000),
          (error: unknown) => error instanceof TypeError && /^koa-session-store: SqliteStore\.patch found a stored session that is not a JSON object/.test(error.message),
          `data ${JSON.stringify(data)}`,
        );
        assert.equal(rowOf('not-object')?.data, data);
      }
    });

    it('rejects a patch with a malformed value and leaves the row as it was', async () => {
      await store.save('malformed', '{"a":1}', 60_000);
      const set = Object.create(null) as Record<string, string>;
      set.b = '{not json';
      await assert.rejects(async () => store.patch('malformed', { set, unset: ['a'] }, 60_000));
      assert.equal(rowOf('malformed')?.data, '{"a":1}');
    });

    it('writes {} when a patch removes every key', async () => {
      await store.save('emptied', '{"a":1,"b":2}', 60_000);
      await store.patch('emptied', patchOf({}, ['a', 'b']), 60_000);
      assert.equal(rowOf('emptied')?.data, '{}');
    });
  });

  describe(`${label}: the users' index`, () => {
    let raw: RawDb;
    let store: SqliteStore;
    let run = 0;
    /** A user id and a session id of this test alone. */
    const fresh = (label: string) => `${label}-${++run}`;
    const indexRows = (user: string) => raw.all('SELECT sid, created_at, last_active_at, expires_at, user_agent FROM sessions_users WHERE user_id = ? ORDER BY sid', user);
    before(() => {
      raw = driver.open(':memory:');
      store = new SqliteStore({ db: raw.db, sweepInterval: 0 });
    });
    after(async () => {
      await store.close();
      raw.close();
    });

    it('indexes a live session, and on a second upsert keeps createdAt and userAgent and replaces lastActiveAt and expiresAt', async () => {
      const [user, sid] = [fresh('u'), fresh('s')];
      await store.save(sid, '{}', 60_000);
      assert.equal(await store.indexSession(user, { sid, createdAt: 1000, lastActiveAt: 1000, expiresAt: Date.now() + 60_000, userAgent: 'first agent' }), true);
      const later = Date.now() + 120_000;
      assert.equal(await store.indexSession(user, { sid, createdAt: 2000, lastActiveAt: 3000, expiresAt: later, userAgent: 'second agent' }), true);
      assert.deepEqual(await store.listIndexed(user), [{ sid, createdAt: 1000, lastActiveAt: 3000, expiresAt: later, userAgent: 'first agent' }]);
      assert.deepEqual(indexRows(user), [{ sid, created_at: 1000, last_active_at: 3000, expires_at: later, user_agent: 'first agent' }]);
      await store.indexSession(user, { sid, createdAt: 1000, lastActiveAt: 4000, expiresAt: null, userAgent: 'first agent' });
      assert.equal((await store.listIndexed(user))[0]?.expiresAt, null, 'a session that never expires has expiresAt null');
    });

    it('never indexes a session that is missing or expired, and writes nothing then', async () => {
      const user = fresh('u');
      const [missing, expired] = [fresh('missing'), fresh('expired')];
      raw.run('INSERT INTO sessions (sid, data, expires_at) VALUES (?, ?, ?)', expired, '{}', Date.now() - 1);
      raw.run('INSERT INTO sessions_users VALUES (?, ?, 1, 1, 1, ?)', user, 'old', 'an expired entry');
      for (const sid of [missing, expired]) assert.equal(await store.indexSession(user, entryOf(sid, Date.now())), false);
      assert.deepEqual(
        indexRows(user).map((row) => row.sid),
        ['old'],
        'nothing written, nothing deleted',
      );
    });

    it("drops the user's expired entries on an upsert, and nobody else's", async () => {
      const [user, other, sid] = [fresh('u'), fresh('other'), fresh('s')];
      const now = Date.now();
      for (const owner of [user, other]) {
        raw.run('INSERT INTO sessions_users VALUES (?, ?, 1, 1, ?, ?)', owner, 'expired', now - 1, 'x');
        raw.run('INSERT INTO sessions_users VALUES (?, ?, 1, 1, ?, ?)', owner, 'alive', now + 60_000, 'x');
        raw.run('INSERT INTO sessions_users VALUES (?, ?, 1, 1, NULL, ?)', owner, 'forever', 'x');
      }
      await store.save(sid, '{}', 60_000);
      await store.indexSession(user, entryOf(sid, now));
      assert.deepEqual(
        indexRows(user).map((row) => row.sid),
        ['alive', 'forever', sid].sort(),
      );
      assert.deepEqual(
        indexRows(other).map((row) => row.sid),
        ['alive', 'expired', 'forever'],
      );
    });

    it('moves a session to the user indexing it last: a session is in one user index', async () => {
      const [first, second, sid] = [fresh('first'), fresh('second'), fresh('s')];
      await store.save(sid, '{}', 60_000);
      await store.indexSession(first, entryOf(sid, 1000));
      await store.indexSession(second, entryOf(sid, 2000));
      assert.deepEqual(await store.listIndexed(first), []);
      assert.deepEqual(
        (await store.listIndexed(second)).map((entry) => entry.createdAt),
        [2000],
      );
    });

    it('removes one entry on unindexSession, and a missing entry or user is fine', async () => {
      const user = fresh('u');
      const sids = [fresh('a'), fresh('b')];
      for (const sid of sids) {
        await store.save(sid, '{}', 60_000);
        await store.indexSession(user, entryOf(sid, 1000));
      }
      await store.unindexSession(user, sids[0] as string);
      await store.unindexSession(user, 'never indexed');
      await store.unindexSession(fresh('nobody'), sids[1] as string);
      assert.deepEqual(
        (await store.listIndexed(user)).map((entry) => entry.sid),
        [sids[1]],
      );
    });

    it('keeps user ids and user agents exactly: lone surrogates, U+FFFD, U+0000 and look-alikes of the escape stay apart', async () => {
      const tag = fresh('');
      const users = ['\ud800', '\ud801', '\ufffd', '"\\ud800"', '\\ud800', 'a\u0000b', 'a', '\udc00\ud800', '😀', '\ud83d'].map((id) => id + tag);
      const agents = ['\ud800 agent', '\udfff', '\ufffd', 'a\u0000b', 'é😀', '"\\udfff"', '', 'x'.repeat(256), '\ud83d', 'plain'];
      const now = Date.now();
      for (const [i, user] of users.entries()) {
        const sid = `exact-${tag}-${i}`;
        await store.save(sid, '{}', 60_000);
        assert.equal(await store.indexSession(user, entryOf(sid, now + i, agents[i])), true);
      }
      for (const [i, user] of users.entries()) {
        assert.deepEqual(await store.listIndexed(user), [entryOf(`exact-${tag}-${i}`, now + i, agents[i])], `user ${JSON.stringify(user)}`);
      }
      // Well-formed ids stay text an operator can query as it is; only an id with a lone surrogate is a BLOB of its JSON.
      assert.equal(raw.value('SELECT typeof(user_id) FROM sessions_users WHERE user_id = ?', `a${tag}`), 'text');
      const blob = raw.value('SELECT user_id FROM sessions_users WHERE sid = ?', `exact-${tag}-0`);
      assert.ok(Buffer.isBuffer(blob));
      assert.equal(blob.toString('utf8'), JSON.stringify(users[0]));
      await store.unindexSession(users[1] as string, `exact-${tag}-1`);
      assert.deepEqual(await store.listIndexed(users[1] as string), []);
      assert.equal((await store.listIndexed(users[0] as string)).length, 1, 'unindexing "\\ud801" left "\\ud800" alone');
      assert.equal((await store.listIndexed(users[2] as string)).length, 1, 'and U+FFFD too');
    });

    it('leaves out rows it did not write, and refuses a malformed entry or user id with a TypeError naming the member', async () => {
      const [user, sid] = [fresh('u'), fresh('s')];
      await store.save(sid, '{}', 60_000);
      raw.run("INSERT INTO sessions_users VALUES (?, 'odd', 'yesterday', 1, NULL, 'x')", user);
      raw.run("INSERT INTO sessions_users VALUES (?, 'blob', 1, 1, NULL, X'00ff')", user);
      assert.deepEqual(await store.listIndexed(user), []);
      const bad: Array<[string, unknown]> = [
        ['entry.createdAt', { ...entryOf(sid, 1), createdAt: 'now' }],
        ['entry.expiresAt', { ...entryOf(sid, 1), expiresAt: undefined }],
        ['entry.userAgent', { ...entryOf(sid, 1), userAgent: 7 }],
        ['entry.sid', { ...entryOf(sid, 1), sid: 1 }],
      ];
      for (const [member, entry] of bad) {
        await assert.rejects(
          async () => store.indexSession(user, entry as IndexedSession),
          (error: unknown) => error instanceof TypeError && error.message.startsWith('koa-session-store: SqliteStore.indexSession: ') && error.message.includes(member),
          member,
        );
      }
      await assert.rejects(async () => store.indexSession(42 as unknown as string, entryOf(sid, 1)), /user id must be a string/);
      await assert.rejects(async () => store.listIndexed(null as unknown as string), /user id must be a string/);
      assert.equal(raw.value('SELECT count(*) FROM sessions_users WHERE sid = ?', sid), 0);
    });

    it('adds the index table to a database of an earlier version, keeping its sessions', async () => {
      const path = newFile();
      const old = driver.open(path);
      old.exec('CREATE TABLE sessions (sid TEXT PRIMARY KEY, data TEXT NOT NULL, expires_at INTEGER); CREATE INDEX sessions_expires_at ON sessions (expires_at);');
      old.run('INSERT INTO sessions VALUES (?, ?, NULL)', 'kept', '{"userId":"u"}');
      old.close();
      const upgraded = driver.fileStore(path, { sweepInterval: 0 });
      try {
        assert.equal(await upgraded.load('kept'), '{"userId":"u"}');
        assert.equal(await upgraded.indexSession('u', entryOf('kept', 1000)), true);
        assert.deepEqual(
          (await upgraded.listIndexed('u')).map((entry) => entry.sid),
          ['kept'],
        );
      } finally {
        await driver.closeFileStore(upgraded);
      }
    });

    it('uses <table>_users for the table option, shortened with a hash for the longest names', async () => {
      const db = driver.open(':memory:');
      const long = ['a', 'b'].map((last) => `${'x'.repeat(62)}${last}`);
      for (const table of ['Web_Sessions2', ...long]) {
        const named = new SqliteStore({ db: db.db, table, sweepInterval: 0 });
        await named.save('s', '{}', 60_000);
        await named.indexSession('u', entryOf('s', 1000));
        assert.equal((await named.listIndexed('u')).length, 1);
        await named.close();
      }
      const tables = db.values(`SELECT name FROM sqlite_master WHERE type = 'table' AND name LIKE '%_users' ORDER BY name`) as string[];
      assert.equal(tables.length, 3);
      assert.ok(tables.includes('Web_Sessions2_users'));
      for (const name of tables) assert.ok(name.length <= 63, name);
      const indexes = db.values(`SELECT name FROM sqlite_master WHERE type = 'index' AND name LIKE '%_users_sid'`) as string[];
      assert.equal(indexes.length, 3);
      for (const name of indexes) assert.ok(name.length <= 63, name);
      db.close();
    });
  });

  describe(`${label}: inside a transaction the caller opened`, () => {
    it('patches and indexes as part of it, and a failed patch undoes only its own work', async () => {
      const raw = driver.open(':memory:');
      const store = new SqliteStore({ db: raw.db, sweepInterval: 0 });
      await store.save('s', '{"a":1}', 60_000);
      raw.exec('BEGIN');
      raw.run("INSERT INTO sessions VALUES ('callers', '{}', NULL)");
      assert.equal(await store.patch('s', patchOf({ b: 2 }), 60_000), true);
      const set = Object.create(null) as Record<string, string>;
      set.c = '{not json';
      await assert.rejects(async () => store.patch('s', { set, unset: [] }, 60_000));
      assert.equal(await store.indexSession('u', entryOf('s', 1000)), true);
      assert.equal(raw.value("SELECT count(*) FROM sessions WHERE sid = 'callers'"), 1, "the caller's write is still there");
      raw.exec('ROLLBACK');
      assert.equal(await store.load('s'), '{"a":1}', "the caller's rollback takes the patch with it");
      assert.deepEqual(await store.listIndexed('u'), []);
      await store.close();
      raw.close();
    });
  });

  describe(`${label} durability`, () => {
    it('loads every session saved by a process that was killed right after saving', async () => {
      const path = newFile();
      const source = `
        ${driver.childStore(path, '{}')}
        for (let i = 0; i < 200; i += 1) await store.save('sid-' + i, JSON.stringify({ i, text: 'é😀' }), i % 2 ? 3_600_000 : undefined);
        await store.patch('sid-7', { set: Object.assign(Object.create(null), { patched: 'true' }), unset: ['text'] }, 3_600_000);
        await store.indexSession('user', { sid: 'sid-7', createdAt: 1, lastActiveAt: 2, expiresAt: null, userAgent: 'ua' });
        // No close(), no checkpoint: the process dies the hard way, with the writes only in the WAL.
        process.kill(process.pid, 'SIGKILL');
      `;
      const exit = await runChild(source);
      assert.equal(exit.signal, 'SIGKILL', 'the child must have been killed, not have exited on its own');
      const store = driver.fileStore(path);
      try {
        for (let i = 0; i < 200; i += 1) {
          const expected = i === 7 ? { i, patched: true } : { i, text: 'é😀' };
          assert.deepEqual(JSON.parse((await store.load(`sid-${i}`)) ?? 'null'), expected, `session sid-${i} was lost`);
        }
        assert.deepEqual(await store.listIndexed('user'), [{ sid: 'sid-7', createdAt: 1, lastActiveAt: 2, expiresAt: null, userAgent: 'ua' }]);
      } finally {
        await driver.closeFileStore(store);
      }
    });

    it('keeps all 100 keys when 4 processes patch one session at once, 25 keys each', async () => {
      const path = newFile();
      const setup = driver.fileStore(path, { sweepInterval: 0 });
      await setup.save('shared', '{"base":true}', 3_600_000);
      const ready = join(dir, `go-${Date.now()}`);
      const writer = (n: number): string => `
        import { existsSync } from 'node:fs';
        ${driver.childStore(path, '{ sweepInterval: 0 }')}
        await store.load('shared');
        // Start together, so that the writers really overlap.
        while (!existsSync(${JSON.stringify(ready)})) await new Promise((r) => setTimeout(r, 5));
        await Promise.all(Array.from({ length: 25 }, (_, i) =>
          store.patch('shared', { set: Object.assign(Object.create(null), { ['w${n}_' + i]: JSON.stringify(i) }), unset: [] }, 3_600_000)));
        await store.close();
      `;
      const children = [0, 1, 2, 3].map((n) => runChild(writer(n)));
      await sleep(500);
      await writeFile(ready, '');
      const exits = await Promise.all(children);
      assert.deepEqual(
        exits.map((exit) => exit.code),
        [0, 0, 0, 0],
      );
      const data = JSON.parse((await setup.load('shared')) ?? '{}') as Record<string, unknown>;
      await driver.closeFileStore(setup);
      const missing: string[] = [];
      for (let n = 0; n < 4; n += 1) for (let i = 0; i < 25; i += 1) if (data[`w${n}_${i}`] !== i) missing.push(`w${n}_${i}`);
      assert.deepEqual(missing, [], `${missing.length} of 100 patches were lost`);
      assert.equal(data.base, true);
    });

    it("lists all 100 sessions when 4 processes index 25 sessions each of one user at once, each upsert dropping the user's expired entries", async () => {
      const path = newFile();
      const setup = driver.fileStore(path, { sweepInterval: 0 });
      await setup.save('warm-up', '{}');
      const ready = join(dir, `go-index-${Date.now()}`);
      const writer = (n: number): string => `
        import { existsSync } from 'node:fs';
        ${driver.childStore(path, '{ sweepInterval: 0 }')}
        for (let i = 0; i < 25; i += 1) await store.save('p${n}-' + i, '{}', 3_600_000);
        while (!existsSync(${JSON.stringify(ready)})) await new Promise((r) => setTimeout(r, 5));
        for (let i = 0; i < 25; i += 1) {
          const now = Date.now();
          const indexed = await store.indexSession('shared user', { sid: 'p${n}-' + i, createdAt: now, lastActiveAt: now, expiresAt: now + 3_600_000, userAgent: 'p${n}' });
          if (indexed !== true) throw new Error('not indexed');
        }
        await store.close();
      `;
      const children = [0, 1, 2, 3].map((n) => runChild(writer(n)));
      await sleep(500);
      await writeFile(ready, '');
      const exits = await Promise.all(children);
      assert.deepEqual(
        exits.map((exit) => exit.code),
        [0, 0, 0, 0],
      );
      const listed = await setup.listIndexed('shared user');
      await driver.closeFileStore(setup);
      assert.equal(listed.length, 100);
      assert.equal(new Set(listed.map((entry) => entry.sid)).size, 100);
    });
  });

  describe(`${label} sweep`, () => {
    it('deletes expired rows on its timer and keeps live ones', async () => {
      const path = newFile();
      const store = driver.fileStore(path, { sweepInterval: 50 });
      await store.save('live', '{}', 3_600_000);
      await store.save('forever', '{}');
      const raw = driver.open(path);
      try {
        raw.exec('BEGIN');
        for (let i = 0; i < 50; i += 1) raw.run('INSERT INTO sessions (sid, data, expires_at) VALUES (?, ?, ?)', `expired-${i}`, '{}', Date.now() - 1000);
        raw.exec('COMMIT');
        const count = () => raw.value(`SELECT count(*) FROM sessions WHERE sid LIKE 'expired-%'`);
        assert.equal(count(), 50);
        const deadline = Date.now() + 10_000;
        while (count() !== 0 && Date.now() < deadline) await sleep(25);
        assert.equal(count(), 0, 'the sweep must delete every expired row');
        assert.deepEqual(raw.values('SELECT sid FROM sessions ORDER BY sid'), ['forever', 'live']);
      } finally {
        raw.close();
        await driver.closeFileStore(store);
      }
    });

    it('sweeps a backlog larger than one batch when sweep() is called', async () => {
      const raw = driver.open(':memory:');
      const store = new SqliteStore({ db: raw.db, sweepInterval: 0 });
      raw.exec('BEGIN');
      for (let i = 0; i < 2500; i += 1) raw.run('INSERT INTO sessions (sid, data, expires_at) VALUES (?, ?, ?)', `old-${i}`, '{}', Date.now() - 1);
      raw.run('INSERT INTO sessions (sid, data, expires_at) VALUES (?, ?, ?)', 'young', '{}', Date.now() + 3_600_000);
      raw.exec('COMMIT');
      assert.equal(await store.sweep(), 2500);
      assert.deepEqual(raw.values('SELECT sid FROM sessions'), ['young']);
      await store.close();
      raw.close();
    });

    it('runs one sweep at a time: a second sweep() waits and sweeps itself, close() waits for a running sweep, sweep() after close rejects', async () => {
      const raw = driver.open(':memory:');
      const store = new SqliteStore({ db: raw.db, sweepInterval: 0 });
      const expire = (count: number, from: number): void => {
        raw.exec('BEGIN');
        for (let i = from; i < from + count; i += 1) raw.run('INSERT INTO sessions (sid, data, expires_at) VALUES (?, ?, ?)', `old-${i}`, '{}', Date.now() - 1);
        raw.exec('COMMIT');
      };
      await checkOneSweepAtATime(store, (count, round) => expire(count, round === 1 ? 0 : 5000), 2500, /SqliteStore is closed/);
      raw.close();
    });

    it('deletes index entries of sessions expired, removed or never there, over more than one batch, and keeps the others', async () => {
      const raw = driver.open(':memory:');
      const store = new SqliteStore({ db: raw.db, sweepInterval: 0 });
      const now = Date.now();
      const entries: IndexedSession[] = [];
      for (const [sid, ttl] of [
        ['live', 3_600_000],
        ['forever', undefined],
        ['index outlived', 3_600_000],
      ] as const) {
        await store.save(sid, '{}', ttl);
        const entry = entryOf(sid, now, 'ua', sid === 'index outlived' ? now - 1 : null);
        await store.indexSession('u', sid === 'index outlived' ? { ...entry, expiresAt: now + 1 } : entry);
        entries.push(entry);
      }
      // The entry's own expiresAt has passed though the session lives on: the middleware would write a new one.
      raw.run("UPDATE sessions_users SET expires_at = ? WHERE sid = 'index outlived'", now - 1);
      raw.exec('BEGIN');
      raw.run("INSERT INTO sessions VALUES ('expired session', '{}', ?)", now - 1);
      raw.run("INSERT INTO sessions_users VALUES ('u', 'expired session', 1, 1, NULL, 'ua')");
      for (let i = 0; i < 2500; i += 1) raw.run('INSERT INTO sessions_users VALUES (?, ?, 1, 1, NULL, ?)', `user-${i % 7}`, `removed-${i}`, 'ua');
      raw.exec('COMMIT');
      assert.equal(await store.sweep(), 1, 'the count is of sessions');
      assert.deepEqual(raw.values('SELECT sid FROM sessions_users ORDER BY sid'), ['forever', 'live']);
      await store.close();
      raw.close();
    });
  });

  describe(`${label}: options and close`, () => {
    it('uses the table named by the table option', async () => {
      const raw = driver.open(':memory:');
      const store = new SqliteStore({ db: raw.db, table: 'Web_Sessions2' });
      await store.save('s', '{"t":1}');
      assert.equal(raw.value('SELECT data FROM "Web_Sessions2" WHERE sid = ?', 's'), '{"t":1}');
      await store.close();
      // Names of the longest length allowed, sharing all but their last character, get a table and an index each.
      const long = ['a', 'b'].map((last) => `${'x'.repeat(62)}${last}`);
      for (const table of long) {
        const longStore = new SqliteStore({ db: raw.db, table });
        await longStore.save('s', `{"t":"${table}"}`);
        await longStore.close();
      }
      const indexes = raw.values(`SELECT tbl_name FROM sqlite_master WHERE type = 'index' AND sql LIKE '%expires_at%' ORDER BY tbl_name`);
      assert.deepEqual(indexes, ['Web_Sessions2', ...long]);
      raw.close();
    });

    it('throws a TypeError naming the option for a table name that is not a plain identifier', () => {
      const raw = driver.open(':memory:');
      for (const table of ['', 'sessions; DROP TABLE x', 'my-sessions', '1sessions', 'a"b', 'x'.repeat(64), 'sé']) {
        assert.throws(() => new SqliteStore({ db: raw.db, table }), (error: unknown) => error instanceof TypeError && /option table of SqliteStore/.test(error.message));
      }
      raw.close();
    });

    it('throws a TypeError unless exactly one of path and db is given, and for a db that is no database', () => {
      const raw = driver.open(':memory:');
      assert.throws(() => new SqliteStore({} as never), /exactly one of the options path .* and db/);
      assert.throws(() => new SqliteStore({ path: newFile(), db: raw.db } as never), /exactly one of the options path .* and db/);
      assert.throws(() => new SqliteStore({ path: '' }), TypeError);
      for (const db of [{}, { prepare() {} }, 'db', null]) {
        assert.throws(
          () => new SqliteStore({ db: db as unknown as SqliteDatabase }),
          /option db of SqliteStore must be an open better-sqlite3 Database or node:sqlite DatabaseSync/,
        );
      }
      assert.throws(() => new SqliteStore({ db: raw.db, sweepInterval: -1 }), /option sweepInterval of SqliteStore/);
      raw.close();
    });

    it('fails where it is made on a database that is closed already', () => {
      const raw = driver.open(':memory:');
      raw.close();
      assert.throws(() => new SqliteStore({ db: raw.db }), /not open/);
    });

    it('leaves a database passed as db open after close, and rejects calls after close', async () => {
      const raw = driver.open(':memory:');
      const store = new SqliteStore({ db: raw.db, sweepInterval: 10 });
      await store.save('s', '{}');
      await store.close();
      assert.equal(raw.value('SELECT count(*) FROM sessions'), 1, 'the database is still open');
      await assert.rejects(async () => store.load('s'), /SqliteStore is closed/);
      await assert.rejects(async () => store.listIndexed('u'), /SqliteStore is closed/);
      await store.close(); // A second close is harmless.
      raw.close();
    });

    it('answers with plain values, not promises, on a database passed as db', async () => {
      const raw = driver.open(':memory:');
      const store = new SqliteStore({ db: raw.db });
      assert.equal(store.save('s', '{"a":1}', 60_000), undefined);
      assert.equal(store.load('s'), '{"a":1}');
      assert.equal(store.patch('s', patchOf({ b: 2 }), 60_000), true);
      assert.equal(store.touch('s', 60_000), undefined);
      assert.equal(store.indexSession('u', entryOf('s', 1000)), true);
      assert.deepEqual(store.listIndexed('u'), [entryOf('s', 1000)]);
      assert.equal(store.unindexSession('u', 's'), undefined);
      assert.equal(store.remove('s'), undefined);
      assert.equal(store.load('s'), null);
      await store.close();
      raw.close();
    });

    it('rejects a non-string session, a bad ttl and a non-string id', async () => {
      const raw = driver.open(':memory:');
      const store = new SqliteStore({ db: raw.db });
      await assert.rejects(async () => store.save('s', { a: 1 } as unknown as string), /needs the session as a JSON string/);
      await assert.rejects(async () => store.save('s', '{}', -5), /time to live/);
      await assert.rejects(async () => store.load(42 as unknown as string), /session id must be a string/);
      await store.close();
      raw.close();
    });
  });
}
