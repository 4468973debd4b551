// Client garbage never crashes or 500s: it starts a fresh session, replaced
// only when the new session is populated; no JSON key reaches a prototype.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { session } from '../src/index.js';
import type { SessionOptions } from '../src/index.js';
import { cookieHeader, cookieValue, KOA_VERSIONS, listen, makeApp, setCookies } from './support/http.js';
import { payloadValue, signedCookie } from './support/sign.js';
import { countingStore } from './support/stores.js';

const NOW = Date.now();
const valid = payloadValue(`{"_sid":"abcdefghijklmno","_ctime":${NOW},"_exp":${NOW + 60_000},"views":1}`);

/** Cookie headers a client could send, each of which must give a fresh, empty session. */
const garbage: Array<[string, string]> = [
  ['an unsigned cookie when signing is on', `koa:sess=${valid}`],
  ['a tampered value with the old signature', signedCookie('koa:sess', valid).replace(valid, `${valid.slice(0, -2)}AA`)],
  ['a truncated value', `koa:sess=${valid.slice(0, 20)}; koa:sess.sig=${signedCookie('koa:sess', valid).split('sig=')[1]}`],
  ['a signature of the wrong length', `koa:sess=${valid}; koa:sess.sig=abc`],
  ['an empty value', 'koa:sess=; koa:sess.sig=x'],
  ['a value that is not base64url', signedCookie('koa:sess', '%%%not-base64!!')],
  ['base64 of text that is not JSON', signedCookie('koa:sess', payloadValue('{"_sid":"abcdefghijklmno","_ctime":1,garbage'))],
  ['base64 of a JSON array', signedCookie('koa:sess', payloadValue('[1,2,3]'))],
  ['base64 of a JSON string', signedCookie('koa:sess', payloadValue('"text"'))],
  ['base64 of a JSON number', signedCookie('koa:sess', payloadValue('42'))],
  ['JSON without _sid', signedCookie('koa:sess', payloadValue('{"views":1}'))],
  ['an id with forbidden characters', signedCookie('koa:sess', payloadValue(`{"_sid":"a b/c","_ctime":${NOW}}`))],
  ['an id longer than 128 characters', signedCookie('koa:sess', payloadValue(`{"_sid":"${'a'.repeat(129)}","_ctime":${NOW}}`))],
  ['raw JSON that is malformed', signedCookie('koa:sess', '{"_sid":"abcdefghijklmno",')],
  ['raw JSON with a non-string _sid', signedCookie('koa:sess', '{"_sid":12345}')],
  ['raw JSON that is an array', signedCookie('koa:sess', '[{"_sid":"abcdefghijklmno"}]')],
];

for (const { label, Koa } of KOA_VERSIONS) {
  describe(`${label}: bad cookies start a fresh session`, () => {
    async function start(options: SessionOptions = {}) {
      const app = makeApp(Koa, ['k1']);
      app.use(session(options));
      app.use((ctx) => {
        if (ctx.path === '/set') ctx.session.fresh = true;
        ctx.body = { session: ctx.session };
      });
      return listen(app);
    }

    for (const [what, cookie] of garbage) {
      it(`gives 200, an empty session and no Set-Cookie for ${what}`, async () => {
        const { agent, errors } = await start();
        const res = await agent.get('/').set('Cookie', cookie).expect(200);
        assert.deepEqual(res.body, { session: {} });
        assert.deepEqual(setCookies(res), []);
        assert.deepEqual(errors, []);
      });
    }

    it('replaces a bad cookie once the new session is populated', async () => {
      const { agent } = await start();
      const res = await agent.get('/set').set('Cookie', garbage[1]?.[1] as string).expect(200);
      assert.deepEqual(res.body, { session: { fresh: true } });
      assert.ok(cookieValue(res, 'koa:sess'));
    });

    it('gives every bad cookie the same fresh outcome with a server store, without asking the store', async () => {
      const { store, calls } = countingStore('async');
      const { agent } = await start({ store });
      for (const cookie of [
        'koa:sess=abcdefghijklmno',
        signedCookie('koa:sess', 'has spaces and ;'),
        signedCookie('koa:sess', 'x'.repeat(129)),
        signedCookie('koa:sess', 'id.with.toomanyparts.x'),
        signedCookie('koa:sess', '{"_sid":"../../etc"}'),
      ]) {
        const res = await agent.get('/').set('Cookie', cookie).expect(200);
        assert.deepEqual(res.body, { session: {} });
      }
      assert.equal(calls.load, 0);
    });
  });

  describe(`${label}: JSON keys never reach a prototype`, () => {
    const hostile = '{"__proto__":{"polluted":"yes"},"constructor":{"prototype":{"polluted":"yes"}},"nested":{"__proto__":{"polluted":"yes"}},"sneaky":{"\\u005f_proto__":{"polluted":"yes"}}}';

    function assertClean(session: Record<string, unknown>): void {
      assert.equal(({} as Record<string, unknown>).polluted, undefined);
      assert.equal(Object.getPrototypeOf(session), Object.prototype);
      assert.equal(session.polluted, undefined);
      assert.equal(Object.hasOwn(session, '__proto__'), false);
      const copy = Object.assign({}, session, session.nested, session.sneaky);
      assert.equal(copy.polluted, undefined);
      assert.equal(Object.getPrototypeOf(copy), Object.prototype);
    }

    it('drops __proto__ keys from a cookie-store payload', async () => {
      const app = makeApp(Koa, ['k1']);
      app.use(session());
      let seen: Record<string, unknown> = {};
      app.use((ctx) => {
        seen = ctx.session;
        ctx.body = 'ok';
      });
      const { agent } = await listen(app);
      const text = `{"_sid":"abcdefghijklmno","_ctime":${NOW},${hostile.slice(1)}`;
      await agent.get('/').set('Cookie', signedCookie('koa:sess', payloadValue(text))).expect(200);
      assertClean(seen);
      assert.deepEqual(seen.constructor, { prototype: { polluted: 'yes' } }, 'a key named constructor stays plain data');
    });

    it('drops __proto__ keys from store JSON', async () => {
      const counting = countingStore('async');
      counting.map.set('abcdefghijklmno', hostile);
      const app = makeApp(Koa, ['k1']);
      app.use(session({ store: counting.store }));
      let seen: Record<string, unknown> = {};
      app.use((ctx) => {
        seen = ctx.session;
        ctx.body = 'ok';
      });
      const { agent } = await listen(app);
      await agent.get('/').set('Cookie', signedCookie('koa:sess', 'abcdefghijklmno')).expect(200);
      assertClean(seen);
    });
  });

  describe(`${label}: a fresh session never reuses the id a client sent`, () => {
    it('issues a new id when the store does not know the cookie id', async () => {
      const counting = countingStore('async');
      const app = makeApp(Koa, ['k1']);
      app.use(session({ store: counting.store }));
      app.use((ctx) => {
        ctx.session.user = 'x';
        ctx.body = ctx.sessionId;
      });
      const { agent } = await listen(app);
      const res = await agent.get('/').set('Cookie', signedCookie('koa:sess', 'planted-by-attacker')).expect(200);
      assert.notEqual(res.text, 'planted-by-attacker');
      assert.equal(counting.map.has('planted-by-attacker'), false);
      assert.equal(counting.map.has(res.text), true);
      assert.equal(cookieHeader(res).includes('planted-by-attacker'), false);
    });
  });
}
