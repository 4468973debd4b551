// Moving from Express (issue 12): a Koa app on an express-session store through
// fromExpressStore, over real HTTP, on connect-redis and the shared Redis. Login,
// read, rolling touch and logout, checked against what Redis holds; a session a
// real Express 5 + express-session app wrote is read by the Koa app and the other
// way round; a store that fails answers 503 with the client's error as the cause.
import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { RedisStore as ConnectRedisStore } from 'connect-redis';
import express from 'express';
import expressSession from 'express-session';
import { Redis } from 'ioredis';
import request from 'supertest';
import { fromExpressStore, session, SessionStoreError } from '../src/index.js';
import type { SessionOptions } from '../src/index.js';
import { cookieHeader, listen, makeApp } from './support/http.js';
import type { Running } from './support/http.js';
import { signedCookie } from './support/sign.js';
import { REDIS_URL, redisSkip, runTag } from './support/services.js';
import { deleteKeys } from './stores/redis-helpers.js';

const skip = await redisSkip();
const PREFIX = `sess:${runTag()}:express-http:`;
const MAX_AGE = 60_000;
const clients: Redis[] = [];

function client(): Redis {
  const made = new Redis(REDIS_URL);
  clients.push(made);
  return made;
}

/** The test's own view of Redis, never through either store. */
let inspector: Redis;

after(async () => {
  if (skip) return;
  await deleteKeys(inspector, PREFIX);
  await Promise.all(clients.map((made) => made.quit().catch(() => undefined)));
});

/** The Koa app of a team that moved from Express, on the connect-redis store it already had. */
async function koaApp(store: ConnectRedisStore, options: SessionOptions = {}): Promise<Running> {
  const app = makeApp(undefined, ['k1']);
  app.use(session({ store: fromExpressStore(store), cookie: { maxAge: MAX_AGE }, ...options }));
  app.use((ctx) => {
    if (ctx.path === '/login') ctx.session.user = 'ada';
    else if (ctx.path === '/visit') ctx.session.visits = Number(ctx.session.visits ?? 0) + 1;
    else if (ctx.path === '/logout') ctx.session = null;
    ctx.body = { sid: ctx.sessionId ?? null, user: ctx.session?.user ?? null, visits: ctx.session?.visits ?? null };
  });
  return listen(app);
}

/** The Express 5 app it came from, with express-session on the same store. */
async function expressApp(store: ConnectRedisStore): Promise<{ agent: ReturnType<typeof request>; close(): Promise<void> }> {
  const app = express();
  app.use(expressSession({ store, secret: 'express secret', resave: false, saveUninitialized: false, cookie: { maxAge: MAX_AGE } }));
  app.get('/login', (req, res) => {
    (req.session as unknown as Record<string, unknown>).user = 'grace';
    res.json({ sid: req.sessionID });
  });
  app.get('/me', (req, res) => {
    const data = req.session as unknown as Record<string, unknown>;
    res.json({ user: data.user ?? null, visits: data.visits ?? null });
  });
  const server = http.createServer(app);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const close = (): Promise<void> =>
    new Promise((resolve) => {
      server.closeAllConnections();
      server.close(() => resolve());
    });
  after(close);
  return { agent: request(`http://127.0.0.1:${(server.address() as AddressInfo).port}`), close };
}

interface StoredRecord {
  cookie: { originalMaxAge: number | null; expires: string | null };
  [key: string]: unknown;
}

async function stored(key: string): Promise<{ value: StoredRecord | null; pttl: number }> {
  const [value, pttl] = await Promise.all([inspector.get(key), inspector.pttl(key)]);
  return { value: value === null ? null : (JSON.parse(value) as StoredRecord), pttl };
}

