// The "no lost updates" suite (issue 6): concurrent requests of one session,
// driven through a real Koa app over real HTTP against any store. Every race
// is made certain rather than likely: each request waits, after its session
// was loaded, until all requests of the round have loaded theirs (a gate), so
// every write happens after every load, which is exactly when whole-object
// saves lose each other's changes.
import assert from 'node:assert/strict';
import http from 'node:http';
import { after, before, describe, it } from 'node:test';
import Koa from 'koa';
import type { Context } from 'koa';
import { session } from '../../src/index.js';
import { settle } from '../../src/store.js';
import type { SessionPatch, SessionStore, StoreResult } from '../../src/store.js';
import { listen, makeApp, sleep } from './http.js';

export interface ConcurrencySuiteOptions<S extends SessionStore> {
  /** Makes the store under test; called once, before the suite's cases. */
  create: () => Promise<S> | S;
  /** Releases what `create` made (clients, files, schemas); called once, after the cases. */
  destroy?: (store: S) => Promise<void> | void;
  /** A reason to skip the whole suite (a service is not reachable), or false. */
  skip?: string | false;
  /**
   * Whether every concurrent write to a different key must survive. When
   * false, the cases only check that nothing breaks and report what was kept.
   * @default true when the store has `patch`
   */
  expectAllKept?: boolean;
}

/** Concurrent requests of the 50-writers case. */
const WRITERS = 50;
/** Sessions racing a delete against a set, each with one request of each. */
const PAIRS = 10;
/** Concurrent patching requests racing a destroy or a regenerate. */
const PATCHERS = 20;
/** Concurrent writers of one key in the last-writer-wins case. */
const SAME_KEY_WRITERS = 10;
/** Upper bound on any wait inside a handler, so a broken middleware fails the test instead of hanging it. */
const WAIT_LIMIT_MS = 10_000;

/**
 * Registers `describe(name)` with the concurrency cases, each on a fresh Koa
 * app served on 127.0.0.1 and using `session({ store })`.
 */
