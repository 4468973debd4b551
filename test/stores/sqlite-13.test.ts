// SqliteStore over better-sqlite3 13 (installed under the alias
// better-sqlite3-13), which needs Node 22 or later: on Node 20 it loads but
// crashes the process, so this file registers its suites only on Node 22+.
// CI runs the whole suite on Node 20, 22 and 24 (scripts/test-node-versions.sh).
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after } from 'node:test';
import { SqliteStore } from '../../src/sqlite.js';
import type { SqliteDatabase } from '../../src/sqlite.js';
import { runStoreConformance } from '../../src/testing.js';
import { runConcurrencySuite } from '../support/concurrency.js';

const major = Number(process.versions.node.split('.')[0]);

if (major >= 22) {
  // A name in a variable: the alias has no declarations of its own, and the driver's shape is typed below.
  const alias = 'better-sqlite3-13';
  const { default: Database } = (await import(alias)) as { default: new (file: string) => SqliteDatabase & { close(): void } };
  const folder = mkdtempSync(path.join(os.tmpdir(), 'kss-sqlite13-'));
  const opened: Array<{ close(): void }> = [];
  after(() => {
    for (const db of opened) db.close();
    rmSync(folder, { recursive: true, force: true });
  });
  let n = 0;
  const create = () => {
    const db = new Database(path.join(folder, `s${++n}.db`));
    opened.push(db);
    return new SqliteStore({ db });
  };
  const destroy = (store: unknown) => (store as SqliteStore).close();
  runStoreConformance('SqliteStore on better-sqlite3 13', { create, destroy });
  runConcurrencySuite('SqliteStore on better-sqlite3 13', { create, destroy });
}
