// SqliteStore against the store contract, on a file it opens itself and on an
// in-memory database passed in, then what only SQLite has: the rows as an
// operator sees them, WAL, durability across a killed process, the sweep, and
// patches racing from several processes on one file.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import Database from 'better-sqlite3';
import { SqliteStore } from '../../src/sqlite.js';
import type { SessionPatch, SessionStore } from '../../src/store.js';
import { runStoreConformance } from '../../src/testing.js';

const storeModule = fileURLToPath(new URL('../../src/sqlite.ts', import.meta.url));
const repoRoot = fileURLToPath(new URL('../../', import.meta.url));

const dir = await mkdtemp(join(tmpdir(), 'koa-session-sqlite-'));
after(() => rm(dir, { recursive: true, force: true }));

let files = 0;
/** A fresh database file path in this run's temporary folder. */
function newFile(): string {
  files += 1;
  return join(dir, `sessions-${files}.db`);
}

interface Row {
  sid: string;
  data: string;
  expires_at: number | null;
}

/** Opens the file a second time, as an operator with the sqlite3 shell would. */
function inspect(path: string): Database.Database {
  return new Database(path);
}

function rowOf(db: Database.Database, sid: string, table = 'sessions'): Row | undefined {
  return db.prepare(`SELECT sid, data, expires_at FROM "${table}" WHERE sid = ?`).get(sid) as Row | undefined;
}

function patchOf(set: Record<string, unknown>, unset: string[] = []): SessionPatch {
  const values = Object.create(null) as Record<string, string>;
  for (const key of Object.keys(set)) values[key] = JSON.stringify(set[key]);
  return { set: values, unset };
}

/** Runs a TypeScript module in a child node and resolves to its exit code and signal. */
function runChild(source: string, timeoutMs = 30_000): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', source], {
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

runStoreConformance('SqliteStore on a file it opens', {
  create: () => new SqliteStore({ path: newFile() }),
  destroy: (store: SessionStore) => (store as SqliteStore).close(),
});

const memoryDb = new Database(':memory:');
runStoreConformance('SqliteStore on an in-memory database passed as db', {
  create: () => new SqliteStore({ db: memoryDb, table: 'kit_sessions', sweepInterval: 0 }),
  destroy: async (store: SessionStore) => {
    await (store as SqliteStore).close();
    memoryDb.close();
  },
});