export function runConcurrencySuite<S extends SessionStore>(name: string, options: ConcurrencySuiteOptions<S>): void {
  // Names are fixed before the store exists: only an explicit `expectAllKept: false` renames the cases.
  const titles =
    options.expectAllKept === false
      ? {
          writers: `${WRITERS} concurrent requests each setting their own key all succeed (keys may be lost without patch)`,
          deleteAndSet: 'a concurrent delete of one key and set of another both succeed',
          destroy: `a session destroyed while ${PATCHERS} requests write it answers every request`,
          regenerate: 'regenerate racing with writes keeps the new id exact',
        }
      : {
          writers: `${WRITERS} concurrent requests each setting their own key keep all ${WRITERS} keys`,
          deleteAndSet: 'a concurrent delete of one key and set of another keep both effects',
          destroy: `a session destroyed while ${PATCHERS} requests patch it stays destroyed`,
          regenerate: 'regenerate racing with patches writes nothing to the old id after it was removed',
        };
  describe(name, { skip: options.skip ?? false }, () => {
    let store: S | undefined;
    let expectAllKept = true;

    before(async () => {
      store = await options.create();
      expectAllKept = options.expectAllKept ?? typeof store.patch === 'function';
    });

    after(async () => {
      if (store !== undefined) await options.destroy?.(store);
    });

    const current = (): S => {
      assert.ok(store, 'the suite store was not created');
      return store;
    };

    it(titles.writers, async (t) => {
      const store = current();
      await withRace(store, async (race) => {
        const gate = race.gate(WRITERS);
        race.handle('/race', async (ctx) => {
          const i = Number(ctx.query.i);
          void ctx.session.base; // the session as loaded is the baseline for this request's changes
          await gate.wait();
          await sleep(Math.random() * 20);
          ctx.session[`k${i}`] = i;
          ctx.body = 'ok';
        });

        const { cookie, sid } = await race.init({ base: 1 });
        const statuses = await Promise.all(range(WRITERS).map(async (i) => (await race.get(`/race?i=${i}`, cookie)).status));
        assert.deepEqual(statuses, range(WRITERS).map(() => 200), 'every concurrent request answered 200');
        assert.ok(gate.complete, `all ${WRITERS} requests had loaded the session before any wrote (only ${gate.arrived} got there)`);

        const dump = await race.dump(cookie);
        assert.equal(dump.id, sid, 'the session kept its id');
        const data = dump.session;
        assert.equal(data.base, 1, 'the key set before the race is still there');
        const kept = range(WRITERS).filter((i) => data[`k${i}`] === i).length;
        t.diagnostic(`keys kept: ${kept} of ${WRITERS}`);

        if (expectAllKept) {
          assert.equal(kept, WRITERS, `every one of the ${WRITERS} keys survives (kept ${kept})`);
          assert.deepEqual(Object.keys(data).sort(), ['base', ...range(WRITERS).map((i) => `k${i}`)].sort());
          if (typeof store.patch === 'function') {
            // The existing session must be changed by patch, never rewritten whole.
            assert.equal(race.count('patch', sid), WRITERS, 'each request wrote its change with patch');
            assert.equal(race.count('save', sid), 1, 'save ran only for the new session in /init');
          }
        }
      });
    });

    it(titles.deleteAndSet, async (t) => {
      const store = current();
      await withRace(store, async (race) => {
        // Several sessions race at once, so a store that is only rarely wrong still shows it.
        const gate = race.gate(2 * PAIRS);
        race.handle('/race', async (ctx) => {
          void ctx.session.a;
          await gate.wait();
          await sleep(Math.random() * 20);
          if (ctx.query.op === 'delete') delete ctx.session.a;
          else ctx.session.c = 1;
          ctx.body = 'ok';
        });

        const sessions = await Promise.all(range(PAIRS).map(() => race.init({ a: 1, b: 1 })));
        const replies = await Promise.all(
          sessions.flatMap(({ cookie }) => [race.get('/race?op=delete', cookie), race.get('/race?op=set', cookie)]),
        );
        assert.deepEqual(
          replies.map((reply) => reply.status),
          replies.map(() => 200),
          'every request answered 200',
        );
        assert.ok(gate.complete, `all ${2 * PAIRS} requests had loaded their session before any wrote`);

        const results = await Promise.all(sessions.map(async ({ cookie }) => (await race.dump(cookie)).session));
        const bothKept = results.filter((data) => !('a' in data) && data.c === 1).length;
        t.diagnostic(`sessions keeping both effects: ${bothKept} of ${PAIRS}; first: ${JSON.stringify(results[0])}`);
        for (const data of results) {
          assert.equal(data.b, 1, 'the untouched key is still there');
          if (expectAllKept) assert.deepEqual(data, { b: 1, c: 1 }, 'a is deleted and c is set');
        }
      });
    });

    it(titles.destroy, async (t) => {
      const store = current();
      await withRace(store, async (race) => {
        const gate = race.gate(PATCHERS + 1);
        let sid = '';
        race.handle('/destroy', async (ctx) => {
          void ctx.session.base;
          await gate.wait();
          ctx.session = null;
          ctx.body = 'destroyed';
        });
        race.handle('/race', async (ctx) => {
          const i = Number(ctx.query.i);
          void ctx.session.base;
          await gate.wait();
          // Half the writers wait until the entry is gone, so some writes certainly come after the removal.
          if (i % 2 === 0) await race.removed(sid);
          await sleep(5 + Math.random() * 15);
          ctx.session[`k${i}`] = i;
          ctx.body = 'ok';
        });

        const init = await race.init({ base: 1 });
        sid = init.sid;
        const replies = await Promise.all([
          race.get('/destroy', init.cookie),
          ...range(PATCHERS).map((i) => race.get(`/race?i=${i}`, init.cookie)),
        ]);
        assert.deepEqual(
          replies.map((reply) => reply.status),
          replies.map(() => 200),
          'the destroying request and every patching request answered 200',
        );
        assert.ok(gate.complete, `all ${PATCHERS + 1} requests had loaded the session before any changed it`);
        const late = race.writesAfterRemoval(sid);
        t.diagnostic(`writes to the destroyed id issued after its removal: ${late}`);
        if (expectAllKept) assert.ok(late >= PATCHERS / 2, 'the race really had writes arriving after the removal');
        // A store that cannot refuse a write to a missing entry gets none: the middleware knows the session is gone.
        else assert.equal(late, 0, 'no request that held the destroyed session wrote it back after its removal');

        const raw = await settle(store.load(sid));
        const dump = await race.dump(init.cookie);
        t.diagnostic(`destroyed entry afterwards: ${raw === null || raw === undefined ? 'absent' : 'present again'}`);
        // Every store: the shipped ones refuse to patch a missing entry, and for the others the middleware writes nothing back.
        {
          assert.ok(raw === null || raw === undefined, 'no write brought the destroyed session back');
          assert.deepEqual(dump.session, {}, 'the old cookie now gets a fresh, empty session');
          assert.notEqual(dump.id, sid, 'the fresh session has a new id');
        }
      });
    });

    it(titles.regenerate, async (t) => {
      const store = current();
      await withRace(store, async (race) => {
        const gate = race.gate(PATCHERS + 1);
        let oldSid = '';
        race.handle('/regenerate', async (ctx) => {
          const before = { ...ctx.session };
          await gate.wait();
          await ctx.regenerateSession();
          ctx.session.marker = 'set after regenerate';
          ctx.body = { id: ctx.sessionId, before };
        });
        race.handle('/race', async (ctx) => {
          const i = Number(ctx.query.i);
          void ctx.session.base;
          await gate.wait();
          if (i % 2 === 0) await race.removed(oldSid);
          await sleep(5 + Math.random() * 15);
          ctx.session[`k${i}`] = i;
          ctx.body = 'ok';
        });

        const init = await race.init({ base: 1 });
        oldSid = init.sid;
        const [regenerated, ...patched] = await Promise.all([
          race.get('/regenerate', init.cookie),
          ...range(PATCHERS).map((i) => race.get(`/race?i=${i}`, init.cookie)),
        ]);
        assert.ok(regenerated);
        assert.equal(regenerated.status, 200, 'the regenerating request answered 200');
        assert.deepEqual(
          patched.map((reply) => reply.status),
          patched.map(() => 200),
          'every patching request answered 200',
        );
        assert.ok(gate.complete, `all ${PATCHERS + 1} requests had loaded the session before any changed it`);
        const late = race.writesAfterRemoval(oldSid);
        t.diagnostic(`writes to the old id issued after its removal: ${late}`);
        if (expectAllKept) assert.ok(late >= PATCHERS / 2, 'the race really had writes arriving after the removal');
        else assert.equal(late, 0, 'no request that held the old session wrote it back after its removal');

        const { id: newSid, before } = regenerated.body as { id: string; before: Record<string, unknown> };
        assert.notEqual(newSid, oldSid, 'regenerate gave a new id');
        assert.deepEqual(before, { base: 1 }, 'the regenerating request saw the session as it was before the race');
        const expected = { ...before, marker: 'set after regenerate' };

        // The new id holds the data as of regeneration plus what was set after it, and nothing the racing patches wrote.
        const rawNew = await settle(store.load(newSid));
        assert.equal(typeof rawNew, 'string', 'the new id is stored');
        assert.deepEqual(JSON.parse(rawNew as string), expected);
        const dump = await race.dump(regenerated.cookie);
        assert.equal(dump.id, newSid);
        assert.deepEqual(dump.session, expected);

        const rawOld = await settle(store.load(oldSid));
        t.diagnostic(`old entry afterwards: ${rawOld === null || rawOld === undefined ? 'absent' : 'present again'}`);
        assert.ok(rawOld === null || rawOld === undefined, 'no write landed on the old id after it was removed');
      });
    });

    // Writes of one key by concurrent requests are last-writer-wins, on every
    // store: a patch carries the key's new value, so whichever request commits
    // last decides it. A value that must be exact under concurrency (a counter,
    // a balance) belongs in its own atomic operation (Redis INCR, an SQL
    // `UPDATE … SET n = n + 1`), or each writer gets a key of its own, as above.
    it('concurrent writes of the same key are last-writer-wins: one of the written values remains', async (t) => {
      const store = current();
      await withRace(store, async (race) => {
        const gate = race.gate(SAME_KEY_WRITERS);
        race.handle('/race', async (ctx) => {
          const i = Number(ctx.query.i);
          void ctx.session.base;
          await gate.wait();
          await sleep(Math.random() * 20);
          ctx.session.same = i;
          ctx.body = 'ok';
        });

        const { cookie } = await race.init({ base: 1 });
        const replies = await Promise.all(range(SAME_KEY_WRITERS).map((i) => race.get(`/race?i=${i}`, cookie)));
        assert.deepEqual(
          replies.map((reply) => reply.status),
          replies.map(() => 200),
        );
        const data = (await race.dump(cookie)).session;
        t.diagnostic(`value kept: ${JSON.stringify(data.same)}`);
        assert.equal(data.base, 1);
        const written = range(SAME_KEY_WRITERS);
        assert.ok(written.includes(data.same as number), `same is one of the written values, got ${JSON.stringify(data.same)}`);
      });
    });
  });
}

