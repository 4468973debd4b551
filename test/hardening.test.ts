// Defects an adversarial review and a real browser found (issue 10), each
// driven over real HTTP: cookies whose age is unknown under maxLifetime, deep
// JSON, oversized 2.0 cookies, data keys named like metadata, cookie settings
// a browser drops, key rotation on untouched requests, a logged-out session
// written back by a patch-less store, Buffer keys changed in place, shortened
// signatures, and the store ttl under maxLifetime.
import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import { describe, it } from 'node:test';
import { session } from '../src/index.js';
import type { SessionOptions, SessionStore } from '../src/index.js';
import { cookieHeader, cookieValue, KOA_VERSIONS, listen, makeApp, setCookies } from './support/http.js';
import type { App } from './support/http.js';
import { payloadValue, signedCookie } from './support/sign.js';
import { countingStore } from './support/stores.js';

const SID = 'abcdefghijklmno';

/** A routes table every test app shares: read, write, count, log out, regenerate. */
function routes(app: App): void {
  app.use(async (ctx) => {
    switch (ctx.path) {
      case '/none':
        ctx.body = 'untouched';
        return;
      case '/count':
        ctx.session.count = ((ctx.session.count as number | undefined) ?? 0) + 1;
        break;
      case '/logout':
        ctx.session = null;
        ctx.body = 'bye';
        return;
    }
    ctx.body = { session: ctx.session };
  });
}

async function startOn(Koa: (typeof KOA_VERSIONS)[number]['Koa'], options: SessionOptions, keys: Array<string | Buffer>) {
  const app = makeApp(Koa);
  app.keys = keys as string[];
  app.use(session(options));
  routes(app);
  return { ...(await listen(app)), app };
}

