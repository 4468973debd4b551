// npm run bench:memory: pushes 1,000,000 requests through the middleware in
// process (as bench/micro.mjs does) and prints the heap after warm-up and after
// the run, each after a full GC:
//  1. the cookie store, cycling the new/read/write/none workloads, the requests
//     carrying the cookies of 100,000 distinct sessions: the heap should end
//     where it was after warm-up;
//  2. MemoryStore, 1,000,000 new sessions: its size should stay at its bound.
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { buildApp, MANY_USERS } from './lib/app.mjs';
import { BY_NAME, unavailable } from './lib/contenders.mjs';
import { fakeClient } from './lib/fake-http.mjs';
import { ensureBuilt, loadEntry, snapshotDist } from './lib/package.mjs';

if (typeof globalThis.gc !== 'function') {
  // Re-run with --expose-gc so heap figures are taken after a full collection.
  const child = spawnSync(process.execPath, ['--expose-gc', fileURLToPath(import.meta.url), ...process.argv.slice(2)], { stdio: 'inherit' });
  process.exit(child.status ?? 1);
}

const { values: argv } = parseArgs({
  options: {
    requests: { type: 'string' },
    sessions: { type: 'string' },
    warmup: { type: 'string' },
    max: { type: 'string' },
    'no-build': { type: 'boolean' },
    help: { type: 'boolean', short: 'h' },
  },
});
if (argv.help) {
  process.stdout.write(`Usage: node bench/memory.mjs [--requests N (default 1000000)] [--sessions N (cookie store users, default 100000)] [--warmup N (default 40000)] [--max N (MemoryStore bound, default 10000)] [--no-build]\n`);
  process.exit(0);
}
const int = (value, fallback) => {
  const number = value === undefined ? fallback : Number(value);
  if (!Number.isInteger(number) || number < 1) {
    process.stderr.write(`bench:memory: expected a whole number above 0, got ${JSON.stringify(value)}\n`);
    process.exit(2);
  }
  return number;
};
const REQUESTS = int(argv.requests, 1_000_000);
const SESSIONS = int(argv.sessions, 100_000);
const WARMUP = int(argv.warmup, 40_000);
const MAX = int(argv.max, 10_000);
const BATCH = 100_000;
// Growth below this is GC noise (a few pages of old space, code, feedback vectors).
const NOISE_MB = 2;

const mb = (bytes) => (bytes / 1048576).toFixed(2);
const out = (line) => process.stdout.write(`${line}\n`);

async function heapAfterGc() {
  // Let pending immediates (on-finished) run, then collect twice so weak and finalized objects go too.
  await new Promise((resolve) => setImmediate(resolve));
  globalThis.gc();
  globalThis.gc();
  return process.memoryUsage().heapUsed;
}

/** Answers that were not 2xx (a session that did not load answers 409). */
let notOk = 0;

/** Runs `total` requests spread evenly over `clients` ({ client, cookies }), in batches, reporting each batch. */
async function drive(clients, total, onBatch) {
  let done = 0;
  while (done < total) {
    const batch = Math.min(BATCH, total - done);
    const each = Math.ceil(batch / clients.length);
    for (const { client, cookies } of clients) notOk += await client.loop(cookies, each);
    done += each * clients.length;
    await onBatch?.(done);
  }
  return done;
}

const buildNote = ensureBuilt({ build: argv['no-build'] !== true });
// Load a copy of dist/esm, so a rebuild meanwhile (npm test runs one) changes nothing.
if (!buildNote) process.on('exit', snapshotDist());
const cookieContender = BY_NAME.get('kss-cookie');
const reason = await unavailable(cookieContender, { services: {}, buildNote });
if (reason) {
  out(`bench:memory: this package cannot be measured: ${reason}`);
  process.exit(1);
}

out(`# memory check, Node ${process.version}`);
out('');

