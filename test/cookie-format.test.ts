// The cookie's format: base64url JSON for the cookie store, an id for server
// stores, and 2.0's raw JSON cookies still accepted after an upgrade.
import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { describe, it } from 'node:test';
import Cookies from 'cookies';
import { session } from '../src/index.js';
import type { SessionStore } from '../src/index.js';
import { cookieHeader, cookieValue, KOA_VERSIONS, listen, makeApp, setCookies } from './support/http.js';
import { payloadValue, signedCookie } from './support/sign.js';
import { countingStore } from './support/stores.js';

/**
 * A cookie exactly as koa-session-store 2.0 issued it: the `cookies` package,
 * signed with app.keys, raw JSON of `{ _sid, ...data }` as the value.
 */
async function originalCookie(payload: Record<string, unknown>, keys: string[]): Promise<string> {
  const server = http.createServer((req, res) => {
    new Cookies(req, res, { keys }).set('koa:sess', JSON.stringify(payload), { signed: true, httpOnly: true, overwrite: true });
    res.end();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  const response = await fetch(`http://127.0.0.1:${port}/`);
  server.close();
  return response.headers
    .getSetCookie()
    .map((entry) => entry.split(';')[0])
    .join('; ');
}

for (const { label, Koa } of KOA_VERSIONS) {
  describe(`${label}: cookie format`, () => {
    it('keeps any Unicode data in the cookie store (base64url JSON)', async () => {
      const app = makeApp(Koa);
      app.use(session());
      const text = 'héllo wörld — 你好 — مرحبا — 🎉 \u2028';
      app.use((ctx) => {
        if (ctx.path === '/set') ctx.session.text = text;
        ctx.body = { text: ctx.session.text ?? null };
      });
      const { agent } = await listen(app);
      const first = await agent.get('/set').expect(200);
      const value = cookieValue(first, 'koa:sess') as string;
      assert.match(value, /^[A-Za-z0-9_-]+$/);
      const second = await agent.get('/').set('Cookie', cookieHeader(first)).expect(200);
      assert.equal(second.body.text, text);
    });

    it('puts only the id and signed timestamps in a server store cookie', async () => {
      const { store, map } = countingStore('async');
      const app = makeApp(Koa);
      app.use(session({ store }));
      app.use((ctx) => {
        ctx.session.secret = 'data-that-must-stay-server-side';
        ctx.body = 'ok';
      });
      const { agent } = await listen(app);
      const res = await agent.get('/').expect(200);
      const value = cookieValue(res, 'koa:sess') as string;
      const [sid] = [...map.keys()];
      assert.match(value, /^[0-9a-f-]{36}\.[0-9a-z]+\.[0-9a-z]+$/);
      assert.equal(value.split('.')[0], sid);
    });

    it("accepts a cookie-store cookie issued by koa-session-store 2.0 with the same app.keys", async () => {
      const cookie = await originalCookie({ _sid: 'abcdefghijklmno', views: 3, name: 'old' }, ['k1']);
      const app = makeApp(Koa, ['k1']);
      app.use(session());
      app.use((ctx) => {
        ctx.body = { session: ctx.session, id: ctx.sessionId };
        if (ctx.path === '/inc') (ctx.session.views as number)++;
      });
      const { agent } = await listen(app);
      const read = await agent.get('/').set('Cookie', cookie).expect(200);
      assert.deepEqual(read.body, { session: { views: 3, name: 'old' }, id: 'abcdefghijklmno' });
      assert.deepEqual(setCookies(read), []);
      const changed = await agent.get('/inc').set('Cookie', cookie).expect(200);
      const again = await agent.get('/').set('Cookie', cookieHeader(changed)).expect(200);
      assert.deepEqual(again.body, { session: { views: 4, name: 'old' }, id: 'abcdefghijklmno' });
    });

    it('accepts a server-store cookie issued by koa-session-store 2.0 with the same app.keys', async () => {
      const cookie = await originalCookie({ _sid: 'ZYXWVUTSRQPONML' }, ['k1']);
      const map = new Map([['ZYXWVUTSRQPONML', '{"user":"ada"}']]);
      const store: SessionStore = {
        load: async (sid) => map.get(sid),
        save: async (sid, json) => void map.set(sid, json),
        remove: async (sid) => void map.delete(sid),
      };
      const app = makeApp(Koa, ['k1']);
      app.use(session({ store }));
      app.use((ctx) => {
        ctx.body = ctx.session;
      });
      const { agent } = await listen(app);
      const res = await agent.get('/').set('Cookie', cookie).expect(200);
      assert.deepEqual(res.body, { user: 'ada' });
    });

    it('refuses a 2.0 cookie signed with a different key', async () => {
      const cookie = await originalCookie({ _sid: 'abcdefghijklmno', views: 3 }, ['other']);
      const app = makeApp(Koa, ['k1']);
      app.use(session());
      app.use((ctx) => {
        ctx.body = ctx.session;
      });
      const { agent } = await listen(app);
      const res = await agent.get('/').set('Cookie', cookie).expect(200);
      assert.deepEqual(res.body, {});
    });

    it('picks the session cookie out of a Cookie header by the same rule as the cookies package', async () => {
      const now = Date.now();
      const mine = payloadValue(`{"_sid":"abcdefghijklmno","_ctime":${now},"views":1}`);
      const other = payloadValue(`{"_sid":"otherotherother","_ctime":${now},"views":2}`);
      const [mineValue, mineSig] = signedCookie('koa:sess', mine).split('; ') as [string, string];
      const [otherValue, otherSig] = signedCookie('koa:sess', other).split('; ') as [string, string];
      // Each header, and the views the session must show (undefined: a fresh, empty session).
      const headers: Array<[string, number | undefined]> = [
        [`${mineValue}; ${mineSig}`, 1],
        [`${mineSig}; ${mineValue}`, 1],
        [`   ${mineValue};   ${mineSig}`, 1],
        [`x${otherValue}; ${mineValue}; ${mineSig}`, 1],
        [`a=${otherValue}; ${mineValue}; ${mineSig}`, 1],
        [`${mineValue}; ${mineSig}; ${otherValue}; ${otherSig}`, 1],
        [`${otherValue}; ${otherSig}; ${mineValue}; ${mineSig}`, 2],
        [`${mineValue}; x${mineSig}`, undefined],
        [`${mineValue}=; ${mineSig}`, undefined],
        [`${mineValue.replace('koa:sess=', 'koa:sess =')}; ${mineSig}`, undefined],
      ];
      const app = makeApp(Koa, ['k1']);
      app.use(session());
      app.use((ctx) => {
        const cookies = new Cookies(ctx.req, ctx.res, { keys: ['k1'] });
        ctx.body = { views: ctx.session.views ?? null, theirs: cookies.get('koa:sess') ?? null, signed: cookies.get('koa:sess', { signed: true }) !== undefined };
      });
      const { agent } = await listen(app);
      for (const [header, views] of headers) {
        const res = await agent.get('/').set('Cookie', header).expect(200);
        const body = res.body as { views: number | null; theirs: string | null; signed: boolean };
        assert.equal(body.views, views ?? null, header);
        // Whatever we accept, the cookies package reads and verifies the same value.
        if (views !== undefined) {
          assert.equal(body.theirs, views === 1 ? mine : other, header);
          assert.equal(body.signed, true, header);
        }
      }
    });
  });
}