describe('SqliteStore as an operator sees it', () => {
  let path: string;
  let store: SqliteStore;
  let raw: Database.Database;

  before(async () => {
    path = newFile();
    store = new SqliteStore({ path, sweepInterval: 0 });
    await store.load('warm-up'); // The file, WAL mode and table exist once the first call has run.
    raw = inspect(path);
  });
  after(async () => {
    raw.close();
    await store.close();
  });

  it('creates the sessions table with sid, data and expires_at, and an index on expires_at', () => {
    const columns = raw.prepare(`SELECT name, type, pk, "notnull" FROM pragma_table_info('sessions') ORDER BY cid`).all();
    assert.deepEqual(columns, [
      { name: 'sid', type: 'TEXT', pk: 1, notnull: 0 },
      { name: 'data', type: 'TEXT', pk: 0, notnull: 1 },
      { name: 'expires_at', type: 'INTEGER', pk: 0, notnull: 0 },
    ]);
    const indexed = raw
      .prepare(`SELECT il.name FROM pragma_index_list('sessions') AS l, pragma_index_info(l.name) AS il WHERE l.origin = 'c'`)
      .pluck()
      .all();
    assert.deepEqual(indexed, ['expires_at']);
  });

  it('switches the file it opened to WAL mode', () => {
    assert.equal(raw.pragma('journal_mode', { simple: true }), 'wal');
  });

  it('keeps the exact JSON text and an expiry in ms since the epoch in the row', async () => {
    const json = '{ "spaced" : [1 , 2], "esc": "\\u00e9", "n": 1.50 }';
    const before = Date.now();
    await store.save('exact', json, 60_000);
    const after = Date.now();
    const row = rowOf(raw, 'exact');
    assert.ok(row);
    assert.equal(row.data, json);
    assert.ok(row.expires_at !== null && row.expires_at >= before + 60_000 && row.expires_at <= after + 60_000, `expires_at ${row.expires_at}`);

    await store.save('forever', '{"a":1}');
    assert.equal(rowOf(raw, 'forever')?.expires_at, null);
  });

  it('moves expires_at on touch and on patch, and to NULL without a ttl', async () => {
    await store.save('moving', '{"a":1}', 1000);
    const first = rowOf(raw, 'moving')?.expires_at ?? 0;
    await store.touch('moving', 3_600_000);
    const touched = rowOf(raw, 'moving')?.expires_at ?? 0;
    assert.ok(touched >= first + 3_500_000, 'touch must push expires_at out');
    await store.patch('moving', patchOf({ b: 2 }), 7_200_000);
    const patched = rowOf(raw, 'moving');
    assert.ok((patched?.expires_at ?? 0) >= touched + 3_500_000, 'patch must reset expires_at');
    assert.deepEqual(JSON.parse(patched?.data ?? ''), { a: 1, b: 2 });
    await store.touch('moving');
    assert.equal(rowOf(raw, 'moving')?.expires_at, null);
  });

  it('ignores a row whose expires_at has passed, on load, touch and patch', async () => {
    raw.prepare('INSERT INTO sessions (sid, data, expires_at) VALUES (?, ?, ?)').run('stale', '{"old":true}', Date.now() - 1);
    assert.equal(await store.load('stale'), null);
    await store.touch('stale', 60_000);
    assert.equal(await store.patch('stale', patchOf({ revived: true }), 60_000), false);
    const row = rowOf(raw, 'stale');
    assert.equal(row?.data, '{"old":true}', 'an expired row must not be written to');
    assert.ok((row?.expires_at ?? Infinity) < Date.now(), 'an expired row must stay expired');
  });

  it('removes the row on remove', async () => {
    await store.save('gone', '{}');
    await store.remove('gone');
    assert.equal(rowOf(raw, 'gone'), undefined);
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

    const text = rowOf(raw, 'tricky')?.data ?? '';
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
    const text = rowOf(raw, 'surrogates')?.data ?? '';
    assert.equal(text, '{"\\ud800":"first","\\ud801":"second","\\udc00\\ud800":"reversed","k\\u0000":"nul","k":"plain","n":2,"\\udfff":"added"}');
    await store.patch('surrogates', patchOf({}, ['\ud800', 'k']), 60_000);
    assert.deepEqual(JSON.parse(rowOf(raw, 'surrogates')?.data ?? ''), {
      '\ud801': 'second',
      '\udc00\ud800': 'reversed',
      'k\u0000': 'nul',
      n: 2,
      '\udfff': 'added',
    });
  });

  it('refuses to patch a row that is not a JSON object, leaving it as it was', async () => {
    for (const data of ['[1,2]', '"text"', '{"a":1', '{"a":1}{"b":2}', '{"a" 1}', '{a:1}', '']) {
      raw.prepare('INSERT OR REPLACE INTO sessions (sid, data, expires_at) VALUES (?, ?, NULL)').run('not-object', data);
      await assert.rejects(
        async () => store.patch('not-object', patchOf({ b: 2 }), 60_000),
        (error: unknown) => error instanceof TypeError && /^koa-session-store: SqliteStore\.patch found a stored session that is not a JSON object/.test(error.message),
        `data ${JSON.stringify(data)}`,
      );
      assert.equal(rowOf(raw, 'not-object')?.data, data);
    }
  });

  it('rejects a patch with a malformed value and leaves the row as it was', async () => {
    await store.save('malformed', '{"a":1}', 60_000);
    const set = Object.create(null) as Record<string, string>;
    set.b = '{not json';
    await assert.rejects(async () => store.patch('malformed', { set, unset: ['a'] }, 60_000));
    assert.equal(rowOf(raw, 'malformed')?.data, '{"a":1}');
  });

  it('writes {} when a patch removes every key', async () => {
    await store.save('emptied', '{"a":1,"b":2}', 60_000);
    await store.patch('emptied', patchOf({}, ['a', 'b']), 60_000);
    assert.equal(rowOf(raw, 'emptied')?.data, '{}');
  });
});

