// Two app processes on one PostgreSQL (issue 13): each a Node process of its
// own (test/fixtures/postgres-index-app.ts) with its own pool and
// PostgresStore, so they share nothing but the database. Both list the same
// sessions of a user, and a revocation on one ends the session on the other at
// its next request; with both on pg, and with one on pg and one on postgres.js.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { after, describe, it } from 'node:test';
import pg from 'pg';
import type { UserSession } from '../../src/index.js';
import { DATABASE_URL, postgresSkip, runTag } from '../support/services.js';

const skip = await postgresSkip();
const tag = runTag();
const schemas: string[] = [];

after(async () => {
  if (skip || schemas.length === 0) return;
  const client = new pg.Client({ connectionString: DATABASE_URL });
  await client.connect();
  for (const schema of schemas) await client.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
  await client.end();
});

interface AppProcess {
  readonly url: string;
  readonly pid: number;
  stop(): Promise<void>;
}

/** Starts the fixture app in a Node process of its own and resolves once it listens. */
function startApp(env: Record<string, string>): Promise<AppProcess> {
  const child = spawn(process.execPath, ['--import', 'tsx', 'test/fixtures/postgres-index-app.ts'], {
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const stop = async (): Promise<void> => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
    await exited;
  };
  after(stop);
  let stderr = '';
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString('utf8')));
  return new Promise((resolve, reject) => {
    let stdout = '';
    const timer = setTimeout(() => {
      void stop();
      reject(new Error(`the app process did not start: ${stderr.slice(-500)}`));
    }, 30_000);
    child.stdout.on('data', (chunk: Buffer) => {
      stdout += chunk.toString('utf8');
      const line = /LISTENING (\S+)\n/.exec(stdout);
      if (line === null) return;
      clearTimeout(timer);
      resolve({ url: line[1] as string, pid: child.pid as number, stop });
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`the app process exited with ${code}: ${stderr.slice(-500)}`));
    });
  });
}

interface Device {
  readonly cookie: string;
  readonly sid: string;
}

/** GET `path` on `app` with `cookie`, as a browser would; resolves to the JSON body and the cookies it set. */
async function get(app: AppProcess, path: string, cookie = '', userAgent = 'test'): Promise<{ body: unknown; cookie: string }> {
  const response = await fetch(app.url + path, { headers: { cookie, 'user-agent': userAgent } });
  assert.equal(response.status, 200, `${path} on process ${app.pid}: ${response.status}`);
  const set = response.headers.getSetCookie().map((entry) => entry.split(';')[0] as string);
  return { body: await response.json(), cookie: set.join('; ') };
}

async function login(app: AppProcess, user: string, userAgent: string): Promise<Device> {
  const { body, cookie } = await get(app, `/login?user=${encodeURIComponent(user)}`, '', userAgent);
  return { cookie, sid: (body as { id: string }).id };
}

const devices = async (app: AppProcess, device: Device) => (await get(app, '/devices', device.cookie)).body as UserSession[];
const whoami = async (app: AppProcess, device: Device) => (await get(app, '/', device.cookie)).body as { id: string; session: Record<string, unknown>; pid: number };
const byAgent = (listed: UserSession[]) => listed.map((entry) => entry.userAgent).sort();

/** The scenario on two app processes on drivers `driverA` and `driverB`, sharing the schema `name`. */
async function twoProcesses(name: string, driverA: string, driverB: string): Promise<void> {
  const schema = `kss_${tag}_${name}`;
  schemas.push(schema);
  const env = (driver: string) => ({ KSS_DATABASE_URL: DATABASE_URL, KSS_SCHEMA: schema, KSS_DRIVER: driver });
  // Started together, so both stores create the tables at once.
  const [a, b] = await Promise.all([startApp(env(driverA)), startApp(env(driverB))]);
  assert.notEqual(a.pid, b.pid);
  const raw = new pg.Client({ connectionString: DATABASE_URL });
  await raw.connect();
  try {
    const alice = `alice-${randomUUID()}`;
    const [phone, laptop] = await Promise.all([login(a, alice, 'Phone on A'), login(b, alice, 'Laptop on B')]);
    const tablet = await login(a, alice, 'Tablet on A');
    assert.equal((await whoami(b, phone)).pid, b.pid, 'a session made by A is served by B');

    const fromB = await devices(b, laptop);
    const fromA = await devices(a, phone);
    assert.deepEqual(byAgent(fromB), ['Laptop on B', 'Phone on A', 'Tablet on A']);
    assert.deepEqual(fromA.map((entry) => entry.handle).sort(), fromB.map((entry) => entry.handle).sort(), 'both processes list the same sessions');
    assert.equal(fromB.find((entry) => entry.current)?.userAgent, 'Laptop on B');
    assert.equal(fromA.find((entry) => entry.current)?.userAgent, 'Phone on A');
    const indexed = await raw.query<{ sid: string }>(`SELECT sid FROM "${schema}".sessions_users WHERE user_id = $1 ORDER BY sid`, [alice]);
    assert.deepEqual(
      indexed.rows.map((row) => row.sid),
      [phone.sid, laptop.sid, tablet.sid].sort(),
      "one table holds the user's three sessions",
    );

    // B ends the phone's session, which A made and A serves.
    const phoneHandle = fromB.find((entry) => entry.userAgent === 'Phone on A')?.handle as string;
    assert.deepEqual((await get(b, `/revoke?handle=${phoneHandle}`, laptop.cookie)).body, { revoked: true });
    assert.equal((await raw.query(`SELECT 1 FROM "${schema}".sessions WHERE sid = $1`, [phone.sid])).rowCount, 0);
    const afterwards = await whoami(a, phone);
    assert.deepEqual(afterwards.session, {}, 'the next request of the revoked device on A finds no session');
    assert.notEqual(afterwards.id, phone.sid);
    assert.equal(afterwards.pid, a.pid);
    assert.deepEqual(byAgent(await devices(a, tablet)), ['Laptop on B', 'Tablet on A']);

    // And the other way round: A logs out every other device, B's included.
    assert.deepEqual((await get(a, '/revoke-others', tablet.cookie)).body, { revoked: 1 });
    assert.deepEqual((await whoami(b, laptop)).session, {}, "B's session ended by A");
    assert.deepEqual(byAgent(await devices(b, tablet)), ['Tablet on A']);
    const left = await raw.query<{ sid: string }>(`SELECT sid FROM "${schema}".sessions_users WHERE user_id = $1`, [alice]);
    assert.deepEqual(
      left.rows.map((row) => row.sid),
      [tablet.sid],
    );
  } finally {
    await raw.end();
    await Promise.all([a.stop(), b.stop()]);
  }
}

describe('two app processes sharing one PostgreSQL', { skip }, () => {
  it('see the same sessions of a user, and a revocation on either ends the session on the other (both on pg)', async () => {
    await twoProcesses('procs_pg', 'pg', 'pg');
  });

  it('do the same with one process on pg and the other on postgres.js', async () => {
    await twoProcesses('procs_mixed', 'pg', 'postgres.js');
  });
});
