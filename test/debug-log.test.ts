// Debug output is switched on the way Koa users expect (DEBUG=koa-session-store,
// the `debug` package's convention) or with NODE_DEBUG, and never carries a
// session id, a cookie value, a key or session data, whatever path logged.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { describe, it } from 'node:test';
import { debugEnabledBy } from '../src/debug.js';

function runFixture(env: Record<string, string>): { stderr: string; secrets: string[] } {
  const result = spawnSync(process.execPath, ['--import', 'tsx', 'test/fixtures/debug-app.ts'], {
    env: { ...process.env, DEBUG: '', NODE_DEBUG: '', ...env },
    encoding: 'utf8',
    timeout: 60_000,
  });
  assert.equal(result.status, 0, `the fixture ran: ${result.stderr.slice(-500)}`);
  const marked = result.stdout.split('\n').find((line) => line.startsWith('SECRETS ')) ?? 'SECRETS []';
  return { stderr: result.stderr, secrets: JSON.parse(marked.slice('SECRETS '.length)) as string[] };
}

describe('debug output', () => {
  it('reads DEBUG the way the debug package does', () => {
    assert.equal(debugEnabledBy('koa-session-store'), true);
    assert.equal(debugEnabledBy('koa*,express:*'), true);
    assert.equal(debugEnabledBy('*'), true);
    assert.equal(debugEnabledBy('*,-koa-session-store'), false);
    assert.equal(debugEnabledBy('koa-session'), false);
    assert.equal(debugEnabledBy('koa:*'), false);
    assert.equal(debugEnabledBy(''), false);
    assert.equal(debugEnabledBy(undefined), false);
  });

  for (const env of [{ DEBUG: 'koa-session-store' }, { NODE_DEBUG: 'koa-session-store' }]) {
    it(`logs with ${Object.keys(env)[0] as string} set, and no line holds an id, a cookie value, a key or data`, () => {
      const { stderr, secrets } = runFixture(env);
      const lines = stderr.split('\n').filter((line) => /koa-session-store|KOA-SESSION-STORE/.test(line));
      assert.ok(lines.length >= 10, `debug lines were written (${lines.length})`);
      assert.ok(secrets.length >= 10);
      for (const secret of secrets) assert.ok(!stderr.includes(secret), 'no debug line carries a session id, cookie value, key or data');
    });
  }

  it('is silent without DEBUG or NODE_DEBUG', () => {
    const { stderr } = runFixture({});
    assert.doesNotMatch(stderr, /koa-session-store [a-z]/i);
  });
});
