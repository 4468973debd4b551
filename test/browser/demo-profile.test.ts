// A browser restart with the same profile: the session cookie has a maxAge, so
// Chromium keeps it on disk and the session goes on; a demo without maxAge sets
// a browser-session cookie, which the restart drops. Every store at once: the
// demos run on their own ports, and the port in the cookie name keeps their
// cookies apart on 127.0.0.1 (cookies ignore ports).
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { BrowserContext } from 'playwright-core';
import type { StoreKind } from '../../examples/demo/stores.js';
import { chromiumSkip, launchWithProfile, RunningDemo, StoreNames, STORE_KINDS, storeSkip } from './harness.js';

const noBrowser = chromiumSkip();

describe('a browser restart with the same profile', { skip: noBrowser }, () => {
  const names = new StoreNames();
  const used = new Set<StoreKind>();
  const demos: Array<{ kind: StoreKind; lasting: RunningDemo; browserSession: RunningDemo }> = [];
  const profile = mkdtempSync(join(tmpdir(), 'kss-demo-profile-'));

  before(async () => {
    for (const kind of STORE_KINDS) {
      if ((await storeSkip(kind)) !== false) continue;
      used.add(kind);
      const [lasting, browserSession] = await Promise.all([
        RunningDemo.start(kind, names.next()),
        RunningDemo.start(kind, names.next(), { maxAge: null }),
      ]);
      demos.push({ kind, lasting, browserSession });
    }
  });

  after(async () => {
    await Promise.all(demos.flatMap(({ lasting, browserSession }) => [lasting.close(), browserSession.close()]));
    await names.cleanUp(used);
    rmSync(profile, { recursive: true, force: true });
  });

  /** Opens every demo in its own tab of one browser on the profile, returning each page's view count. */
  async function visitAll(): Promise<Map<RunningDemo, number>> {
    const context: BrowserContext = await launchWithProfile(profile);
    try {
      const counts = new Map<RunningDemo, number>();
      // One page at a time: fourteen pages loading at once on a busy 2-core machine can outwait any timeout.
      for (const demo of demos.flatMap(({ lasting, browserSession }) => [lasting, browserSession])) {
        const page = await context.newPage();
        const response = await page.goto(demo.url);
        assert.equal(response?.status(), 200, `the demo on ${demo.url} answered ${String(response?.status())}: ${(await page.content()).slice(0, 300)}`);
        counts.set(demo, Number(await page.locator('#views').textContent()));
        await page.close();
      }
      return counts;
    } finally {
      // A clean close writes the cookie store to the profile, as quitting the browser does.
      await context.close();
    }
  }

  let first: Map<RunningDemo, number>;
  let second: Map<RunningDemo, number>;
  before(async () => {
    first = await visitAll();
    second = await visitAll();
  });

  for (const kind of STORE_KINDS) {
    it(`keeps the ${kind} store's session while maxAge lasts, and drops it without maxAge`, async (t) => {
      const demo = demos.find((entry) => entry.kind === kind);
      if (demo === undefined) return t.skip(`${kind}: its server is not reachable`);
      assert.equal(first.get(demo.lasting), 1, 'a new session at first');
      assert.equal(second.get(demo.lasting), 2, 'the maxAge session survives the restart');
      assert.equal(first.get(demo.browserSession), 1, 'a new browser-session cookie at first');
      assert.equal(second.get(demo.browserSession), 1, 'and none after the restart');
    });
  }
});
