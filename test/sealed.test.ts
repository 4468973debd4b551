// Sealed cookies (`encrypt: true`) over real HTTP: nothing of the session is
// readable, one cookie, a fresh nonce per write; keys from app.keys or
// secrets, refused when weak; rotation through three keys; every tamper case a
// fresh session; the lifecycle options, size guard, prefixes and secure
// behind a proxy work sealed; a signed cookie migrates without a logout.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type Koa from 'koa';
import { session } from '../src/index.js';
import type { SessionOptions } from '../src/index.js';
import { cookieHeader, cookieValue, KOA_VERSIONS, listen, makeApp, setCookies, sleep } from './support/http.js';
import type { App } from './support/http.js';

const K1 = 'first key of thirty-two characters, or more';
const K2 = 'second key of thirty-two characters, or more';
const K3 = 'third key of thirty-two characters, or more!';
const SECRET_DATA = 'visible-only-to-the-server';

function routes(app: App): void {
  app.use(async (ctx) => {
    switch (ctx.path) {
      case '/set':
        ctx.session.secret = SECRET_DATA;
        ctx.session.n = ((ctx.session.n as number | undefined) ?? 0) + 1;
        break;
      case '/big':
        ctx.session.big = 'x'.repeat(Number(ctx.query.size));
        break;
      case '/null':
        ctx.session = null;
        ctx.body = 'bye';
        return;
      case '/regenerate':
        await ctx.regenerateSession();
        break;
      case '/untouched':
        ctx.body = 'untouched';
        return;
    }
    ctx.body = { id: ctx.sessionId, session: ctx.session };
  });
}

async function start(KoaClass: typeof Koa, options: SessionOptions = {}, keys: string[] = [K1]) {
  const app = makeApp(KoaClass, keys);
  app.use(session({ encrypt: true, ...options }));
  routes(app);
  return { ...(await listen(app)), app };
}

/** The bytes of a sealed value, to tamper with. */
const bytes = (value: string) => Buffer.from(value, 'base64url');
const flip = (value: string, index: number) => {
  const raw = bytes(value);
  raw[index] = (raw[index] as number) ^ 0x01;
  return raw.toString('base64url');
};

