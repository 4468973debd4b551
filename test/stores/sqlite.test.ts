// SqliteStore on better-sqlite3: every shared SQLite test (test/support/sqlite-suite.ts:
// the contract, the user-sessions suite, the rows, the users' index, durability,
// the sweep, several processes on one file), then what only `path` does: the store
// opens the file itself with better-sqlite3, in WAL mode, and closes it.
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import Database from 'better-sqlite3';
import { SqliteStore } from '../../src/sqlite.js';
import { rawDb, runSqliteSuite, storeModule, type SqliteTestDriver } from '../support/sqlite-suite.js';

const betterSqlite3: SqliteTestDriver = {
  name: 'better-sqlite3',
  open: (path) => rawDb(new Database(path)),
  fileStore: (path, options = {}) => new SqliteStore({ path, ...options }),
  closeFileStore: (store) => store.close(),
  childStore: (path, options) => `
    import { SqliteStore } from ${JSON.stringify(storeModule)};
    const store = new SqliteStore({ path: ${JSON.stringify(path)}, ...${options} });`,
  childArgs: [],
};

await runSqliteSuite(betterSqlite3);

const dir = await mkdtemp(join(tmpdir(), 'koa-session-sqlite-path-'));
after(() => rm(dir, { recursive: true, force: true }));
let files = 0;
function newFile(): string {
  files += 1;
  return join(dir, `sessions-${files}.db`);
}

describe('SqliteStore on a file it opens (option path)', () => {
  it('switches the file it opened to WAL mode', async () => {
    const path = newFile();
    const store = new SqliteStore({ path, sweepInterval: 0 });
    await store.load('warm-up');
    const raw = new Database(path);
    assert.equal(raw.pragma('journal_mode', { simple: true }), 'wal');
    raw.close();
    await store.close();
  });

  it('closes the file it opened: the WAL is checkpointed and removed on close', async () => {
    const path = newFile();
    const store = new SqliteStore({ path });
    await store.save('s', '{"durable":true}');
    assert.ok(existsSync(`${path}-wal`), 'an open WAL database has a -wal file');
    await store.close();
    assert.equal(existsSync(`${path}-wal`), false, 'the last connection closing removes the -wal file');
    const raw = new Database(path);
    assert.equal(raw.prepare('SELECT data FROM sessions WHERE sid = ?').pluck().get('s'), '{"durable":true}');
    raw.close();
  });

  it('answers a call made while the file is opening with a promise, and plain values once it is open', async () => {
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
});