// ---- the race harness ----------------------------------------------------------

interface Reply {
  readonly status: number;
  /** The response's cookies as a Cookie request header (`name=value; …`), '' when none were set. */
  readonly cookie: string;
  readonly body: unknown;
}

interface Gate {
  /** Resolves once `parties` requests called it (or after {@link WAIT_LIMIT_MS}, leaving `complete` false). */
  wait(): Promise<void>;
  readonly arrived: number;
  readonly complete: boolean;
}

type StoreOperation = 'load' | 'save' | 'remove' | 'touch' | 'patch';

interface StoreEvent {
  readonly operation: StoreOperation;
  readonly sid: string;
  readonly phase: 'start' | 'end';
}

interface Race {
  /** Serves `path` with `handler` (after the session middleware). */
  handle(path: string, handler: (ctx: Context) => Promise<void>): void;
  gate(parties: number): Gate;
  /** Creates a session holding `data`; resolves to its cookie and id. */
  init(data: Record<string, unknown>): Promise<{ cookie: string; sid: string }>;
  /** The session and id a request with `cookie` sees. */
  dump(cookie: string): Promise<{ id: string; session: Record<string, unknown> }>;
  get(path: string, cookie?: string): Promise<Reply>;
  /** Resolves once the store finished removing `sid` (or after {@link WAIT_LIMIT_MS}). */
  removed(sid: string): Promise<void>;
  /** Writes (save or patch) to `sid` that started after a removal of `sid` had finished. */
  writesAfterRemoval(sid: string): number;
  /** How many times `operation` was called for `sid`. */
  count(operation: StoreOperation, sid: string): number;
}

