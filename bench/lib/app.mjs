// The Koa app every measurement uses (HTTP servers, the micro-benchmark and the
// memory check): the contender's session middleware, then one handler for the
// chosen workload. Handlers are identical across contenders; bare Koa and the
// floor references get the same response without a session.
import Koa from 'koa';

/**
 * The workloads. `sessions` says what the client sends: 'none' (no cookie),
 * 'many' (one cookie per user, many users, each request the next user's) or
 * 'one' (every request the same cookie). `set` names the contender flag that
 * picks a workload's contenders in a default run ('throughput' when absent).
 * `consumes`: a request ends the session its cookie names, so every run needs
 * cookies no earlier request used (see `prepare`). `floors: false`: no floor
 * reference bounds it.
 */
export const WORKLOAD_SPECS = {
  new: { sessions: 'none', handler: 'new', title: 'new: no cookie, the handler sets a value' },
  read: { sessions: 'many', handler: 'read', title: 'read: many users, each request another user’s cookie, the handler reads' },
  write: { sessions: 'many', handler: 'write', title: 'write: many users, each request changes its own user’s session' },
  none: { sessions: 'many', handler: 'none', title: 'none: many users, the session is never touched' },
  'hot-read': { sessions: 'one', handler: 'read', title: 'hot-read: one user’s cookie on every request, the handler reads' },
  'shared-write': { sessions: 'one', handler: 'write', title: 'shared-write: 50 connections change one session at once (patches conflict)' },
  login: {
    sessions: 'many',
    handler: 'login',
    set: 'login',
    consumes: true,
    floors: false,
    title: 'login: many users, each request logs its user in (regenerateSession, then userId)',
  },
};
export const WORKLOADS = Object.keys(WORKLOAD_SPECS);
/** The default workloads of `npm run bench`: many users (and `new`, where every request is a new user). */
export const MANY_USERS = ['new', 'read', 'write', 'none'];

export const APP_KEYS_ONE = ['bench key: 7hT2c9Qm4vX1pL8sZ3wK6yB0nR5dF-aE'];
export const APP_KEYS_TWO = [...APP_KEYS_ONE, 'bench key: the second, kept for rotation 2Jq'];

// Starts above the seeded value (1), so the very first write changes the session too.
let counter = 1;
// A session that did not load answers 409, which the load generator counts as failed.
const HANDLERS = {
  // No cookie comes in; the handler creates a session.
  new(ctx) {
    ctx.session.n = 1;
    ctx.body = 'ok';
  },
  // A valid cookie comes in; the handler only reads.
  read(ctx) {
    if (ctx.session.n === 1) ctx.body = 'ok';
    else missing(ctx);
  },
  // A valid cookie comes in; the handler changes a value (a new one every time).
  write(ctx) {
    const session = ctx.session;
    if (typeof session.n !== 'number') {
      missing(ctx);
      return;
    }
    session.n = ++counter;
    ctx.body = 'ok';
  },
  // A valid cookie comes in; the handler never touches the session.
  none(ctx) {
    ctx.body = 'ok';
  },
  // A valid cookie of an anonymous session comes in; the handler does what a login does
  // once the password checked out: a new id for the session, then the user's id in it
  // (with indexBy: 'userId', that indexes the new session under the user).
  async login(ctx) {
    const user = ctx.session.user;
    if (typeof user !== 'number') {
      missing(ctx);
      return;
    }
    await ctx.regenerateSession();
    ctx.session.userId = user;
    ctx.body = 'ok';
  },
};

// The sessions made before a measurement: as `new`, plus a user number, so no two
// sessions (and no two cookies, even of a cookie store without ids) are alike.
// The number goes on growing when `prepare` runs again, so on `login` every
// session logs in a user of its own: each login is its user's first, and the
// user's index holds just the session it adds. The key is not `userId`, so
// with indexBy a seeded session is anonymous and indexed nowhere.
let users = 0;
function seed(ctx) {
  ctx.session.n = 1;
  ctx.session.user = ++users;
  ctx.body = 'ok';
}

function missing(ctx) {
  ctx.status = 409;
  ctx.body = 'missing';
}

function bareHandler(ctx) {
  ctx.body = 'ok';
}

const delay = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

// The concurrent-writers figure: /create makes a session, /write?i=N loads it,
// waits 0-20 ms and sets kN, /read lists the keys the session holds.
async function writersHandler(ctx) {
  if (ctx.path === '/write') {
    const i = Number(ctx.query.i);
    const session = ctx.session;
    await delay(Math.random() * 20);
    session[`k${i}`] = i;
    ctx.body = 'ok';
  } else if (ctx.path === '/create') {
    ctx.session.created = 1;
    ctx.body = 'ok';
  } else if (ctx.path === '/read') {
    ctx.body = JSON.stringify(Object.keys(ctx.session ?? {}));
  } else {
    ctx.status = 404;
  }
}

