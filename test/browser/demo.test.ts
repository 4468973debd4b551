// The demo of examples/ in headless Chromium, over the cookie, sealed and every
// server store at once (one browser, one context per scenario, the stores in
// parallel): what a session does in a real browser, end to end.
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import type { StoreKind } from '../../examples/demo/stores.js';
import { type DemoOptions, ensureArtifacts, launchBrowser, randomKey, RunningDemo, sidOfCookie, startOtherSite, StoreNames, STORE_KINDS, chromiumSkip, storeSkip } from './harness.js';

const noBrowser = chromiumSkip();
const names = new StoreNames();
const used = new Set<StoreKind>();
const running: RunningDemo[] = [];
let browser: Browser;
let otherSite: Awaited<ReturnType<typeof startOtherSite>>;

async function demoOn(kind: StoreKind, options: DemoOptions = {}): Promise<RunningDemo> {
  used.add(kind);
  const demo = await RunningDemo.start(kind, names.next(), options);
  running.push(demo);
  return demo;
}

async function views(page: Page): Promise<number> {
  return Number(await page.locator('#views').textContent());
}

async function sessionCookie(context: BrowserContext, demo: RunningDemo) {
  return (await context.cookies(demo.url)).find((cookie) => cookie.name === demo.cookieName);
}

async function logIn(page: Page, name: string): Promise<void> {
  await page.fill('input[name=name]', name);
  await Promise.all([page.waitForURL(/\?from=/), page.click('#login')]);
}

/** Runs `body` with a fresh browser context (its own cookie jar), closed afterwards. */
/** Another device of a user, as the devices panel names it. */
const PHONE = 'Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Mobile/15E148 Safari/604.1';

async function withContext<T>(body: (context: BrowserContext, page: Page) => Promise<T>, options: { ignoreHTTPSErrors?: boolean; userAgent?: string } = {}): Promise<T> {
  const context = await browser.newContext({ viewport: { width: 1200, height: 900 }, ...options });
  try {
    return await body(context, await context.newPage());
  } finally {
    await context.close();
  }
}