describe('a Koa app on connect-redis through fromExpressStore', { skip }, () => {
  let store: ConnectRedisStore;

  before(() => {
    inspector = client();
    store = new ConnectRedisStore({ client: client(), prefix: PREFIX });
  });

  it('logs in, reads, and logs out, with Redis holding an express-session record that expires with the cookie', async () => {
    const { agent } = await koaApp(store);
    const login = await agent.get('/login').expect(200);
    const { sid } = login.body as { sid: string };
    const { value, pttl } = await stored(PREFIX + sid);
    assert.equal(value?.user, 'ada');
    assert.equal(value?.cookie.originalMaxAge, MAX_AGE);
    assert.ok(pttl > MAX_AGE - 2000 && pttl <= MAX_AGE, `PTTL ${pttl}`);

    const me = await agent.get('/me').set('Cookie', cookieHeader(login)).expect(200);
    assert.deepEqual(me.body, { sid, user: 'ada', visits: null });

    await agent.get('/logout').set('Cookie', cookieHeader(login)).expect(200);
    assert.equal(await inspector.exists(PREFIX + sid), 0, 'logout destroys the record');
    const loggedOut = await agent.get('/me').set('Cookie', cookieHeader(login)).expect(200);
    assert.equal((loggedOut.body as { user: unknown }).user, null);
  });

  it("extends the record's life through connect-redis's touch on a rolling request, leaving the record as it was", async () => {
    const { agent } = await koaApp(store, { rolling: true });
    const login = await agent.get('/login').expect(200);
    const { sid } = login.body as { sid: string };
    const before = await inspector.get(PREFIX + sid);
    await inspector.pexpire(PREFIX + sid, 5_000);
    await agent.get('/me').set('Cookie', cookieHeader(login)).expect(200);
    const { pttl } = await stored(PREFIX + sid);
    assert.ok(pttl > MAX_AGE - 2000 && pttl <= MAX_AGE, `PTTL ${pttl} after the touch`);
    assert.equal(await inspector.get(PREFIX + sid), before, 'a touch rewrites nothing');
  });

  it('reads a session a real express-session app wrote, and the Express app then reads what Koa added', async () => {
    const koa = await koaApp(store);
    const expressSide = await expressApp(store);
    const login = await expressSide.agent.get('/login').expect(200);
    const { sid } = login.body as { sid: string };
    const written = await stored(PREFIX + sid);
    assert.equal(written.value?.user, 'grace');
    assert.deepEqual(Object.keys(written.value?.cookie ?? {}).sort(), ['expires', 'httpOnly', 'originalMaxAge', 'path']);

    // The browser's connect.sid cookie is express-session's own format; the Koa app is handed the
    // same id as a bare, signed session cookie (what a migration step in front of it would set).
    const handedOver = signedCookie('koa:sess', sid, 'k1');
    const me = await koa.agent.get('/me').set('Cookie', handedOver).expect(200);
    assert.deepEqual(me.body, { sid, user: 'grace', visits: null });

    const visit = await koa.agent.get('/visit').set('Cookie', handedOver).expect(200);
    assert.deepEqual(visit.body, { sid, user: 'grace', visits: 1 });
    const rewritten = await stored(PREFIX + sid);
    assert.deepEqual(Object.keys(rewritten.value ?? {}), ['cookie', 'user', 'visits'], "Koa's write keeps the data and puts its own cookie field first");
    assert.equal(rewritten.value?.cookie.originalMaxAge, MAX_AGE);

    const back = await expressSide.agent.get('/me').set('Cookie', cookieHeader(login)).expect(200);
    assert.deepEqual(back.body, { user: 'grace', visits: 1 });
  });

  it("answers 503 when Redis is gone, with the client's own error as the cause", async () => {
    const gone = client();
    await gone.quit();
    const running = await koaApp(new ConnectRedisStore({ client: gone, prefix: PREFIX }));
    await running.agent.get('/me').set('Cookie', signedCookie('koa:sess', 'some-session-id', 'k1')).expect(503);
    const error = running.errors[0];
    assert.ok(error instanceof SessionStoreError, String(error));
    assert.equal(error.operation, 'load');
    assert.equal((error.cause as Error).message, 'Connection is closed.');
  });
});