/** Runs `body` with an app serving the store on 127.0.0.1 and an HTTP agent able to hold every request open at once. */
async function withRace(inner: SessionStore, body: (race: Race) => Promise<void>): Promise<void> {
  const observed = observe(inner);
  const handlers = new Map<string, (ctx: Context) => Promise<void>>();
  const app = makeApp(Koa, ['concurrency suite key']);
  app.use(session({ store: observed.store }));
  app.use(async (ctx) => {
    if (ctx.path === '/init') {
      const data = JSON.parse(String(ctx.query.data)) as Record<string, unknown>;
      Object.assign(ctx.session, data);
      ctx.body = { id: ctx.sessionId };
      return;
    }
    if (ctx.path === '/dump') {
      ctx.body = { id: ctx.sessionId, session: ctx.session };
      return;
    }
    const handler = handlers.get(ctx.path);
    if (handler === undefined) {
      ctx.status = 404;
      return;
    }
    await handler(ctx);
  });
  const running = await listen(app);
  // One socket per request, so the requests of a round are all in flight together.
  const agent = new http.Agent({ keepAlive: true, maxSockets: WRITERS + 10 });
  const get = (path: string, cookie?: string) => request(agent, `${running.url}${path}`, cookie);

  const race: Race = {
    handle: (path, handler) => void handlers.set(path, handler),
    gate,
    async init(data) {
      const reply = await get(`/init?data=${encodeURIComponent(JSON.stringify(data))}`);
      assert.equal(reply.status, 200, 'the session was created');
      assert.notEqual(reply.cookie, '', 'the new session got a cookie');
      return { cookie: reply.cookie, sid: (reply.body as { id: string }).id };
    },
    async dump(cookie) {
      const reply = await get('/dump', cookie);
      assert.equal(reply.status, 200);
      const body = reply.body as { id: string; session: Record<string, unknown> };
      assert.ok(body.session !== null && typeof body.session === 'object', 'the session is readable as an object');
      return body;
    },
    get,
    removed: observed.removed,
    writesAfterRemoval: observed.writesAfterRemoval,
    count: observed.count,
  };
  try {
    await body(race);
    assert.deepEqual(running.errors.map(String), [], 'the app reported no errors');
  } finally {
    agent.destroy();
    await running.close();
  }
}