describe('the demo in Chromium', { skip: noBrowser, concurrency: true }, () => {
  before(async () => {
    browser = await launchBrowser();
    otherSite = await startOtherSite();
  });

  after(async () => {
    await browser?.close();
    await otherSite?.close();
    await Promise.all(running.map((demo) => demo.close()));
    await names.cleanUp(used);
  });

  for (const kind of STORE_KINDS) {
    describe(`on the ${kind} store`, { concurrency: 1 }, () => {
      let demo: RunningDemo;
      let skip: string | false = false;
      const serverSide = kind !== 'cookie' && kind !== 'sealed';

      before(async () => {
        skip = await storeSkip(kind);
        if (skip === false) demo = await demoOn(kind);
      });

      it('counts views across reloads in one session, shown on the page', async (t) => {
        if (skip !== false) return t.skip(skip);
        await withContext(async (_context, page) => {
          await page.goto(demo.url);
          assert.equal(await views(page), 1);
          await page.reload();
          await page.reload();
          assert.equal(await views(page), 3);
          assert.equal(await page.locator('#store-kind').textContent(), kind);
        });
      });

      it('keeps the session cookie away from page scripts (HttpOnly, SameSite=Lax) and never shows the id', async (t) => {
        if (skip !== false) return t.skip(skip);
        await withContext(async (context, page) => {
          await page.goto(demo.url);
          const cookie = await sessionCookie(context, demo);
          assert.ok(cookie, 'the browser holds the session cookie');
          assert.equal(cookie.httpOnly, true);
          assert.equal(cookie.sameSite, 'Lax');
          assert.equal(await page.evaluate('document.cookie'), '', 'page scripts see no cookie');
          assert.equal(await page.locator('#document-cookie').textContent(), '""');
          const sid = sidOfCookie(kind, cookie.value);
          if (sid !== undefined) assert.ok(!(await page.content()).includes(sid), 'the page never shows the session id');
          const shown = (await page.locator('#set-cookie').textContent()) ?? '';
          assert.ok(shown.includes(demo.cookieName), 'the Set-Cookie panel names the cookie');
          if (kind === 'cookie') assert.match(shown, /"views":1/, 'the signed store shows its readable JSON');
          if (kind === 'sealed') assert.doesNotMatch(shown, /views/, 'a sealed cookie is opaque');
        });
      });

      it('gives the session a new id on login (regenerateSession) and shows the handle before and after', async (t) => {
        if (skip !== false) return t.skip(skip);
        await withContext(async (context, page) => {
          await page.goto(demo.url);
          const handleBefore = await page.locator('#handle').textContent();
          const valueBefore = (await sessionCookie(context, demo))?.value ?? '';
          await logIn(page, 'lin');
          assert.equal(await page.locator('#user').textContent(), 'lin');
          const handleAfter = await page.locator('#handle').textContent();
          assert.notEqual(handleAfter, handleBefore);
          assert.match((await page.locator('#id-change').textContent()) ?? '', new RegExp(`${handleBefore}.*${handleAfter}`));
          assert.equal(await views(page), 2, 'the data moved to the new id');
          const valueAfter = (await sessionCookie(context, demo))?.value ?? '';
          const [sidBefore, sidAfter] = [sidOfCookie(kind, valueBefore), sidOfCookie(kind, valueAfter)];
          if (sidBefore !== undefined) assert.notEqual(sidAfter, sidBefore);
          if (serverSide) assert.equal(await demo.load(sidBefore ?? ''), null, 'the old id is gone from the store');
        });
      });

      it('removes the cookie and the store entry on logout', async (t) => {
        if (skip !== false) return t.skip(skip);
        await withContext(async (context, page) => {
          await page.goto(demo.url);
          await logIn(page, 'grace');
          const sid = sidOfCookie(kind, (await sessionCookie(context, demo))?.value ?? '');
          if (serverSide) assert.ok(await demo.load(sid ?? ''), 'the session is in the store');
          const logout = page.waitForResponse((response) => response.url().endsWith('/logout'));
          await Promise.all([page.waitForURL(demo.url), page.click('#logout')]);
          const cleared = (await (await logout).headerValues('set-cookie')).filter((line) => line.startsWith(`${demo.cookieName}=`));
          assert.equal(cleared.length, 1);
          assert.match(cleared[0] ?? '', new RegExp(`^${demo.cookieName}=;.*expires=Thu, 01 Jan 1970`), 'the logout response removes the cookie');
          if (serverSide) assert.equal(await demo.load(sid ?? ''), null, 'the store entry is gone');
          // The page after the redirect starts a new, anonymous session.
          assert.equal(await views(page), 1);
          assert.equal(await page.locator('#user').count(), 0);
        });
      });

      it('answers "make the session too big" with the size guard error on a cookie store, and keeps it on a server store', async (t) => {
        if (skip !== false) return t.skip(skip);
        await withContext(async (context, page) => {
          await page.goto(demo.url);
          await page.reload();
          const before = (await sessionCookie(context, demo))?.value;
          const response = await Promise.all([page.waitForNavigation(), page.click('#too-big')]).then(([navigation]) => navigation);
          if (serverSide) {
            assert.equal(response?.status(), 200);
            assert.match((await page.locator('#notice').textContent()) ?? '', /Stored 6000 bytes/);
          } else {
            assert.equal(response?.status(), 500);
            assert.match((await page.locator('#error').textContent()) ?? '', /koa-session-store: the session cookie would be \d+ bytes .* over the 4096 bytes browsers keep/);
            assert.equal((await sessionCookie(context, demo))?.value, before, 'the browser keeps its previous cookie');
            await page.goto(demo.url);
            assert.equal(await views(page), 3, 'and the session goes on');
          }
        });
      });

      it('keeps SameSite=Lax cookies off a cross-site POST from another host name', async (t) => {
        if (skip !== false) return t.skip(skip);
        await withContext(async (context, page) => {
          await page.goto(demo.url);
          await logIn(page, 'mallory-target');
          const sid = sidOfCookie(kind, (await sessionCookie(context, demo))?.value ?? '');
          // A page on another site (Chromium maps its host name to 127.0.0.1) that posts a logout form to the demo.
          await Promise.all([page.waitForURL(demo.url), page.goto(otherSite.url(`${demo.url}logout`))]);
          const posted = demo.seen.filter((request) => request.method === 'POST' && request.path === '/logout').at(-1);
          assert.ok(posted, 'the cross-site form reached the demo');
          assert.ok(!posted.cookie.includes(`${demo.cookieName}=`), 'without the session cookie');
          assert.equal(await page.locator('#user').textContent(), 'mallory-target', 'so the user is still logged in');
          if (serverSide) assert.notEqual(await demo.load(sid ?? ''), null, 'and the session is still in the store');
        });
      });

      it('keeps the user logged in across a server restart with rotated keys', async (t) => {
        if (skip !== false) return t.skip(skip);
        const [oldKey, newKey] = [randomKey(), randomKey()];
        const rotating = await demoOn(kind, { keys: [oldKey] });
        await withContext(async (_context, page) => {
          await page.goto(rotating.url);
          await logIn(page, 'rotation');
          await rotating.restart([newKey, oldKey]);
          await page.reload();
          assert.equal(await page.locator('#user').textContent(), 'rotation', 'read with the old key after the restart');
          // That response re-issued the cookie under the new key, so the old key can go.
          await rotating.restart([newKey]);
          await page.reload();
          assert.equal(await page.locator('#user').textContent(), 'rotation', 'and with the new key alone after a second restart');
          assert.equal(await views(page), 4);
        });
      });

      it('sets a Secure cookie over HTTPS with a certificate the test made', async (t) => {
        if (skip !== false) return t.skip(skip);
        const secure = await demoOn(kind, { tls: true });
        await withContext(
          async (context, page) => {
            await page.goto(secure.url);
            await page.reload();
            assert.equal(await views(page), 2);
            const cookie = await sessionCookie(context, secure);
            assert.equal(cookie?.secure, true);
            assert.match((await page.locator('#set-cookie').textContent()) ?? '', /secure/);
          },
          { ignoreHTTPSErrors: true },
        );
      });

      // A cookie session cannot be listed or ended from elsewhere: the case exists for server stores only.
      if (serverSide) it('ends the session in another browser context with "log out other devices"', async (t) => {
        if (skip !== false) return t.skip(skip);
        assert.equal(typeof demo.store?.listIndexed, 'function', `${kind}'s store lists a user's sessions (indexBy)`);
        const user = `devices-${kind}`;
        await withContext(async (_phoneContext, phone) => {
          await phone.goto(demo.url);
          await logIn(phone, user);
          await withContext(async (_laptopContext, laptop) => {
            await laptop.goto(demo.url);
            await logIn(laptop, user);
            assert.equal(await laptop.locator('.device').count(), 2);
            await Promise.all([laptop.waitForURL(/revoked=1/), laptop.click('text=log out other devices')]);
            assert.equal(await laptop.locator('#notice').textContent(), 'Logged out 1 other device.');
            assert.equal(await laptop.locator('#user').textContent(), user, 'this device stays logged in');
            assert.equal(await laptop.locator('.device').count(), 1);
          });
          await phone.reload();
          assert.equal(await phone.locator('#user').count(), 0, 'the other context is logged out');
          assert.equal(await views(phone), 1, 'and starts a new session');
        });
      });

      it('keeps all 10 of 10 parallel writes on a server store, shows the other kind beside it, and saves a screenshot', async (t) => {
        if (skip !== false) return t.skip(skip);
        const user = `ada-${kind}`;
        const other = serverSide && typeof demo.store?.listIndexed === 'function';
        await withContext(async (_context, page) => {
          await page.goto(demo.url);
          await logIn(page, user);
          // A second device of the same user, for the devices panel of the screenshot.
          if (other) await withContext(async (_phoneContext, phone) => {
            await phone.goto(demo.url);
            await logIn(phone, user);
          }, { userAgent: PHONE });
          await page.reload();
          await page.click('#add-items');
          await page.waitForSelector('body[data-items-done]');
          const main = Number(await page.locator('#result-main').getAttribute('data-kept'));
          const compare = Number(await page.locator('#result-compare').getAttribute('data-kept'));
          const [server, cookie] = serverSide ? [main, compare] : [compare, main];
          assert.equal(server, 10, 'the server store keeps every write');
          assert.ok(cookie >= 1 && cookie <= 10, `the cookie store keeps ${cookie}`);
          t.diagnostic(`${kind}: server store kept ${server} of 10, cookie store ${cookie} of 10`);
          const data = JSON.parse((await page.locator('#data').textContent()) ?? '{}') as Record<string, unknown>;
          assert.equal(Object.keys(data).filter((key) => /^item\d+$/.test(key)).length, main, 'the data panel shows the items kept');
          await page.screenshot({ path: join(ensureArtifacts(), `demo-${kind}.png`), fullPage: true });
        });
      });
    });
  }
});
