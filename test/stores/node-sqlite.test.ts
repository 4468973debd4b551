// SqliteStore on Node's built-in node:sqlite (`new DatabaseSync(path)` passed
// as `{ db }`): every shared SQLite test (test/support/sqlite-suite.ts), then
// what is its own. Registered only where node:sqlite can be imported (Node
// 22.5+; 22.5 to 22.12 with --experimental-sqlite). This file never loads
// better-sqlite3, so it runs on a Node whose ABI the installed addon was not
// built for.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { describe, it } from 'node:test';
import { SqliteStore } from '../../src/sqlite.js';
import type { SqliteDatabase } from '../../src/sqlite.js';
import { rawDb, runSqliteSuite, storeModule, type SqliteTestDriver } from '../support/sqlite-suite.js';

/** The parts of node:sqlite the tests use (the @types/node of this repository predates the module). */
interface DatabaseSync extends SqliteDatabase {
  close(): void;
  readonly isTransaction?: boolean;
}
interface NodeSqlite {
  DatabaseSync: new (path: string) => DatabaseSync;
}

// A variable, so that neither TypeScript nor a bundler resolves the name on Node 20.
const specifier: string = 'node:sqlite';
const nodeSqlite = (await import(specifier).catch(() => undefined)) as NodeSqlite | undefined;

if (nodeSqlite !== undefined) {
  const { DatabaseSync } = nodeSqlite;
  /** What the store sets on a file it opens itself; a database passed as db is used as it is. */
  const SETUP = 'PRAGMA journal_mode = WAL; PRAGMA busy_timeout = 5000';
  const opened = new Map<SqliteStore, DatabaseSync>();
  const driver: SqliteTestDriver = {
    name: 'node:sqlite',
    open: (path) => rawDb(new DatabaseSync(path)),
    fileStore: (path, options = {}) => {
      const db = new DatabaseSync(path);
      db.exec(SETUP);
      const store = new SqliteStore({ db, ...options });
      opened.set(store, db);
      return store;
    },
    closeFileStore: async (store) => {
      await store.close();
      opened.get(store)?.close();
      opened.delete(store);
    },
    childStore: (path, options) => `
      import { DatabaseSync } from 'node:sqlite';
      import { SqliteStore } from ${JSON.stringify(storeModule)};
      const db = new DatabaseSync(${JSON.stringify(path)});
      db.exec(${JSON.stringify(SETUP)});
      const store = new SqliteStore({ db, ...${options} });`,
    // Node 22.5 to 22.12 need the flag; every Node with node:sqlite knows --disable-warning.
    childArgs: [...process.execArgv.filter((arg) => arg === '--experimental-sqlite'), '--disable-warning=ExperimentalWarning'],
  };

  await runSqliteSuite(driver);

  describe('SqliteStore on node:sqlite, what is its own', () => {
    it('works inside a transaction the caller opened on a Node that cannot tell (no isTransaction before 22.16), through a savepoint', async () => {
      const db = new DatabaseSync(':memory:');
      // The same database without isTransaction, as node:sqlite before 22.16 has it.
      const older = { prepare: (sql: string) => db.prepare(sql), exec: (sql: string) => db.exec(sql) } as SqliteDatabase;
      const store = new SqliteStore({ db: older, sweepInterval: 0 });
      await store.save('s', '{"a":1}', 60_000);
      db.exec('BEGIN');
      const set = Object.create(null) as Record<string, string>;
      set.b = '2';
      assert.equal(await store.patch('s', { set, unset: [] }, 60_000), true);
      set.c = '{not json';
      await assert.rejects(async () => store.patch('s', { set, unset: [] }, 60_000));
      assert.equal(db.isTransaction ?? true, true, "the caller's transaction is still open");
      db.exec('COMMIT');
      assert.equal(await store.load('s'), '{"a":1,"b":2}');
      // Outside a transaction, its own IMMEDIATE one.
      set.c = '3';
      assert.equal(await store.patch('s', { set, unset: [] }, 60_000), true);
      assert.deepEqual(JSON.parse((await store.load('s')) ?? ''), { a: 1, b: 2, c: 3 });
      await store.close();
      db.close();
    });

    it('never loads better-sqlite3: the CommonJS build serves a session on node:sqlite alone', () => {
      const out = execFileSync(
        process.execPath,
        [
          '--disable-warning=ExperimentalWarning',
          '-e',
          `const { SqliteStore } = require('koa-session-store/sqlite');
           const { DatabaseSync } = require('node:sqlite');
           const db = new DatabaseSync(':memory:');
           const store = new SqliteStore({ db, sweepInterval: 0 });
           store.save('s', '{"n":1}', 60000);
           const loaded = Object.keys(require.cache).filter((p) => p.includes('better-sqlite3'));
           console.log(JSON.stringify([store.load('s'), loaded]));`,
        ],
        { encoding: 'utf8' },
      );
      assert.deepEqual(JSON.parse(out), ['{"n":1}', []]);
    });
  });
}
