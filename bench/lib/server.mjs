// One contender as an HTTP server on 127.0.0.1 (a free port), started by the
// harness as its own process (pinned to a core with taskset). argv[2] is JSON:
// { contender, workload, env }. It talks to the harness over IPC:
//   -> { type: 'ready', port, cookie }   once listening (cookie: a valid session's Cookie header, or '')
//   -> { type: 'failed', reason }        when it cannot start
//   <- { type: 'cpu' }  -> { type: 'cpu', micros, errors, firstError }
//   <- { type: 'stop' } closes everything and exits
import http from 'node:http';
import Koa from 'koa';
import { BY_NAME } from './contenders.mjs';
import { cookieHeader } from './cookies.mjs';

const { contender: name, workload, env } = JSON.parse(process.argv[2]);
const contender = BY_NAME.get(name);

let errors = 0;
let firstError = null;
let counter = 0;

// The measured handlers: the same for every contender, and for bare Koa minus the session.
const WORKLOADS = {
  new(ctx) {
    ctx.session.n = 1;
    ctx.body = 'ok';
  },
  read(ctx) {
    ctx.body = ctx.session.n === 1 ? 'ok' : 'missing';
  },
  write(ctx) {
    ctx.session.n = ++counter;
    ctx.body = 'ok';
  },
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

/** One request to ourselves; resolves to { status, body, cookie } where cookie is a Cookie header built from Set-Cookie. */
function selfRequest(port, cookie) {
  return new Promise((resolve, reject) => {
    const request = http.get({ host: '127.0.0.1', port, path: '/', headers: cookie ? { cookie } : {} }, (response) => {
      let body = '';
      response.setEncoding('utf8');
      response.on('data', (chunk) => (body += chunk));
      response.on('end', () => {
        resolve({ status: response.statusCode, body, cookie: cookieHeader(response.headers['set-cookie']) });
      });
    });
    request.on('error', reject);
  });
}

async function main() {
  const app = new Koa();
  app.keys = ['bench key: the first of two, long enough', 'bench key: the second, for rotation'];
  app.silent = true;
  app.on('error', (error) => {
    errors += 1;
    firstError ??= String(error?.message ?? error).slice(0, 300);
  });

  const made = await contender.create({ ...env, app });
  if (made.middleware) app.use(made.middleware);

  const bare = made.middleware === null;
  const measured = workload === 'writers' ? writersHandler : bare ? bareHandler : WORKLOADS[workload];
  // `setup` handles the few requests that create and check the session before the
  // measured run; afterwards it is null and costs one comparison per request.
  let setup = null;
  app.use(function handler(ctx) {
    if (setup !== null) return setup(ctx);
    return measured(ctx);
  });

  const server = http.createServer(app.callback());
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address();

  let cookie = '';
  if (!bare && workload !== 'writers') {
    if (workload === 'new') {
      const probe = await selfRequest(port, '');
      if (probe.status !== 200 || probe.cookie === '') throw new Error(`the new workload set no cookie (status ${probe.status}: ${probe.body})`);
    } else {
      setup = WORKLOADS.new;
      const seeded = await selfRequest(port, '');
      if (seeded.status !== 200 || seeded.cookie === '') throw new Error(`seeding a session failed (status ${seeded.status}: ${seeded.body})`);
      cookie = seeded.cookie;
      setup = WORKLOADS.read;
      const check = await selfRequest(port, cookie);
      if (check.body !== 'ok') throw new Error(`the seeded session did not load back (status ${check.status}: ${check.body})`);
      setup = null;
    }
  }
  errors = 0;
  firstError = null;

  process.on('message', async (message) => {
    if (message.type === 'cpu') {
      const usage = process.cpuUsage();
      process.send({ type: 'cpu', micros: usage.user + usage.system, errors, firstError });
    } else if (message.type === 'stop') {
      server.close();
      server.closeAllConnections();
      try {
        await made.close?.();
      } finally {
        process.exit(0);
      }
    }
  });
  process.send({ type: 'ready', port, cookie });
}

process.on('disconnect', () => process.exit(0));
main().catch((error) => {
  process.send?.({ type: 'failed', reason: String(error?.message ?? error).slice(0, 500) }, () => process.exit(1));
});
