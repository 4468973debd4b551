// Two app processes on one database (issue 13): each a Node process of its
// own (test/fixtures/index-app.ts) with its own client and store, so they
// share nothing but the database. Both list the same sessions of a user, and
// a revocation on one ends the session on the other at its next request.
// The store's test file says which database and reads it directly.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { after } from 'node:test';
import type { UserSession } from '../../src/index.js';

interface AppProcess {
  readonly url: string;
  readonly pid: number;
  stop(): Promise<void>;
}

/** Starts the fixture app in a Node process of its own and resolves once it listens. */
function startApp(env: Record<string, string>): Promise<AppProcess> {
  const child = spawn(process.execPath, ['--import', 'tsx', 'test/fixtures/index-app.ts'], {
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

/** What the scenario reads from the database directly, bypassing both processes. */
export interface DatabaseView {
  /** The ids of the sessions the user's index holds, in any order. */
  indexedSids(user: string): Promise<string[]>;
  /** Whether the session's own entry is there. */
  sessionExists(sid: string): Promise<boolean>;
}

/**
 * The scenario on two app processes started with `envA` and `envB` (both
 * `KSS_STORE` and the store's settings; see the fixture), started together so
 * that both create the tables or keys at once.
 */
export async function twoProcesses(envA: Record<string, string>, envB: Record<string, string>, database: DatabaseView): Promise<void> {
  const [a, b] = await Promise.all([startApp(envA), startApp(envB)]);
  try {
    assert.notEqual(a.pid, b.pid);
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
    assert.deepEqual((await database.indexedSids(alice)).sort(), [phone.sid, laptop.sid, tablet.sid].sort(), "the index holds the user's three sessions");

    // B ends the phone's session, which A made and A serves.
    const phoneHandle = fromB.find((entry) => entry.userAgent === 'Phone on A')?.handle as string;
    assert.deepEqual((await get(b, `/revoke?handle=${phoneHandle}`, laptop.cookie)).body, { revoked: true });
    assert.equal(await database.sessionExists(phone.sid), false);
    const afterwards = await whoami(a, phone);
    assert.deepEqual(afterwards.session, {}, 'the next request of the revoked device on A finds no session');
    assert.notEqual(afterwards.id, phone.sid);
    assert.equal(afterwards.pid, a.pid);
    assert.deepEqual(byAgent(await devices(a, tablet)), ['Laptop on B', 'Tablet on A']);

    // And the other way round: A logs out every other device, B's included.
    assert.deepEqual((await get(a, '/revoke-others', tablet.cookie)).body, { revoked: 1 });
    assert.deepEqual((await whoami(b, laptop)).session, {}, "B's session ended by A");
    assert.deepEqual(byAgent(await devices(b, tablet)), ['Tablet on A']);
    assert.deepEqual(await database.indexedSids(alice), [tablet.sid]);
  } finally {
    await Promise.all([a.stop(), b.stop()]);
  }
}