for (const { label, Koa } of KOA_VERSIONS) {
  const start = (options: SessionOptions = {}, keys: Array<string | Buffer> = ['k1']) => startOn(Koa, options, keys);

  describe(`${label}: a cookie whose age is unknown never passes maxLifetime`, () => {
    const cookieStoreCookie = signedCookie('koa:sess', JSON.stringify({ _sid: SID, views: 3 }));

    it('gives a fresh session for a 2.0 cookie-store cookie under maxLifetime, and sets no cookie until it is used', async () => {
      const { agent } = await start({ maxLifetime: 60_000 });
      const res = await agent.get('/').set('Cookie', cookieStoreCookie).expect(200);
      assert.deepEqual(res.body, { session: {} });
      assert.deepEqual(setCookies(res), []);
    });

    it('keeps reading a 2.0 cookie-store cookie without maxLifetime, even under maxAge', async () => {
      const { agent } = await start({ cookie: { maxAge: 60_000 } });
      const res = await agent.get('/').set('Cookie', cookieStoreCookie).expect(200);
      assert.deepEqual(res.body, { session: { views: 3 } });
    });

    it('gives a fresh session for a bare-id server-store cookie under maxLifetime, and leaves the id unused', async () => {
      const { store, map } = countingStore('async');
      map.set(SID, '{"user":"alice"}');
      const { agent } = await start({ store, maxLifetime: 60_000 });
      const res = await agent.get('/count').set('Cookie', signedCookie('koa:sess', SID)).expect(200);
      assert.deepEqual(res.body, { session: { count: 1 } });
      assert.doesNotMatch(cookieValue(res, 'koa:sess') ?? '', new RegExp(SID));
    });

    it('keeps reading a bare-id server-store cookie without maxLifetime', async () => {
      const { store, map } = countingStore('async');
      map.set(SID, '{"user":"alice"}');
      const { agent } = await start({ store });
      const res = await agent.get('/').set('Cookie', signedCookie('koa:sess', SID)).expect(200);
      assert.deepEqual(res.body, { session: { user: 'alice' } });
    });
  });

  describe(`${label}: deep JSON is client garbage, never a 500`, () => {
    const deep = (depth: number) => `${'['.repeat(depth)}${']'.repeat(depth)}`;
    const now = Date.now();
    const bodies: Array<[string, string]> = [
      ['a 2.0 raw JSON cookie', `{"_sid":"${SID}","x":${deep(5000)}}`],
      ['a 3.0 base64url cookie', payloadValue(`{"_sid":"${SID}","_ctime":${now},"x":${deep(5000)}}`)],
      ['a base64url cookie', payloadValue(`["${SID}",${now},0,{"x":${deep(5000)}}]`)],
      ['a plain cookie', `["${SID}",${now},0,{"x":${deep(5000)}}]`],
    ];
    for (const [what, value] of bodies) {
      for (const signed of [false, true]) {
        it(`gives 200 and a fresh session for ${what} nested 5,000 deep (${signed ? 'signed' : 'unsigned'})`, async () => {
          const { agent, errors } = await start({ cookie: { signed } });
          const cookie = signed ? signedCookie('koa:sess', value) : `koa:sess=${value}`;
          const res = await agent.get('/').set('Cookie', cookie).expect(200);
          assert.deepEqual(res.body, { session: {} });
          assert.deepEqual(errors, []);
        });
      }
    }

    it('gives 200 and a fresh session for a store entry nested 5,000 deep', async () => {
      const { store, map } = countingStore('async');
      map.set(SID, `{"x":${deep(5000)}}`);
      const { agent, errors } = await start({ store });
      const res = await agent.get('/').set('Cookie', signedCookie('koa:sess', SID)).expect(200);
      assert.deepEqual(res.body, { session: {} });
      assert.deepEqual(errors, []);
    });

    it('keeps data nested 256 deep, and refuses to write deeper data with a clear error', async () => {
      const app = makeApp(Koa, ['k1']);
      app.use(session());
      app.use((ctx) => {
        let value: unknown = 1;
        const depth = ctx.path === '/deeper' ? 256 : 255;
        for (let i = 0; i < depth; i++) value = [value];
        ctx.session.deep = value;
        ctx.body = 'ok';
      });
      const { agent, errors } = await listen(app);
      const kept = await agent.get('/').expect(200);
      assert.ok(cookieValue(kept, 'koa:sess'));
      await agent.get('/deeper').expect(500);
      assert.match(errors[0]?.message ?? '', /nests objects or arrays more than 256 levels deep/);
    });
  });

  describe(`${label}: a big 2.0 cookie keeps working`, () => {
    // 2.0 wrote the JSON raw; base64url makes it a third bigger, past what one cookie holds.
    const big = { _sid: SID, notes: 'n'.repeat(2900), name: 'Zoe "quoted", 100% \\ done' };
    const legacy = signedCookie('koa:sess', JSON.stringify(big));

    for (const rolling of [false, true]) {
      it(`writes a changed ~3 KB session from a 2.0 cookie in the compact form${rolling ? ', with rolling' : ''}, and reads it back`, async () => {
        const { agent, errors } = await start({ rolling, cookie: { maxAge: 60_000 } });
        const res = await agent.get('/count').set('Cookie', legacy).expect(200);
        assert.deepEqual(errors, []);
        const header = setCookies(res);
        assert.equal(header.length, 2);
        assert.ok(header.join('').length <= 4096);
        const again = await agent.get(rolling ? '/' : '/count').set('Cookie', cookieHeader(res)).expect(200);
        assert.equal(again.body.session.notes, big.notes);
        assert.equal(again.body.session.name, big.name);
        assert.equal(again.body.session.count, rolling ? 1 : 2);
        assert.deepEqual(errors, []);
      });
    }

    it('writes any big session in the compact form when base64url would not fit, escaping what a cookie cannot hold', async () => {
      const text = `a; b c, "d" 100% \\ é 🎉 \u2028 ${'x'.repeat(140)}`.repeat(18);
      const app = makeApp(Koa, ['k1']);
      app.use(session());
      app.use((ctx) => {
        if (ctx.path === '/set') ctx.session.text = text;
        ctx.body = { ok: ctx.session.text === text };
      });
      const { agent, errors } = await listen(app);
      const first = await agent.get('/set').expect(200);
      const value = cookieValue(first, 'koa:sess') as string;
      assert.equal(value[0], '[', 'the compact form is the JSON text');
      assert.doesNotMatch(value, /[\s;\u0080-\uffff]/);
      const second = await agent.get('/').set('Cookie', cookieHeader(first)).expect(200);
      assert.deepEqual(second.body, { ok: true });
      assert.deepEqual(errors, []);
    });

    it('still fails clearly when even the compact form is over the limit', async () => {
      const app = makeApp(Koa, ['k1']);
      app.use(session());
      app.use((ctx) => {
        ctx.session.notes = 'n'.repeat(4000);
        ctx.body = 'ok';
      });
      const { agent, errors } = await listen(app);
      await agent.get('/').expect(500);
      assert.match(errors[0]?.message ?? '', /over the 4096 bytes browsers keep/);
    });
  });

  describe(`${label}: data keys named like metadata are data`, () => {
    const metadataNames = { _exp: 5, _sid: 'mine', _ctime: 7, _v: 1 };
    const settings: Array<[string, SessionOptions]> = [
      ['the cookie store with ttl 0', { ttl: 0 }],
      ['the cookie store with maxAge', { cookie: { maxAge: 60_000 } }],
      ['the cookie store with the default ttl', {}],
      ['a server store', { store: countingStore('async').store, ttl: 0 }],
    ];
    for (const [what, options] of settings) {
      it(`round-trips _sid, _ctime and _exp as data on ${what}`, async () => {
        const app = makeApp(Koa, ['k1']);
        app.use(session(options));
        app.use((ctx) => {
          if (ctx.path === '/set') Object.assign(ctx.session, metadataNames);
          ctx.body = { session: ctx.session };
        });
        const { agent } = await listen(app);
        const first = await agent.get('/set').expect(200);
        const second = await agent.get('/').set('Cookie', cookieHeader(first)).expect(200);
        assert.deepEqual(second.body, { session: metadataNames });
        const third = await agent.get('/').set('Cookie', cookieHeader(first)).expect(200);
        assert.deepEqual(third.body, { session: metadataNames });
      });
    }
  });

  describe(`${label}: key rotation reaches sessions no route touches`, () => {
    it('re-issues a cookie-store cookie signed with an old key on a request that never reads the session, with the same value and expiry', async () => {
      const { agent, app } = await start({ cookie: { maxAge: 60_000 } }, ['old']);
      const first = await agent.get('/count').expect(200);
      app.keys = ['new', 'old'];
      const untouched = await agent.get('/none').set('Cookie', cookieHeader(first)).expect(200);
      const reissued = setCookies(untouched);
      assert.equal(reissued.length, 2, 'value and signature are sent again');
      assert.equal(cookieValue(untouched, 'koa:sess'), cookieValue(first, 'koa:sess'));
      const expires = (headers: string[]) => /expires=([^;]+)/.exec(headers[0] ?? '')?.[1];
      assert.equal(expires(reissued), expires(setCookies(first)));
      app.keys = ['new'];
      const later = await agent.get('/').set('Cookie', cookieHeader(untouched)).expect(200);
      assert.deepEqual(later.body, { session: { count: 1 } });
    });

    it('sets no cookie on an untouched request when the cookie is signed with the newest key', async () => {
      const { agent, app } = await start({}, ['old']);
      const first = await agent.get('/count').expect(200);
      app.keys = ['old', 'older'];
      const untouched = await agent.get('/none').set('Cookie', cookieHeader(first)).expect(200);
      assert.deepEqual(setCookies(untouched), []);
    });
  });

  describe(`${label}: a session removed by one request is never written back by another`, () => {
    /** An app whose /slow request loads the session, waits for `release`, then changes it. */
    async function slowApp(store: SessionStore, options: SessionOptions = {}) {
      let release!: () => void;
      let loaded!: () => void;
      const gate = new Promise<void>((resolve) => (release = resolve));
      const waiting = new Promise<void>((resolve) => (loaded = resolve));
      const app = makeApp(Koa, ['k1']);
      app.use(session({ store, ...options }));
      app.use(async (ctx) => {
        if (ctx.path === '/login') ctx.session.user = 'alice';
        if (ctx.path === '/slow') {
          void ctx.session.user;
          loaded();
          await gate;
          ctx.session.stolen = true;
        }
        if (ctx.path === '/logout') ctx.session = null;
        if (ctx.path === '/regenerate') await ctx.regenerateSession();
        ctx.body = { session: ctx.session };
      });
      return { running: await listen(app), release, waiting };
    }

    for (const ending of ['/logout', '/regenerate']) {
      it(`keeps a session ended by ${ending} gone when a slower request that loaded it finishes (store without patch)`, async () => {
        const { store, map } = countingStore('async');
        const { running, release, waiting } = await slowApp(store);
        const login = await running.agent.get('/login').expect(200);
        const sid = [...map.keys()][0] as string;
        const slow = running.agent.get('/slow').set('Cookie', cookieHeader(login)).then((res) => res);
        await waiting;
        await running.agent.get(ending).set('Cookie', cookieHeader(login)).expect(200);
        release();
        const res = await slow;
        assert.equal(res.status, 200);
        assert.equal(map.has(sid), false, 'the removed session must stay removed');
        assert.ok(![...map.values()].some((json) => json.includes('stolen')), 'the slow request wrote nothing');
        assert.match(setCookies(res)[0] ?? '', /^koa:sess=;/, 'the slow request tells its client the session is over');
      });
    }

    it('keeps a logged-out session gone under rolling with a store that has neither touch nor patch', async () => {
      const { store, map } = countingStore('async');
      const { running, release, waiting } = await slowApp(store, { rolling: true });
      const login = await running.agent.get('/login').expect(200);
      const slow = running.agent.get('/slow').set('Cookie', cookieHeader(login)).then((res) => res);
      await waiting;
      await running.agent.get('/logout').set('Cookie', cookieHeader(login)).expect(200);
      release();
      await slow;
      assert.equal(map.size, 0);
    });
  });

  describe(`${label}: cookie settings a browser would drop fail at start-up`, () => {
    it('refuses sameSite none and partitioned without secure: true, naming Secure', () => {
      assert.throws(() => session({ cookie: { sameSite: 'none' } }), /SameSite=None cookie without Secure.*cookie\.secure: true/s);
      assert.throws(() => session({ cookie: { sameSite: 'none', secure: false } }), /cookie\.secure is not true/);
      assert.throws(() => session({ cookie: { partitioned: true } }), /partitioned cookie without Secure/);
      session({ cookie: { sameSite: 'none', secure: true, partitioned: true } });
    });

    it('checks the __Secure- and __Host- name prefixes, whatever their case', () => {
      assert.throws(() => session({ name: '__Secure-sid' }), /starts with __Secure-.*cookie\.secure: true/s);
      assert.throws(() => session({ name: '__secure-sid' }), /starts with __Secure-/);
      assert.throws(() => session({ name: '__Host-sid' }), /starts with __Host-/);
      assert.throws(() => session({ name: '__Host-sid', cookie: { secure: true, domain: 'example.com' } }), /__Host- cookie that has a Domain/);
      assert.throws(() => session({ name: '__Host-sid', cookie: { secure: true, path: '/app' } }), /__Host- cookie whose Path is not "\/"/);
      session({ name: '__Secure-sid', cookie: { secure: true, domain: 'example.com', path: '/app' } });
      session({ name: '__Host-sid', cookie: { secure: true } });
    });

    it('sends a __Host- session cookie with Secure and path=/ behind a TLS proxy', async () => {
      const app = makeApp(Koa, ['k1']);
      app.proxy = true;
      app.use(session({ name: '__Host-sid', cookie: { secure: true, sameSite: 'none' } }));
      app.use((ctx) => {
        ctx.session.n = 1;
        ctx.body = 'ok';
      });
      const { agent } = await listen(app);
      const res = await agent.get('/').set('X-Forwarded-Proto', 'https').expect(200);
      assert.match(setCookies(res)[0] ?? '', /^__Host-sid=[^;]+; path=\/; samesite=none; secure; httponly$/);
    });
  });

  describe(`${label}: a logout without a session cookie`, () => {
    for (const [what, options] of [['the cookie store', {}], ['a server store', { store: countingStore('async').store }]] as const) {
      it(`sends no Set-Cookie on ${what}, so a cross-site form that SameSite kept the cookie from cannot log the user out`, async () => {
        const { agent } = await start(options);
        const res = await agent.post('/logout').expect(200);
        assert.deepEqual(setCookies(res), []);
        const login = await agent.get('/count').expect(200);
        const real = await agent.post('/logout').set('Cookie', cookieHeader(login)).expect(200);
        assert.match(setCookies(real)[0] ?? '', /^koa:sess=; path=\/; expires=Thu, 01 Jan 1970/, 'a logout that carries the cookie still expires it');
      });
    }
  });

  describe(`${label}: signatures and keys`, () => {
    it('refuses a genuine signature cut short, down to one character', async () => {
      const { agent } = await start();
      const first = await agent.get('/count').expect(200);
      const value = cookieValue(first, 'koa:sess') as string;
      const signature = cookieValue(first, 'koa:sess.sig') as string;
      for (const length of [26, 20, 1]) {
        const res = await agent.get('/').set('Cookie', `koa:sess=${value}; koa:sess.sig=${signature.slice(0, length)}`).expect(200);
        assert.deepEqual(res.body, { session: {} }, `a ${length}-character prefix of the signature must not verify`);
      }
      const whole = await agent.get('/').set('Cookie', cookieHeader(first)).expect(200);
      assert.deepEqual(whole.body, { session: { count: 1 } });
    });

    it('stops accepting cookies signed with a Buffer key once that Buffer is changed in place', async () => {
      const key = Buffer.from('a Buffer key of thirty-two bytes');
      const { agent } = await start({}, [key]);
      const first = await agent.get('/count').expect(200);
      const remembered = await agent.get('/').set('Cookie', cookieHeader(first)).expect(200);
      assert.deepEqual(remembered.body, { session: { count: 1 } });
      key.write('B');
      const after = await agent.get('/').set('Cookie', cookieHeader(first)).expect(200);
      assert.deepEqual(after.body, { session: {} });
      const resigned = `koa:sess=${cookieValue(first, 'koa:sess') as string}; koa:sess.sig=${createHmac('sha1', key).update(`koa:sess=${cookieValue(first, 'koa:sess') as string}`).digest('base64url')}`;
      const withNewKey = await agent.get('/').set('Cookie', resigned).expect(200);
      assert.deepEqual(withNewKey.body, { session: { count: 1 } });
    });
  });

  describe(`${label}: maxLifetime caps the store's ttl`, () => {
    it('stores a new session with a ttl no longer than maxLifetime, even with a one-day ttl', async () => {
      const { store, ttls } = countingStore('async');
      const { agent } = await start({ store, maxLifetime: 60_000 });
      await agent.get('/count').expect(200);
      const [ttl] = [...ttls.values()];
      assert.ok(ttl !== undefined && ttl <= 60_000 && ttl > 55_000, `ttl was ${String(ttl)}`);
    });

    it('caps the ttl of an entry that never expires otherwise (ttl 0)', async () => {
      const { store, ttls } = countingStore('async');
      const { agent } = await start({ store, ttl: 0, maxLifetime: 60_000 });
      await agent.get('/count').expect(200);
      const [ttl] = [...ttls.values()];
      assert.ok(ttl !== undefined && ttl <= 60_000, `ttl was ${String(ttl)}`);
    });
  });
}
