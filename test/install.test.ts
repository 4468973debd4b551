// Installing the packed package as a user does today: `npm install` beside the
// current major of every driver it supports, with strict peer dependencies, so
// that a peer range that stops short of a current major fails here (ERESOLVE)
// before it fails for a user. The packages come from the npm registry (or
// npm's cache); scripts are skipped, so no native module is built.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import { promisify } from 'node:util';
import { packPackage } from './support/pack.js';

const run = promisify(execFile);
const work = mkdtempSync(path.join(os.tmpdir(), 'kss-install-'));
after(() => rmSync(work, { recursive: true, force: true }));

/** Today's majors (2026-11) of Koa and of every optional peer. */
const besides = ['koa@3', 'ioredis@6', 'redis@6', 'better-sqlite3@13', 'mysql2@3', 'pg@8', 'postgres@3', 'sodium-native@5'];

describe('npm install of the packed package next to current drivers', () => {
  it(`succeeds with strict peer dependencies and no peer warning beside ${besides.join(', ')}`, { timeout: 300_000 }, async () => {
    const tarball = await packPackage(work);
    const consumer = path.join(work, 'consumer');
    mkdirSync(consumer);
    writeFileSync(path.join(consumer, 'package.json'), JSON.stringify({ name: 'consumer', private: true, type: 'module' }));
    const npm = (args: string[]) =>
      run('npm', args, { cwd: consumer, env: { ...process.env, npm_config_loglevel: 'warn', npm_config_update_notifier: 'false' } }).then(
        ({ stdout, stderr }) => ({ ok: true, output: `${stdout}${stderr}` }),
        (error: { stdout?: string; stderr?: string }) => ({ ok: false, output: `${error.stdout ?? ''}${error.stderr ?? String(error)}` }),
      );
    const install = await npm(['install', '--strict-peer-deps', '--ignore-scripts', '--prefer-offline', '--no-audit', '--no-fund', tarball, ...besides]);
    assert.ok(install.ok, `npm install failed:\n${install.output.slice(0, 3000)}`);
    const peerLines = install.output.split('\n').filter((line) => /peer|ERESOLVE/i.test(line));
    assert.deepEqual(peerLines, [], 'npm warned about peer dependencies');
    const tree = await npm(['ls', '--all']);
    assert.ok(tree.ok, `npm ls found an invalid or missing dependency:\n${tree.output.slice(0, 3000)}`);
    for (const name of besides) {
      const [pkg, major] = name.split('@') as [string, string];
      const { version } = JSON.parse(readFileSync(path.join(consumer, 'node_modules', pkg, 'package.json'), 'utf8')) as { version: string };
      assert.equal(version.split('.')[0], major, `${pkg} ${version} installed, not major ${major}`);
    }
    // The entry points load with those drivers beside them (better-sqlite3 and sodium-native are not built: no scripts).
    const loaded = await run(
      process.execPath,
      ['--input-type=module', '-e', "for (const entry of ['', '/redis', '/postgres', '/mysql', '/sqlite', '/testing']) await import('koa-session-store' + entry); console.log('ok');"],
      { cwd: consumer },
    );
    assert.equal(loaded.stdout.trim(), 'ok');
  });
});
