// npm run bench:micro: the session middleware alone, no sockets. Each request
// goes through app.callback() with real node:http request/response objects on a
// socket that discards its output, N times per contender × workload, and the
// time per request is printed in ns/op next to bare Koa's. As in the load test,
// the many-users workloads first create --sessions sessions and each request
// carries the next one's cookie; on login, whose requests use their sessions
// up, every measurement gets a fresh pool of exactly the sessions it needs. For profiling:
//   node --cpu-prof --cpu-prof-dir=bench/results bench/micro.mjs --only kss-cookie --workloads read --iterations 200000
// bench/callgrind.mjs runs it under valgrind to count instructions per request.
import { execFileSync } from 'node:child_process';
import { parseArgs } from 'node:util';
import { buildApp, MANY_USERS, WORKLOAD_SPECS, WORKLOADS } from './lib/app.mjs';
import { BY_NAME, unavailable } from './lib/contenders.mjs';
import { fakeClient } from './lib/fake-http.mjs';
import { ensureBuilt, snapshotDist } from './lib/package.mjs';
import { median } from './lib/report.mjs';
import { cleanRedis, probeServices, runTag } from './lib/services.mjs';
import { usageFailure, wholeNumber } from './lib/cli.mjs';

const HELP = `Usage: node bench/micro.mjs [options]

  --only a,b         contenders (default: kss-cookie,kss-map; bare is always measured)
  --no-bare          do not measure bare Koa (bench/callgrind.mjs counts one contender at a time)
  --workloads a,b    workloads (default: ${MANY_USERS.join(',')}; also ${WORKLOADS.filter((w) => !MANY_USERS.includes(w)).join(', ')})
  --sessions N       sessions (users) created for the many-users workloads (default 10000)
  --iterations N     measured requests per contender × workload per repeat (default 20000)
  --warmup N         unmeasured requests before each measurement (default 2000; 5× that
                     for every case once before the first repeat)
  --repeat N         repeats, contenders interleaved; the median is printed (default 3)
  --callgrind        under valgrind --tool=callgrind (bench/callgrind.mjs passes it): after the
                     warm-up, 5 segments of N requests, each followed by a callgrind_control dump, per case
  --no-build         do not rebuild dist/ when src/ is newer`;

const { values: argv } = parseArgs({
  options: {
    only: { type: 'string' },
    'no-bare': { type: 'boolean' },
    workloads: { type: 'string' },
    sessions: { type: 'string' },
    iterations: { type: 'string' },
    warmup: { type: 'string' },
    repeat: { type: 'string' },
    callgrind: { type: 'boolean' },
    'no-build': { type: 'boolean' },
    help: { type: 'boolean', short: 'h' },
  },
});
if (argv.help) {
  process.stdout.write(`${HELP}\n`);
  process.exit(0);
}

const fail = usageFailure('bench:micro');
const count = (value, name, fallback) => wholeNumber(value, name, fallback, fail);

const iterations = count(argv.iterations, 'iterations', 20000);
const warmup = count(argv.warmup, 'warmup', 2000);
const repeat = count(argv.repeat, 'repeat', 3);
const sessions = count(argv.sessions, 'sessions', 10000);
const workloads = argv.workloads ? argv.workloads.split(',') : MANY_USERS;
for (const w of workloads) if (!WORKLOADS.includes(w)) fail(`unknown workload ${w}; known: ${WORKLOADS.join(', ')}`);
const withBare = argv['no-bare'] === true ? [] : ['bare'];
const names = [...withBare, ...(argv.only ? argv.only.split(',') : ['kss-cookie', 'kss-map']).filter((n) => n !== 'bare')];
for (const n of names) if (!BY_NAME.has(n)) fail(`unknown contender ${n}; known: ${[...BY_NAME.keys()].join(', ')}`);

const buildNote = ensureBuilt({ build: argv['no-build'] !== true });
// Load a copy of dist/esm, so a rebuild meanwhile (npm test runs one) changes nothing.
if (!buildNote) process.on('exit', snapshotDist());
const services = await probeServices();
const tag = runTag();
// SQLite in memory: each store opens a database of its own, and no file I/O is counted.
const env = {
  redisUrl: process.env.REDIS_URL ?? 'redis://127.0.0.1:6379',
  databaseUrl: process.env.DATABASE_URL,
  redisPrefix: `ksbench:${tag}:micro:`,
  sqlitePath: ':memory:',
};

// One prepared app per contender × workload, built once and reused by every repeat.
const cases = [];
for (const name of names) {
  const contender = BY_NAME.get(name);
  const reason = await unavailable(contender, { services, buildNote });
  if (reason) {
    process.stderr.write(`note: left out ${name}: ${reason}\n`);
    continue;
  }
  for (const workload of workloads) {
    const built = await buildApp({ contender, workload, env: { ...env, sessions } });
    const client = fakeClient(built.app);
    const cookies = flat(await built.prepare(client.send, sessions));
    cases.push({ name, workload, built, client, cookies, samples: [], failed: 0 });
  }
}