for (const { label, Koa: KoaClass } of KOA_VERSIONS) {
  describe(`${label}: sealed cookies`, () => {
    it('keeps the session in one opaque cookie: no .sig, nothing readable plain, URI-decoded or base64-decoded', async () => {
      const { agent } = await start(KoaClass);
      const res = await agent.get('/set').expect(200);
      const headers = setCookies(res);
      assert.equal(headers.length, 1, 'one cookie, no signature cookie');
      const value = cookieValue(res, 'koa:sess') as string;
      for (const view of [value, decodeURIComponent(value), bytes(value).toString('latin1'), bytes(value).toString('utf8')]) {
        assert.ok(!view.includes(SECRET_DATA) && !view.includes(res.body.id as string), 'neither data nor id can be read');
        // The session's own key names, as JSON would spell them: a pattern as loose as `{"` or `["` can turn
        // up by chance in ~150 random bytes (it did once in CI), these cannot.
        for (const keyName of ['"secret"', '"n":', '_expire', '_maxAge']) {
          assert.ok(!view.includes(keyName), 'no JSON key of the session can be seen');
        }
      }
      const again = await agent.get('/').set('Cookie', cookieHeader(res)).expect(200);
      assert.deepEqual(again.body.session, { secret: SECRET_DATA, n: 1 });
    });

    it('seals every write with a fresh nonce, so the same session never gives the same cookie twice', async () => {
      const { agent } = await start(KoaClass, { rolling: true });
      const first = await agent.get('/set').expect(200);
      const a = await agent.get('/').set('Cookie', cookieHeader(first)).expect(200);
      const b = await agent.get('/').set('Cookie', cookieHeader(first)).expect(200);
      const nonce = (value: string) => bytes(value).subarray(5, 29).toString('hex');
      assert.notEqual(nonce(cookieValue(a, 'koa:sess') as string), nonce(cookieValue(b, 'koa:sess') as string));
    });

    it('refuses weak secrets at session(), naming the secret and never showing it', () => {
      for (const secret of ['short', 'a'.repeat(40), 'ab'.repeat(16), Buffer.alloc(16, 7), 'A1b2'.repeat(10)]) {
        assert.throws(
          () => session({ encrypt: true, secrets: [K1, secret] }),
          (error: Error) => /option secrets\[1\] is too weak to seal sessions with/.test(error.message) && !error.message.includes(String(secret)),
        );
      }
      assert.throws(() => session({ encrypt: true, secrets: [] }), /option secrets is invalid/);
      assert.throws(() => session({ secrets: [K1] }), /encrypt: true too/);
      assert.throws(() => session({ encrypt: true, store: { load: () => undefined, save() {}, remove() {} } }), /option encrypt is for the cookie store/);
      session({ encrypt: true, secrets: [K1, '0123456789abcdef'.repeat(4), Buffer.alloc(32, 9), 'Zm9vYmFyYmF6cXV4cXV1eHF1dXhxdXV4cXV1eHF1dXg'] });
    });

    it('fails a request clearly when app.keys holds a weak key and no secrets are given', async () => {
      const { agent, errors } = await start(KoaClass, {}, [K1, 'weak']);
      await agent.get('/set').expect(500);
      assert.match(errors[0]?.message ?? '', /app\.keys\[1\] is too weak to seal sessions with/);
    });

    it('works with the secrets option alone, without app.keys', async () => {
      const app = makeApp(KoaClass, null);
      app.use(session({ encrypt: true, secrets: [K1] }));
      routes(app);
      const { agent } = await listen(app);
      const first = await agent.get('/set').expect(200);
      const again = await agent.get('/').set('Cookie', cookieHeader(first)).expect(200);
      assert.equal(again.body.session.n, 1);
    });

    it('rotates through three keys as users do it, [k1] → [k2, k1] → [k2] → [k3, k2], without logging anyone out', async () => {
      const { agent, app } = await start(KoaClass, {}, [K1]);
      let cookie = cookieHeader(await agent.get('/set').expect(200));
      app.keys = [K2, K1];
      // Any response that carries the cookie re-seals it with the newest key, even one that never reads the session.
      const reissued = await agent.get('/untouched').set('Cookie', cookie).expect(200);
      assert.equal(setCookies(reissued).length, 1, 'the cookie sealed with k1 is sealed again with k2');
      cookie = cookieHeader(reissued);
      app.keys = [K2];
      const withK2 = await agent.get('/').set('Cookie', cookie).expect(200);
      assert.equal(withK2.body.session.n, 1);
      assert.deepEqual(setCookies(withK2), [], 'a cookie sealed with the newest key is left alone');
      app.keys = [K3, K2];
      const withK3 = await agent.get('/set').set('Cookie', cookie).expect(200);
      assert.equal(withK3.body.session.n, 2);
      app.keys = [K3];
      const later = await agent.get('/').set('Cookie', cookieHeader(withK3)).expect(200);
      assert.equal(later.body.session.n, 2);
      // The k2 cookie, its key gone: a fresh session.
      const stale = await agent.get('/').set('Cookie', cookie).expect(200);
      assert.deepEqual(stale.body.session, {});
    });

    it('gives a fresh session, never a 500, for every tampered, truncated, foreign or garbage cookie', async () => {
      const { agent, errors } = await start(KoaClass, { cookie: { maxAge: 60_000 } });
      const genuine = cookieValue(await agent.get('/set').expect(200), 'koa:sess') as string;
      const size = bytes(genuine).length;
      const other = await start(KoaClass, {}, [K2]);
      const foreign = cookieValue(await other.agent.get('/set').expect(200), 'koa:sess') as string;
      const renamed = await start(KoaClass, { name: 'other' }, [K1]);
      const otherName = cookieValue(await renamed.agent.get('/set').expect(200), 'other') as string;
      const cases: Array<[string, string]> = [
        ['a flipped version bit', flip(genuine, 0)],
        ['a flipped key id bit', flip(genuine, 2)],
        ['a flipped nonce bit', flip(genuine, 10)],
        ['a flipped ciphertext bit', flip(genuine, 40)],
        ['a flipped tag bit', flip(genuine, size - 1)],
        ['a truncated value', genuine.slice(0, -10)],
        ['the header only', genuine.slice(0, 40)],
        ['an empty value', ''],
        ['garbage', 'A'.repeat(80)],
        ['non-base64 text', `A${'%$!'.repeat(30)}`],
        ["another app's cookie", foreign],
        ['a cookie sealed for another cookie name', otherName],
        ['a signed cookie-store value with a bad signature', 'WyJhYmMiLDEsMCx7fV0; koa:sess.sig=abc'],
      ];
      for (const [what, value] of cases) {
        const res = await agent.get('/').set('Cookie', `koa:sess=${value}`).expect(200);
        assert.deepEqual(res.body.session, {}, `${what} must give a fresh session`);
      }
      assert.deepEqual(errors, []);
      const intact = await agent.get('/').set('Cookie', `koa:sess=${genuine}`).expect(200);
      assert.equal(intact.body.session.n, 1);
    });

    it('refuses a sealed cookie replayed after its expiry, and honours maxLifetime', async () => {
      const { agent } = await start(KoaClass, { ttl: 150 });
      const first = await agent.get('/set').expect(200);
      await sleep(200);
      const replayed = await agent.get('/').set('Cookie', cookieHeader(first)).expect(200);
      assert.deepEqual(replayed.body.session, {});
      const capped = await start(KoaClass, { rolling: true, maxLifetime: 250 });
      const a = await capped.agent.get('/set').expect(200);
      await sleep(150);
      const b = await capped.agent.get('/').set('Cookie', cookieHeader(a)).expect(200);
      assert.equal(b.body.session.n, 1);
      await sleep(150);
      const c = await capped.agent.get('/').set('Cookie', cookieHeader(b)).expect(200);
      assert.deepEqual(c.body.session, {}, 'rolling never extends a sealed session past maxLifetime');
    });

    it('sets Max-Age from cookie.maxAge, rolls it with rolling, and throttles with touchAfter', async () => {
      const { agent } = await start(KoaClass, { cookie: { maxAge: 60_000 }, rolling: true, touchAfter: 200 });
      const first = await agent.get('/set').expect(200);
      assert.match(setCookies(first)[0] ?? '', /; max-age=60; expires=/);
      const soon = await agent.get('/').set('Cookie', cookieHeader(first)).expect(200);
      assert.deepEqual(setCookies(soon), []);
      await sleep(250);
      const later = await agent.get('/').set('Cookie', cookieHeader(first)).expect(200);
      assert.equal(setCookies(later).length, 1, 'touched once touchAfter has passed');
      assert.equal((await agent.get('/').set('Cookie', cookieHeader(later)).expect(200)).body.session.n, 1);
    });

    it('gives a new id on regenerate and expires the cookie on ctx.session = null', async () => {
      const { agent } = await start(KoaClass);
      const first = await agent.get('/set').expect(200);
      const regenerated = await agent.get('/regenerate').set('Cookie', cookieHeader(first)).expect(200);
      assert.notEqual(regenerated.body.id, first.body.id);
      assert.equal(regenerated.body.session.n, 1);
      const gone = await agent.get('/null').set('Cookie', cookieHeader(regenerated)).expect(200);
      assert.match(setCookies(gone)[0] ?? '', /^koa:sess=; path=\/; expires=Thu, 01 Jan 1970/);
      assert.equal(setCookies(gone).length, 1, 'there is no .sig cookie to expire');
    });

    it('measures the 4096-byte guard on the real header', async () => {
      const { agent, errors } = await start(KoaClass);
      // Sealing adds 45 bytes and base64url a third: about 2,960 bytes of data still fit, 3,100 do not.
      const fits = await agent.get('/big?size=2900').expect(200);
      assert.ok((setCookies(fits)[0] ?? '').length <= 4096);
      await agent.get('/big?size=3100').expect(500);
      assert.match(errors[0]?.message ?? '', /over the 4096 bytes browsers keep/);
    });

    it('marks the cookie Secure behind a TLS proxy and keeps the __Host- prefix rules', async () => {
      const app = makeApp(KoaClass, [K1]);
      app.proxy = true;
      app.use(session({ encrypt: true, name: '__Host-s', cookie: { secure: true } }));
      routes(app);
      const { agent } = await listen(app);
      const res = await agent.get('/set').set('X-Forwarded-Proto', 'https').expect(200);
      assert.match(setCookies(res)[0] ?? '', /^__Host-s=A[^;]+; path=\/; samesite=lax; secure; httponly$/);
      assert.throws(() => session({ encrypt: true, name: '__Host-s', cookie: { secure: true, path: '/app' } }), /__Host-/);
    });

    it('reads a signed cookie from before encrypt: true, then re-issues it sealed and drops its signature', async () => {
      const signedApp = makeApp(KoaClass, [K1]);
      signedApp.use(session());
      routes(signedApp);
      const signed = await listen(signedApp);
      const before = await signed.agent.get('/set').expect(200);
      assert.equal(setCookies(before).length, 2);

      const { agent } = await start(KoaClass);
      const migrated = await agent.get('/untouched').set('Cookie', cookieHeader(before)).expect(200);
      const [sealedHeader, signatureHeader] = setCookies(migrated);
      assert.match(sealedHeader ?? '', /^koa:sess=A/);
      assert.match(signatureHeader ?? '', /^koa:sess\.sig=; path=\/; expires=Thu, 01 Jan 1970/);
      const after = await agent.get('/').set('Cookie', cookieHeader(migrated).split('; ')[0] as string).expect(200);
      assert.deepEqual(after.body.session, { secret: SECRET_DATA, n: 1 });
      assert.equal(after.body.id, before.body.id, 'the same session, only sealed');
      // A cookie-store value without a valid signature is never adopted.
      const forged = await agent.get('/').set('Cookie', `koa:sess=${cookieValue(before, 'koa:sess') as string}`).expect(200);
      assert.deepEqual(forged.body.session, {});
      const badSignature = `koa:sess=${cookieValue(before, 'koa:sess') as string}; koa:sess.sig=${'A'.repeat(27)}`;
      assert.deepEqual((await agent.get('/').set('Cookie', badSignature).expect(200)).body.session, {}, 'a wrong signature migrates nothing');
    });
  });
}
