// The Koa app every measurement uses (HTTP servers, the micro-benchmark and the
// memory check): the contender's session middleware, then one handler for the
// chosen workload. Handlers are identical across contenders; bare Koa gets the
// same response without a session.
import Koa from 'koa';

export const WORKLOADS = ['new', 'read', 'write', 'none'];

// Starts above the seeded value (1), so the very first write changes the session too.
let counter = 1;
const HANDLERS = {
  // No cookie comes in; the handler creates a session.
  new(ctx) {
    ctx.session.n = 1;
    ctx.body = 'ok';
  },
  // A valid cookie comes in; the handler only reads.
  read(ctx) {
    ctx.body = ctx.session.n === 1 ? 'ok' : 'missing';
  },
  // A valid cookie comes in; the handler changes a value (a new one every time).
  write(ctx) {
    ctx.session.n = ++counter;
    ctx.body = 'ok';
  },
  // A valid cookie comes in; the handler never touches the session.
  none(ctx) {
    ctx.body = 'ok';
  },
};

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

/**
 * Builds the app for `contender` (an entry of contenders.mjs) and `workload`
 * (one of WORKLOADS, or 'writers'). Resolves to
 * `{ app, bare, stats: { errors, firstError }, store, close, prepare(send) }`.
 */
export async function buildApp({ contender, workload, env = {} }) {
  const stats = { errors: 0, firstError: null };
  const app = new Koa();
  app.keys = ['bench key: the first of two, long enough', 'bench key: the second, for rotation'];
  app.silent = true;
  app.on('error', (error) => {
    stats.errors += 1;
    stats.firstError ??= String(error?.message ?? error).slice(0, 300);
  });

  const made = await contender.create({ ...env, app, workload });
  if (made.middleware) app.use(made.middleware);
  // Bare Koa and the reference contenders answer with the bare handler and need no session set up.
  const bare = made.middleware === null || contender.family === 'reference';
  const measured = workload === 'writers' ? writersHandler : bare ? bareHandler : HANDLERS[workload];
  if (measured === undefined) throw new Error(`unknown workload ${JSON.stringify(workload)}`);

  // `setup` serves the few requests that create and check a session before the
  // measurement; afterwards it is null and costs one comparison per request.
  let setup = null;
  app.use(function handler(ctx) {
    if (setup !== null) return setup(ctx);
    return measured(ctx);
  });

  /**
   * Gets the app ready for the measured requests. `send(cookie)` makes one
   * request and resolves to { status, body, cookie } (cookie: a Cookie header
   * built from the response's Set-Cookie). Resolves to the Cookie header the
   * measured requests must send ('' for `new` and for bare Koa).
   */
  async function prepare(send) {
    let cookie = '';
    if (!bare && workload !== 'writers') {
      if (workload === 'new') {
        const probe = await send('');
        if (probe.status !== 200 || probe.cookie === '') throw new Error(`the new workload set no cookie (status ${probe.status}: ${probe.body})`);
      } else {
        setup = HANDLERS.new;
        const seeded = await send('');
        if (seeded.status !== 200 || seeded.cookie === '') throw new Error(`seeding a session failed (status ${seeded.status}: ${seeded.body})`);
        cookie = seeded.cookie;
        setup = HANDLERS.read;
        const check = await send(cookie);
        if (check.body !== 'ok') throw new Error(`the seeded session did not load back (status ${check.status}: ${check.body})`);
        setup = null;
      }
    }
    stats.errors = 0;
    stats.firstError = null;
    return cookie;
  }

  return { app, bare, stats, store: made.store, close: made.close, prepare };
}
