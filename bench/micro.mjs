// npm run bench:micro: the session middleware alone, no sockets. Each request
// goes through app.callback() with real node:http request/response objects on a
// socket that discards its output, N times per contender × workload, and the
// time per request is printed in ns/op next to bare Koa's. For profiling:
//   node --cpu-prof --cpu-prof-dir=bench/results bench/micro.mjs --only kss-cookie --workloads read --iterations 200000
import { parseArgs } from 'node:util';
import { buildApp, WORKLOADS } from './lib/app.mjs';
import { BY_NAME, unavailable } from './lib/contenders.mjs';
import { fakeClient } from './lib/fake-http.mjs';
import { ensureBuilt } from './lib/package.mjs';
import { median } from './lib/report.mjs';
import { cleanRedis, probeServices, runTag } from './lib/services.mjs';

const HELP = `Usage: node bench/micro.mjs [options]

  --only a,b         contenders (default: kss-cookie,kss-map; bare is always measured)
  --workloads a,b    workloads (default: ${WORKLOADS.join(',')})
  --iterations N     measured requests per contender × workload per repeat (default 20000)
  --warmup N         unmeasured requests before each measurement (default 2000; 5× that
                     for every case once before the first repeat)
  --repeat N         repeats, contenders interleaved; the median is printed (default 3)
  --no-build         do not rebuild dist/ when src/ is newer`;

const { values: argv } = parseArgs({
  options: {
    only: { type: 'string' },
    workloads: { type: 'string' },
    iterations: { type: 'string' },
    warmup: { type: 'string' },
    repeat: { type: 'string' },
    'no-build': { type: 'boolean' },
    help: { type: 'boolean', short: 'h' },
  },
});
if (argv.help) {
  process.stdout.write(`${HELP}\n`);
  process.exit(0);
}

function fail(message) {
  process.stderr.write(`bench:micro: ${message}\n`);
  process.exit(2);
}
function count(value, name, fallback) {
  if (value === undefined) return fallback;
  const number = Number(value);
  if (!Number.isInteger(number) || number < 1) fail(`--${name} must be a whole number above 0`);
  return number;
}

const iterations = count(argv.iterations, 'iterations', 20000);
const warmup = count(argv.warmup, 'warmup', 2000);
const repeat = count(argv.repeat, 'repeat', 3);
const workloads = argv.workloads ? argv.workloads.split(',') : WORKLOADS;
for (const w of workloads) if (!WORKLOADS.includes(w)) fail(`unknown workload ${w}; known: ${WORKLOADS.join(', ')}`);
const names = ['bare', ...(argv.only ? argv.only.split(',') : ['kss-cookie', 'kss-map']).filter((n) => n !== 'bare')];
for (const n of names) if (!BY_NAME.has(n)) fail(`unknown contender ${n}; known: ${[...BY_NAME.keys()].join(', ')}`);

const buildNote = ensureBuilt({ build: argv['no-build'] !== true });
const services = await probeServices();
const tag = runTag();
const env = { redisUrl: process.env.REDIS_URL ?? 'redis://127.0.0.1:6379', databaseUrl: process.env.DATABASE_URL, redisPrefix: `ksbench:${tag}:micro:` };

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
    const built = await buildApp({ contender, workload, env });
    const client = fakeClient(built.app);
    const cookie = await built.prepare(client.send);
    cases.push({ name, workload, built, client, cookie, samples: [] });
  }
}

async function measure(c) {
  const { client, cookie } = c;
  await client.loop(cookie, warmup);
  const start = process.hrtime.bigint();
  await client.loop(cookie, iterations);
  return Number(process.hrtime.bigint() - start) / iterations;
}

// A first pass over every case, so the JIT has seen all of them before any is measured.
for (const c of cases) await c.client.loop(c.cookie, warmup * 5);

for (let r = 1; r <= repeat; r += 1) {
  for (const workload of workloads) {
    for (const c of cases.filter((x) => x.workload === workload)) {
      c.samples.push(await measure(c));
      process.stderr.write(`[repeat ${r}/${repeat}] ${workload.padEnd(5)} ${c.name.padEnd(20)} ${Math.round(c.samples.at(-1)).toString().padStart(7)} ns/op\n`);
    }
  }
}

const lines = ['| workload | contender | ns/op | over bare ns/op | × bare ops/s | errors |', '| --- | --- | ---: | ---: | ---: | ---: |'];
for (const workload of workloads) {
  const bare = median(cases.find((c) => c.name === 'bare' && c.workload === workload).samples);
  for (const c of cases.filter((x) => x.workload === workload)) {
    const ns = median(c.samples);
    const over = c.name === 'bare' ? '–' : Math.round(ns - bare).toLocaleString('en-US');
    lines.push(`| ${workload} | ${c.name} | ${Math.round(ns).toLocaleString('en-US')} | ${over} | ${(bare / ns).toFixed(2)} | ${c.built.stats.errors} |`);
  }
}
process.stdout.write(`\n# micro-benchmark: median of ${repeat} × ${iterations} requests (after ${warmup} warm-up), Node ${process.version}\n\n${lines.join('\n')}\n`);

for (const c of cases) await c.built.close?.();
if (services.redis && names.some((n) => BY_NAME.get(n).services?.includes('redis'))) await cleanRedis(`ksbench:${tag}:`);