describe('SqliteStore durability', () => {
  it('loads every session saved by a process that was killed right after saving', async () => {
    const path = newFile();
    const source = `
      import { SqliteStore } from ${JSON.stringify(storeModule)};
      const store = new SqliteStore({ path: ${JSON.stringify(path)} });
      for (let i = 0; i < 200; i += 1) await store.save('sid-' + i, JSON.stringify({ i, text: 'é😀' }), i % 2 ? 3_600_000 : undefined);
      await store.patch('sid-7', { set: Object.assign(Object.create(null), { patched: 'true' }), unset: ['text'] }, 3_600_000);
      // No close(), no checkpoint: the process dies the hard way, with the writes only in the WAL.
      process.kill(process.pid, 'SIGKILL');
    `;
    const exit = await runChild(source);
    assert.equal(exit.signal, 'SIGKILL', 'the child must have been killed, not have exited on its own');
    const store = new SqliteStore({ path });
    try {
      for (let i = 0; i < 200; i += 1) {
        const expected = i === 7 ? { i, patched: true } : { i, text: 'é😀' };
        assert.deepEqual(JSON.parse((await store.load(`sid-${i}`)) ?? 'null'), expected, `session sid-${i} was lost`);
      }
    } finally {
      await store.close();
    }
  });

  it('keeps all 100 keys when 4 processes patch one session at once, 25 keys each', async () => {
    const path = newFile();
    const setup = new SqliteStore({ path, sweepInterval: 0 });
    await setup.save('shared', '{"base":true}', 3_600_000);
    const ready = join(dir, `go-${Date.now()}`);
    const writer = (n: number): string => `
      import { existsSync } from 'node:fs';
      import { SqliteStore } from ${JSON.stringify(storeModule)};
      const store = new SqliteStore({ path: ${JSON.stringify(path)}, sweepInterval: 0 });
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
    await setup.close();
    const missing: string[] = [];
    for (let n = 0; n < 4; n += 1) for (let i = 0; i < 25; i += 1) if (data[`w${n}_${i}`] !== i) missing.push(`w${n}_${i}`);
    assert.deepEqual(missing, [], `${missing.length} of 100 patches were lost`);
    assert.equal(data.base, true);
  });
});

describe('SqliteStore sweep', () => {
  it('deletes expired rows on its timer and keeps live ones', async () => {
    const path = newFile();
    const store = new SqliteStore({ path, sweepInterval: 50 });
    await store.save('live', '{}', 3_600_000);
    await store.save('forever', '{}');
    const raw = inspect(path);
    try {
      const insert = raw.prepare('INSERT INTO sessions (sid, data, expires_at) VALUES (?, ?, ?)');
      raw.transaction(() => {
        for (let i = 0; i < 50; i += 1) insert.run(`expired-${i}`, '{}', Date.now() - 1000);
      })();
      const count = raw.prepare(`SELECT count(*) FROM sessions WHERE sid LIKE 'expired-%'`).pluck();
      assert.equal(count.get(), 50);
      const deadline = Date.now() + 10_000;
      while (count.get() !== 0 && Date.now() < deadline) await sleep(25);
      assert.equal(count.get(), 0, 'the sweep must delete every expired row');
      assert.deepEqual(raw.prepare('SELECT sid FROM sessions ORDER BY sid').pluck().all(), ['forever', 'live']);
    } finally {
      raw.close();
      await store.close();
    }
  });

  it('sweeps a backlog larger than one batch when sweep() is called', async () => {
    const db = new Database(':memory:');
    const store = new SqliteStore({ db, sweepInterval: 0 });
    const insert = db.prepare('INSERT INTO sessions (sid, data, expires_at) VALUES (?, ?, ?)');
    db.transaction(() => {
      for (let i = 0; i < 2500; i += 1) insert.run(`old-${i}`, '{}', Date.now() - 1);
      insert.run('young', '{}', Date.now() + 3_600_000);
    })();
    assert.equal(await store.sweep(), 2500);
    assert.deepEqual(db.prepare('SELECT sid FROM sessions').pluck().all(), ['young']);
    await store.close();
    db.close();
  });
});

describe('SqliteStore options and close', () => {
  it('uses the table named by the table option', async () => {
    const db = new Database(':memory:');
    const store = new SqliteStore({ db, table: 'Web_Sessions2' });
    await store.save('s', '{"t":1}');
    assert.equal(rowOf(db, 's', 'Web_Sessions2')?.data, '{"t":1}');
    await store.close();
    // Names of the longest length allowed, sharing all but their last character, get a table and an index each.
    const long = ['a', 'b'].map((last) => `${'x'.repeat(62)}${last}`);
    for (const table of long) {
      const longStore = new SqliteStore({ db, table });
      await longStore.save('s', `{"t":"${table}"}`);
      await longStore.close();
    }
    const indexes = db.prepare(`SELECT tbl_name FROM sqlite_master WHERE type = 'index' AND sql LIKE '%expires_at%' ORDER BY tbl_name`).pluck().all();
    assert.deepEqual(indexes, ['Web_Sessions2', ...long]);
    db.close();
  });

  it('throws a TypeError naming the option for a table name that is not a plain identifier', () => {
    const db = new Database(':memory:');
    for (const table of ['', 'sessions; DROP TABLE x', 'my-sessions', '1sessions', 'a"b', 'x'.repeat(64), 'sé']) {
      assert.throws(() => new SqliteStore({ db, table }), (error: unknown) => error instanceof TypeError && /option table of SqliteStore/.test(error.message));
    }
    db.close();
  });

  it('throws a TypeError unless exactly one of path and db is given', () => {
    const db = new Database(':memory:');
    assert.throws(() => new SqliteStore({} as never), /exactly one of the options path .* and db/);
    assert.throws(() => new SqliteStore({ path: newFile(), db } as never), /exactly one of the options path .* and db/);
    assert.throws(() => new SqliteStore({ path: '' }), TypeError);
    assert.throws(() => new SqliteStore({ db: {} as Database.Database }), /option db of SqliteStore must be an open better-sqlite3 Database/);
    assert.throws(() => new SqliteStore({ db, sweepInterval: -1 }), /option sweepInterval of SqliteStore/);
    db.close();
  });

  it('leaves a database passed as db open after close, and rejects calls after close', async () => {
    const db = new Database(':memory:');
    const store = new SqliteStore({ db, sweepInterval: 10 });
    await store.save('s', '{}');
    await store.close();
    assert.equal(db.open, true);
    assert.equal(db.prepare('SELECT count(*) FROM sessions').pluck().get(), 1);
    await assert.rejects(async () => store.load('s'), /SqliteStore is closed/);
    await store.close(); // A second close is harmless.
    db.close();
  });

  it('closes the file it opened: the WAL is checkpointed and removed on close', async () => {
    const path = newFile();
    const store = new SqliteStore({ path });
    await store.save('s', '{"durable":true}');
    assert.ok(existsSync(`${path}-wal`), 'an open WAL database has a -wal file');
    await store.close();
    assert.equal(existsSync(`${path}-wal`), false, 'the last connection closing removes the -wal file');
    const raw = inspect(path);
    assert.equal(rowOf(raw, 's')?.data, '{"durable":true}');
    raw.close();
  });

  it('answers with plain values, not promises, once its database is open', async () => {
    const db = new Database(':memory:');
    const store = new SqliteStore({ db });
    assert.equal(store.save('s', '{"a":1}', 60_000), undefined);
    assert.equal(store.load('s'), '{"a":1}');
    assert.equal(store.patch('s', patchOf({ b: 2 }), 60_000), true);
    assert.equal(store.touch('s', 60_000), undefined);
    assert.equal(store.remove('s'), undefined);
    assert.equal(store.load('s'), null);
    await store.close();
    db.close();

    const path = newFile();
    const opening = new SqliteStore({ path });
    const first = opening.load('s');
    assert.ok(first instanceof Promise, 'a call made while the file is still opening gets a promise');
    assert.equal(await first, null);
    assert.equal(opening.load('s'), null, 'once open, a plain value');
    await opening.close();
  });

  it('reports a path it cannot open on the first call, with the path and a fix', async () => {
    const store = new SqliteStore({ path: join(dir, 'no-such-folder', 'x.db') });
    await assert.rejects(async () => store.load('s'), /could not open the database file .*no-such-folder.*check the path/);
    await store.close();
  });

  it('rejects a non-string session, a bad ttl and a non-string id', async () => {
    const db = new Database(':memory:');
    const store = new SqliteStore({ db });
    await assert.rejects(async () => store.save('s', { a: 1 } as unknown as string), /needs the session as a JSON string/);
    await assert.rejects(async () => store.save('s', '{}', -5), /time to live/);
    await assert.rejects(async () => store.load(42 as unknown as string), /session id must be a string/);
    await store.close();
    db.close();
  });
});
