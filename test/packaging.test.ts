// The published shape, loaded from the build output by package name, as users load it.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { describe, it } from 'node:test';

function run(args: string[]): string {
  return execFileSync(process.execPath, args, { cwd: process.cwd(), encoding: 'utf8' }).trim();
}

describe('package entry points', () => {
  it('require() returns the callable factory with .session, .default and the stores on it', () => {
    const out = run([
      '-e',
      `const session = require('koa-session-store');
       const mw = session({ name: 'x' });
       console.log(JSON.stringify([typeof session, typeof mw, mw.constructor.name, typeof session.session, session.default === session,
         typeof session.MemoryStore, typeof require('koa-session-store/sqlite').SqliteStore, typeof require('koa-session-store/redis').RedisStore,
         typeof require('koa-session-store/postgres').PostgresStore, typeof require('koa-session-store/testing').runStoreConformance,
         typeof require('koa-session-store/mysql').MysqlStore, typeof require('koa-session-store/mysql').mysqlTableSql]));`,
    ]);
    assert.deepEqual(JSON.parse(out), [
      'function', 'function', 'AsyncFunction', 'function', true, 'function', 'function', 'function', 'function', 'function', 'function', 'function',
    ]);
  });

  it('import gives the factory as default and as a named export', () => {
    const out = run([
      '--input-type=module',
      '-e',
      `import session, { session as named, MemoryStore } from 'koa-session-store';
       import { SqliteStore } from 'koa-session-store/sqlite';
       import { RedisStore } from 'koa-session-store/redis';
       import { PostgresStore } from 'koa-session-store/postgres';
       import { runStoreConformance } from 'koa-session-store/testing';
       import { MysqlStore } from 'koa-session-store/mysql';
       console.log(JSON.stringify([session === named, typeof session(), typeof MemoryStore, typeof SqliteStore, typeof RedisStore, typeof PostgresStore, typeof runStoreConformance, typeof MysqlStore]));`,
    ]);
    assert.deepEqual(JSON.parse(out), [true, 'function', 'function', 'function', 'function', 'function', 'function', 'function']);
  });

  it('serves a session through the CommonJS build on a real Koa 2 app', async () => {
    const out = run([
      '-e',
      `const Koa = require('koa2'); const http = require('node:http'); const session = require('koa-session-store');
       const app = new Koa(); app.keys = ['k'];
       app.use(session()); app.use((ctx) => { ctx.session.views = (ctx.session.views || 0) + 1; ctx.body = String(ctx.session.views); });
       const server = http.createServer(app.callback()).listen(0, '127.0.0.1', async () => {
         const url = 'http://127.0.0.1:' + server.address().port;
         const first = await fetch(url);
         const cookie = first.headers.getSetCookie().map((c) => c.split(';')[0]).join('; ');
         const second = await fetch(url, { headers: { cookie } });
         console.log(await first.text(), await second.text());
         server.close();
       });`,
    ]);
    assert.equal(out, '1 2');
  });

  it('loading the main entry does not load any database driver', () => {
    const out = run([
      '-e',
      `require('koa-session-store'); require('koa-session-store/redis'); require('koa-session-store/postgres'); require('koa-session-store/sqlite');
       require('koa-session-store/mysql');
       const loaded = Object.keys(require.cache).filter((p) => /node_modules\\/(ioredis|pg|better-sqlite3|redis|mysql2)\\//.test(p));
       console.log(JSON.stringify(loaded));`,
    ]);
    assert.deepEqual(JSON.parse(out), []);
  });
});
