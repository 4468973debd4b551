// The user-sessions suite (option indexBy), run over real HTTP on every server
// store: list, revoke one, revoke others, revoke all from outside a request,
// expiry, regenerate, logout, a changed user key, in-flight resurrection, the
// index bound, concurrency, and handles that reveal no id.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { session } from '../../src/index.js';
import type { SessionMiddleware, SessionOptions, SessionStore, UserSession } from '../../src/index.js';
import { settle } from '../../src/store.js';
import { cookieHeader, listen, makeApp, sleep } from './http.js';

export interface UserSessionsSuiteOptions<S extends SessionStore> {
  create(): S | Promise<S>;
  destroy?(store: S): unknown;
  skip?: string | false;
}

interface Device {
  readonly cookie: string;
  readonly sid: string;
}

/** An app with login (regenerate, then set userId), whoami, logout, a slow write and the list/revoke routes. */
async function userApp(store: SessionStore, options: SessionOptions = {}) {
  const app = makeApp();
  const middleware: SessionMiddleware = session({ store, indexBy: 'userId', ...options });
  app.use(middleware);
  let releaseSlow: (() => void) | undefined;
  let slowLoaded: (() => void) | undefined;
  let gateReached: (() => void) | undefined;
  let openGate: (() => void) | undefined;
  app.use(async (ctx) => {
    switch (ctx.path) {
      case '/login':
        await ctx.regenerateSession();
        ctx.session.userId = String(ctx.query.user);
        ctx.body = { id: ctx.sessionId };
        return;
      case '/logout':
        ctx.session = null;
        ctx.body = 'bye';
        return;
      case '/become':
        ctx.session.userId = String(ctx.query.user);
        break;
      case '/forget':
        delete ctx.session.userId;
        break;
      case '/count':
        ctx.session.n = ((ctx.session.n as number | undefined) ?? 0) + 1;
        break;
      case '/slow':
        void ctx.session.userId;
        slowLoaded?.();
        await new Promise<void>((resolve) => (releaseSlow = resolve));
        ctx.session.stolen = true;
        break;
      case '/devices':
        ctx.body = await ctx.listSessions();
        return;
      case '/revoke':
        ctx.body = { revoked: await ctx.revokeSession(String(ctx.query.handle)) };
        return;
      case '/revoke-others':
        if (ctx.query.gated !== undefined) {
          void ctx.session.userId;
          gateReached?.();
          await new Promise<void>((resolve) => (openGate = resolve));
        }
        ctx.body = { revoked: await ctx.revokeOtherSessions() };
        return;
    }
    ctx.body = { id: ctx.sessionId, session: ctx.session };
  });
  const running = await listen(app);
  const login = async (user: string, userAgent = `device of ${user}`): Promise<Device> => {
    const res = await running.agent.get(`/login?user=${encodeURIComponent(user)}`).set('User-Agent', userAgent).expect(200);
    return { cookie: cookieHeader(res), sid: res.body.id as string };
  };
  const devices = async (device: Device): Promise<UserSession[]> =>
    (await running.agent.get('/devices').set('Cookie', device.cookie).expect(200)).body as UserSession[];
  const whoami = async (device: Device) => (await running.agent.get('/').set('Cookie', device.cookie).expect(200)).body as { id: string; session: Record<string, unknown> };
  const slow = (device: Device) => {
    const loaded = new Promise<void>((resolve) => (slowLoaded = resolve));
    const done = running.agent.get('/slow').set('Cookie', device.cookie).then((res) => res);
    return { loaded, release: () => releaseSlow?.(), done };
  };
  /** "Log out other devices" from `device`, held after its request began until `release()`. */
  const gatedRevokeOthers = (device: Device) => {
    const reached = new Promise<void>((resolve) => (gateReached = resolve));
    const done = running.agent.get('/revoke-others?gated').set('Cookie', device.cookie).expect(200).then((res) => res);
    return { reached, release: () => openGate?.(), done };
  };
  return { ...running, middleware, login, devices, whoami, slow, gatedRevokeOthers };
}