/**
 * Cookie headers as a server's HTTP parser hands them over: flat strings. One minted by joining
 * parts (a floor's template literal) is a rope in V8, which every search of it would flatten first.
 */
function flat(cookies) {
  return cookies.map((cookie) => Buffer.from(cookie, 'latin1').toString('latin1'));
}

const CALLGRIND_SEGMENTS = 5;

/**
 * Before `requests` requests of a case whose workload uses its sessions up
 * (login: each request's session is gone once it logged in): a fresh pool of
 * exactly that many sessions, made through the app as at the start, and the
 * next loop starts at its first cookie. Other cases keep cycling their cookies.
 */
async function refill(c, requests) {
  if (!WORKLOAD_SPECS[c.workload].consumes) return;
  c.cookies = flat(await c.built.prepare(c.client.send, requests));
  c.client.rewind();
}

async function closeAll() {
  for (const c of cases) await c.built.close?.();
  if (services.redis && names.some((n) => BY_NAME.get(n).services?.includes('redis'))) await cleanRedis(`ksbench:${tag}:`);
}

async function measure(c) {
  await refill(c, warmup + iterations);
  const { client, cookies } = c;
  c.failed += await client.loop(cookies, warmup);
  const start = process.hrtime.bigint();
  c.failed += await client.loop(cookies, iterations);
  return Number(process.hrtime.bigint() - start) / iterations;
}

// A first pass over every case, so the JIT has seen all of them before any is measured.
for (const c of cases) {
  await refill(c, warmup * 5);
  c.failed += await c.client.loop(c.cookies, warmup * 5);
}

if (argv.callgrind === true) {
  // Callgrind counts instructions, not time. After the warm-up each case makes CALLGRIND_SEGMENTS
  // runs of N requests with a labelled dump after each, plus one dump after no request at all, whose
  // count (what a dump costs) bench/callgrind.mjs subtracts from the others; it takes
  // the median over the segments, so one that caught a late JIT compilation does not move it.
  // No forced collection between segments: after one, V8 compiled the hot code again and every
  // segment carried that cost. On login each segment's pool of sessions is made before it and
  // followed by a dump of its own (which bench/callgrind.mjs ignores), so the segment holds
  // its N requests and one dump, as every other segment does.
  const dump = (label) => execFileSync('callgrind_control', [`--dump=${label}`, String(process.pid)], { stdio: 'ignore' });
  for (const c of cases) {
    await refill(c, warmup);
    c.failed += await c.client.loop(c.cookies, warmup);
    dump(`start ${c.name} ${c.workload}`);
    dump(`empty ${c.name} ${c.workload}`);
    for (let segment = 1; segment <= CALLGRIND_SEGMENTS; segment += 1) {
      if (WORKLOAD_SPECS[c.workload].consumes) {
        await refill(c, iterations);
        dump(`pool ${segment} ${c.name} ${c.workload}`);
      }
      c.failed += await c.client.loop(c.cookies, iterations);
      dump(`segment ${segment} ${c.name} ${c.workload}`);
    }
    process.stdout.write(`CALLGRIND_CASE ${JSON.stringify({ contender: c.name, workload: c.workload, failed: c.failed + c.built.stats.errors })}\n`);
  }
  await closeAll();
  process.exit(0);
}

for (let r = 1; r <= repeat; r += 1) {
  for (const workload of workloads) {
    for (const c of cases.filter((x) => x.workload === workload)) {
      c.samples.push(await measure(c));
      process.stderr.write(`[repeat ${r}/${repeat}] ${workload.padEnd(5)} ${c.name.padEnd(20)} ${Math.round(c.samples.at(-1)).toString().padStart(7)} ns/op\n`);
    }
  }
}

const lines = ['| workload | contender | ns/op | over bare ns/op | × bare ops/s | errors or non-2xx |', '| --- | --- | ---: | ---: | ---: | ---: |'];
for (const workload of workloads) {
  const bareCase = cases.find((c) => c.name === 'bare' && c.workload === workload);
  const bare = bareCase === undefined ? NaN : median(bareCase.samples);
  for (const c of cases.filter((x) => x.workload === workload)) {
    const ns = median(c.samples);
    const over = c.name === 'bare' || !Number.isFinite(bare) ? '–' : Math.round(ns - bare).toLocaleString('en-US');
    const ratio = Number.isFinite(bare) ? (bare / ns).toFixed(2) : '–';
    lines.push(`| ${workload} | ${c.name} | ${Math.round(ns).toLocaleString('en-US')} | ${over} | ${ratio} | ${c.built.stats.errors + c.failed} |`);
  }
}
const users = workloads.some((w) => w !== 'new' && !w.startsWith('hot') && !w.startsWith('shared')) ? `; ${sessions.toLocaleString('en-US')} users` : '';
process.stdout.write(`\n# micro-benchmark: median of ${repeat} × ${iterations} requests (after ${warmup} warm-up${users}), Node ${process.version}\n\n${lines.join('\n')}\n`);

await closeAll();