function gate(parties: number): Gate {
  let arrived = 0;
  let complete = false;
  let open: () => void = () => {};
  const opened = new Promise<void>((resolve) => (open = resolve));
  return {
    async wait() {
      arrived++;
      if (arrived === parties) {
        complete = true;
        open();
      }
      await within(opened);
    },
    get arrived() {
      return arrived;
    },
    get complete() {
      return complete;
    },
  };
}

/** `promise`, or nothing after {@link WAIT_LIMIT_MS}; the timer never keeps the process alive. */
async function within(promise: Promise<void>): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  const limit = new Promise<void>((resolve) => {
    timer = setTimeout(resolve, WAIT_LIMIT_MS);
    timer.unref();
  });
  try {
    await Promise.race([promise, limit]);
  } finally {
    clearTimeout(timer);
  }
}

/**
 * Wraps a store so the cases can see the order of its calls. It has exactly
 * the optional methods the wrapped store has, so the middleware takes the same
 * path (patch or save) it would take with the store itself.
 */
function observe(inner: SessionStore) {
  const events: StoreEvent[] = [];
  /** Per id, a promise settled when a removal of that id finishes. */
  const removals = new Map<string, { done: Promise<void>; finish: () => void }>();
  const removalOf = (sid: string) => {
    let removal = removals.get(sid);
    if (removal === undefined) {
      let finish: () => void = () => {};
      const done = new Promise<void>((resolve) => (finish = resolve));
      removal = { done, finish };
      removals.set(sid, removal);
    }
    return removal;
  };

  async function call<T>(operation: StoreOperation, sid: string, run: () => StoreResult<T>): Promise<T> {
    events.push({ operation, sid, phase: 'start' });
    const result = await settle(run());
    events.push({ operation, sid, phase: 'end' });
    if (operation === 'remove') removalOf(sid).finish();
    return result;
  }

  const store: SessionStore = {
    load: (sid) => call('load', sid, () => inner.load(sid)),
    save: (sid, json, ttlMs) => call('save', sid, () => inner.save(sid, json, ttlMs)),
    remove: (sid) => call('remove', sid, () => inner.remove(sid)),
  };
  if (typeof inner.touch === 'function') {
    store.touch = (sid: string, ttlMs?: number) => call('touch', sid, () => inner.touch?.(sid, ttlMs));
  }
  if (typeof inner.patch === 'function') {
    store.patch = (sid: string, patch: SessionPatch, ttlMs?: number) => call('patch', sid, () => inner.patch?.(sid, patch, ttlMs));
  }

  return {
    store,
    removed: (sid: string) => within(removalOf(sid).done),
    writesAfterRemoval(sid: string): number {
      const removedAt = events.findIndex((event) => event.sid === sid && event.operation === 'remove' && event.phase === 'end');
      if (removedAt < 0) return 0;
      const isWrite = (event: StoreEvent) => event.operation === 'patch' || event.operation === 'save';
      return events.slice(removedAt).filter((event) => event.sid === sid && event.phase === 'start' && isWrite(event)).length;
    },
    count: (operation: StoreOperation, sid: string) =>
      events.filter((event) => event.sid === sid && event.operation === operation && event.phase === 'start').length,
  };
}

/** One GET over `agent`; the body is parsed as JSON when it is JSON. */
function request(agent: http.Agent, url: string, cookie?: string): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = http.get(url, { agent, headers: cookie ? { cookie } : {} }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.on('error', reject);
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8');
        const isJson = String(res.headers['content-type'] ?? '').includes('application/json');
        resolve({
          status: res.statusCode ?? 0,
          cookie: (res.headers['set-cookie'] ?? []).map((entry) => entry.split(';')[0]).join('; '),
          body: isJson ? (JSON.parse(text) as unknown) : text,
        });
      });
    });
    req.on('error', reject);
  });
}

function range(n: number): number[] {
  return Array.from({ length: n }, (_, i) => i);
}