export function runUserSessionsSuite<S extends SessionStore>(name: string, options: UserSessionsSuiteOptions<S>): void {
  describe(`${name}: a user's sessions (indexBy)`, { skip: options.skip ?? false }, () => {
    let store: S | undefined;
    let run = 0;
    /** A user name of this test alone, so tests sharing a store never see each other's sessions. */
    const user = (label: string) => `${label}-${process.pid}-${++run}`;
    before(async () => {
      store = await options.create();
    });
    after(async () => {
      if (store !== undefined) await options.destroy?.(store);
    });
    const current = () => store as S;

    it('lists each signed-in device with times, user agent and current flag, and never an id', async () => {
      const app = await userApp(current());
      const alice = user('alice');
      const phone = await app.login(alice, 'Phone Browser');
      const laptop = await app.login(alice, `Laptop ${'x'.repeat(400)}`);
      const other = await app.login(user('bob'));
      const listed = await app.devices(laptop);
      assert.equal(listed.length, 2);
      const [first, second] = listed as [UserSession, UserSession];
      assert.equal(first.current, true, 'most recently active first: the laptop just signed in');
      assert.equal(second.current, false);
      assert.equal(first.userAgent.length, 256, 'user agents are cut at 256 characters');
      assert.equal(second.userAgent, 'Phone Browser');
      for (const entry of listed) {
        assert.ok(entry.createdAt <= Date.now() && entry.lastActiveAt >= entry.createdAt && (entry.expiresAt ?? Infinity) > Date.now());
        assert.deepEqual(Object.keys(entry).sort(), ['createdAt', 'current', 'expiresAt', 'handle', 'lastActiveAt', 'userAgent']);
      }
      const text = JSON.stringify(listed);
      for (const device of [phone, laptop, other]) assert.ok(!text.includes(device.sid), 'no session id reaches the page');
      assert.notEqual(first.handle, second.handle);
      assert.deepEqual((await app.devices(phone)).map((entry) => entry.handle).sort(), listed.map((entry) => entry.handle).sort(), 'handles are stable');
    });

    it('revokes one device by handle, and a handle of another user does nothing', async () => {
      const app = await userApp(current());
      const alice = user('alice');
      const phone = await app.login(alice, 'Phone');
      const laptop = await app.login(alice, 'Laptop');
      const bob = await app.login(user('bob'));
      const bobHandle = ((await app.devices(bob))[0] as UserSession).handle;
      const refused = await app.agent.get(`/revoke?handle=${bobHandle}`).set('Cookie', laptop.cookie).expect(200);
      assert.deepEqual(refused.body, { revoked: false });
      assert.ok((await app.whoami(bob)).session.userId, "the other user's session is untouched");
      const phoneHandle = (await app.devices(laptop)).find((entry) => entry.userAgent === 'Phone')?.handle as string;
      const revoked = await app.agent.get(`/revoke?handle=${phoneHandle}`).set('Cookie', laptop.cookie).expect(200);
      assert.deepEqual(revoked.body, { revoked: true });
      const afterwards = await app.whoami(phone);
      assert.deepEqual(afterwards.session, {}, 'the revoked device gets a fresh, empty session');
      assert.notEqual(afterwards.id, phone.sid);
      assert.deepEqual((await app.devices(laptop)).map((entry) => entry.userAgent), ['Laptop']);
      assert.equal(await settle(current().load(phone.sid)) ?? null, null, 'the store entry is gone');
    });

    it('logs out every other device, keeps this one, and reports how many', async () => {
      const app = await userApp(current());
      const alice = user('alice');
      const others = [await app.login(alice, 'a'), await app.login(alice, 'b'), await app.login(alice, 'c')];
      const here = await app.login(alice, 'here');
      const res = await app.agent.get('/revoke-others').set('Cookie', here.cookie).expect(200);
      assert.deepEqual(res.body, { revoked: 3 });
      for (const device of others) assert.deepEqual((await app.whoami(device)).session, {});
      assert.equal((await app.whoami(here)).session.userId, alice);
      assert.deepEqual((await app.devices(here)).map((entry) => entry.current), [true]);
    });

    it('lists and revokes from outside a request through the middleware', async () => {
      const app = await userApp(current());
      const alice = user('alice');
      const keep = await app.login(alice, 'keep');
      await app.login(alice, 'drop 1');
      await app.login(alice, 'drop 2');
      const listed = await app.middleware.listSessions(alice);
      assert.equal(listed.length, 3);
      assert.ok(listed.every((entry) => entry.current === false));
      const keepHandle = listed.find((entry) => entry.userAgent === 'keep')?.handle as string;
      assert.equal(await app.middleware.revokeSessions(alice, { except: keepHandle }), 2);
      assert.deepEqual((await app.middleware.listSessions(alice)).map((entry) => entry.userAgent), ['keep']);
      assert.equal(await app.middleware.revokeSessions(alice), 1);
      assert.deepEqual(await app.middleware.listSessions(alice), []);
      assert.deepEqual((await app.whoami(keep)).session, {});
    });

    it('follows logout, regeneration, a changed user key and a removed user key', async () => {
      const app = await userApp(current());
      const alice = user('alice');
      const carol = user('carol');
      const a = await app.login(alice, 'a');
      const b = await app.login(alice, 'b');
      await app.agent.get('/logout').set('Cookie', a.cookie).expect(200);
      assert.deepEqual((await app.middleware.listSessions(alice)).map((entry) => entry.userAgent), ['b']);
      const again = await app.login(alice, 'b again');
      assert.equal((await app.middleware.listSessions(alice)).length, 2, 'the old id left the index on regeneration, the new one joined');
      await app.agent.get(`/become?user=${carol}`).set('Cookie', again.cookie).expect(200);
      assert.equal((await app.middleware.listSessions(alice)).length, 1);
      assert.equal((await app.middleware.listSessions(carol)).length, 1);
      await app.agent.get('/forget').set('Cookie', again.cookie).expect(200);
      assert.deepEqual(await app.middleware.listSessions(carol), []);
      assert.deepEqual(await app.devices(again), [], 'a session without a user lists nothing');
      void b;
    });

    it('drops expired sessions from the list without a sweep, and keeps the index bounded', async () => {
      const app = await userApp(current(), { ttl: 150 });
      const alice = user('alice');
      for (let i = 0; i < 20; i++) await app.login(alice, `old ${i}`);
      await sleep(250);
      const fresh = await app.login(alice, 'fresh');
      assert.deepEqual((await app.devices(fresh)).map((entry) => entry.userAgent), ['fresh']);
      const indexed = (await settle(current().listIndexed?.(alice) ?? [])) as unknown[];
      assert.ok(indexed.length <= 1, `the index holds ${indexed.length} entries after a list, not the 20 expired ones`);
    });

    it('never lets a request that was in flight during a revocation bring the session back', async () => {
      const app = await userApp(current());
      const alice = user('alice');
      const victim = await app.login(alice, 'victim');
      const here = await app.login(alice, 'here');
      const inFlight = app.slow(victim);
      await inFlight.loaded;
      await app.agent.get('/revoke-others').set('Cookie', here.cookie).expect(200);
      inFlight.release();
      await inFlight.done;
      assert.equal(await settle(current().load(victim.sid)) ?? null, null, 'the end-of-request write did not resurrect it');
      assert.deepEqual((await app.whoami(victim)).session, {});
      assert.deepEqual((await app.devices(here)).map((entry) => entry.userAgent), ['here']);
    });

    it('lists all 20 sessions of one user created in parallel', async () => {
      const app = await userApp(current());
      const alice = user('alice');
      const devices = await Promise.all(Array.from({ length: 20 }, (_, i) => app.login(alice, `parallel ${i}`)));
      assert.equal((await app.devices(devices[0] as Device)).length, 20);
    });

    it('keeps a login that races "log out other devices" alive', async () => {
      const app = await userApp(current());
      const alice = user('alice');
      const here = await app.login(alice, 'here');
      for (let i = 0; i < 5; i++) await app.login(alice, `old ${i}`);
      // No wait between the last login and the revocation: a login in the millisecond it began is revoked too.
      const revocation = app.gatedRevokeOthers(here);
      await revocation.reached;
      // A later millisecond than the one the revocation began in: this login is one it cannot have known of.
      await sleep(2);
      const racing = await app.login(alice, 'racing login');
      revocation.release();
      const revoked = await revocation.done;
      assert.deepEqual(revoked.body, { revoked: 5 });
      assert.equal((await app.whoami(racing)).session.userId, alice, 'the new session is alive');
      assert.equal((await app.whoami(here)).session.userId, alice);
    });

    it('counts a session by the cookie it carries: the current flag follows the request', async () => {
      const app = await userApp(current());
      const alice = user('alice');
      const a = await app.login(alice, 'a');
      const b = await app.login(alice, 'b');
      const fromA = await app.devices(a);
      assert.equal(fromA.find((entry) => entry.current)?.userAgent, 'a');
      const fromB = await app.devices(b);
      assert.equal(fromB.find((entry) => entry.current)?.userAgent, 'b');
    });

    it('lists the current session first among sessions last active in the same millisecond', async () => {
      const app = await userApp(current());
      const alice = user('alice');
      const a = await app.login(alice, 'a');
      const b = await app.login(alice, 'b');
      // Both made active in one millisecond, as two logins at once can be.
      const at = Date.now();
      for (const device of [a, b]) {
        const indexed = { sid: device.sid, createdAt: at, lastActiveAt: at, expiresAt: at + 3_600_000, userAgent: 'same time' };
        await settle(current().indexSession?.(alice, indexed));
      }
      for (const device of [a, b]) {
        const listed = await app.devices(device);
        assert.deepEqual(listed.map((entry) => entry.lastActiveAt), [at, at]);
        assert.equal(listed[0]?.current, true, 'the device asking comes first');
      }
    });
  });
}