/** Runs `task(i)` for i in [0, count) with at most `width` in flight; resolves to the results in order. */
async function inBatches(count, width, task) {
  const results = new Array(count);
  let next = 0;
  async function lane() {
    while (next < count) {
      const i = next++;
      results[i] = await task(i);
    }
  }
  await Promise.all(Array.from({ length: Math.min(width, count) }, lane));
  return results;
}

/**
 * Builds the app for `contender` (an entry of contenders.mjs) and `workload`
 * (one of WORKLOADS, or 'writers'). `env.appKeys` overrides the keys (default
 * one key; APP_KEYS_TWO measures a key rotation). Resolves to
 * `{ app, bare, stats: { errors, firstError }, store, close, prepare(send, sessions) }`.
 */
export async function buildApp({ contender, workload, env = {} }) {
  const stats = { errors: 0, firstError: null };
  const app = new Koa();
  app.keys = env.appKeys ?? APP_KEYS_ONE;
  app.silent = true;
  app.on('error', (error) => {
    stats.errors += 1;
    stats.firstError ??= String(error?.message ?? error).slice(0, 300);
  });

  const spec = workload === 'writers' ? { sessions: 'writers', handler: 'writers' } : WORKLOAD_SPECS[workload];
  if (spec === undefined) throw new Error(`unknown workload ${JSON.stringify(workload)}`);
  const made = await contender.create({ ...env, app, workload, handler: spec.handler });
  if (made.middleware) app.use(made.middleware);
  // Bare Koa, the floor references and a middleware that is not a session (made.bare) answer with
  // the bare handler and make their own cookies.
  const bare = made.middleware === null || contender.family === 'reference' || made.bare === true;
  const measured = workload === 'writers' ? writersHandler : bare ? bareHandler : HANDLERS[spec.handler];

  // `setup` serves the requests that create and check sessions before the
  // measurement; afterwards it is null and costs one comparison per request.
  let setup = null;
  app.use(function handler(ctx) {
    if (setup !== null) return setup(ctx);
    return measured(ctx);
  });

  /**
   * Gets the app ready for the measured requests. `send(cookie)` makes one
   * request and resolves to { status, body, cookie } (cookie: a Cookie header
   * built from the response's Set-Cookie). For a workload of many users,
   * `sessions` sessions are created through the app; for one user, one.
   * Resolves to the Cookie headers the measured requests cycle through
   * ([] for `new` and the concurrent-writers figure). A workload that
   * `consumes` its sessions calls it again before every run for a fresh pool:
   * the sessions of the earlier pools stay in the store, as users who left.
   */
  async function prepare(send, sessions) {
    let cookies = [];
    const count = spec.sessions === 'many' ? sessions : spec.sessions === 'one' ? 1 : 0;
    if (count > 0 && bare) {
      // Bare Koa receives cookies of the cookie store's format and size; a floor, its own.
      const mint = made.mintCookie;
      if (typeof mint !== 'function') throw new Error(`${contender.name} cannot make cookies for the ${workload} workload`);
      // A floor over Redis writes each session as it makes its cookie: awaited, 64 at a time.
      cookies = await inBatches(count, 64, async () => mint());
    } else if (count > 0) {
      setup = seed;
      cookies = await inBatches(count, 64, async () => {
        const seeded = await send('');
        if (seeded.status !== 200 || seeded.cookie === '') throw new Error(`creating a session failed (status ${seeded.status}: ${seeded.body})`);
        return seeded.cookie;
      });
      if (new Set(cookies).size !== count) throw new Error(`${count} sessions were created but only ${new Set(cookies).size} cookies differ`);
      // Every 97th session (and the last) is read back before the measurement; a session
      // missing later makes its request a 409, which counts as failed.
      setup = HANDLERS.read;
      const sample = new Set([count - 1]);
      for (let i = 0; i < count; i += 97) sample.add(i);
      for (const i of sample) {
        const check = await send(cookies[i]);
        if (check.body !== 'ok') throw new Error(`session ${i + 1} of ${count} did not load back (status ${check.status}: ${check.body})`);
      }
    } else if (!bare && workload === 'new') {
      const probe = await send('');
      if (probe.status !== 200 || probe.cookie === '') throw new Error(`the new workload set no cookie (status ${probe.status}: ${probe.body})`);
    }
    setup = null;
    stats.errors = 0;
    stats.firstError = null;
    return cookies;
  }

  return { app, bare, stats, store: made.store, close: made.close, prepare };
}