// 1. Cookie store.
{
  // The sessions are made once, through the read app; a cookie-store cookie is valid in every app with the same keys.
  const clients = [];
  let cookies = [];
  const began = Date.now();
  for (const workload of ['read', ...MANY_USERS.filter((w) => w !== 'read')]) {
    const built = await buildApp({ contender: cookieContender, workload });
    const client = fakeClient(built.app);
    const made = await built.prepare(client.send, workload === 'read' ? SESSIONS : 1);
    if (workload === 'read') cookies = made;
    clients.push({ client, cookies: workload === 'new' ? [] : cookies, built });
  }
  out(`(${cookies.length.toLocaleString('en-US')} sessions created in ${((Date.now() - began) / 1000).toFixed(1)} s)`);
  await drive(clients, WARMUP);
  const start = await heapAfterGc();
  out(`## cookie store: ${REQUESTS.toLocaleString('en-US')} requests cycling ${MANY_USERS.join('/')} across ${cookies.length.toLocaleString('en-US')} distinct sessions`);
  out('');
  out(`heapUsed after ${WARMUP.toLocaleString('en-US')} warm-up requests: ${mb(start)} MB`);
  const trend = [];
  const measuring = Date.now();
  const total = await drive(clients, REQUESTS, async (done) => {
    trend.push(`${done / 1000}k: ${mb(await heapAfterGc())}`);
  });
  const end = await heapAfterGc();
  const errors = clients.reduce((sum, c) => sum + c.built.stats.errors, notOk);
  out(`heapUsed after ${total.toLocaleString('en-US')} more requests: ${mb(end)} MB (${end >= start ? '+' : ''}${mb(end - start)} MB, ${((end - start) / total).toFixed(2)} bytes/request; ${((Date.now() - measuring) / 1000).toFixed(1)} s, ${errors} errors)`);
  out(`trend (MB after GC): ${trend.join(', ')}`);
  out(`verdict: ${end - start < NOISE_MB * 1048576 ? `no growth beyond noise (< ${NOISE_MB} MB)` : `GROWTH of ${mb(end - start)} MB`}`);
  out('');
}

// 2. MemoryStore bound.
{
  const index = await loadEntry('index');
  if (typeof index?.MemoryStore !== 'function') {
    out('## MemoryStore: not available (src/index.ts does not export MemoryStore yet)');
  } else {
    const store = new index.MemoryStore({ max: MAX });
    const contender = { create: async () => ({ middleware: index.session({ store }), store }) };
    const built = await buildApp({ contender, workload: 'new' });
    const client = fakeClient(built.app);
    const clients = [{ client, cookies: await built.prepare(client.send, 0) }];
    await drive(clients, WARMUP);
    const start = await heapAfterGc();
    out(`## MemoryStore (max ${MAX.toLocaleString('en-US')}): ${REQUESTS.toLocaleString('en-US')} new sessions`);
    out('');
    out(`after ${WARMUP.toLocaleString('en-US')} warm-up sessions: size ${store.size.toLocaleString('en-US')}, heapUsed ${mb(start)} MB`);
    let largest = store.size;
    const began = Date.now();
    const total = await drive(clients, REQUESTS, () => {
      largest = Math.max(largest, store.size);
    });
    const end = await heapAfterGc();
    out(`after ${total.toLocaleString('en-US')} more new sessions: size ${store.size.toLocaleString('en-US')} (largest seen at a batch end ${largest.toLocaleString('en-US')}), heapUsed ${mb(end)} MB (${end >= start ? '+' : ''}${mb(end - start)} MB; ${((Date.now() - began) / 1000).toFixed(1)} s, ${built.stats.errors} errors)`);
    out(`verdict: ${largest <= MAX ? `within its bound (${store.size} ≤ ${MAX})` : `OVER its bound (${largest} > ${MAX})`}${end - start < NOISE_MB * 1048576 ? ', heap flat' : `, heap grew ${mb(end - start)} MB`}`);
    await store.close?.();
  }
}
