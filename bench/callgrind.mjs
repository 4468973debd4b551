// node bench/callgrind.mjs: instructions per request of the in-process
// micro-benchmark, counted by valgrind's callgrind. Unlike time, an
// instruction count does not move with the machine's load, so it compares a
// change before and after on a noisy VM. For each scenario (contender ×
// workload) bench/micro.mjs runs under callgrind and, after its warm-up, makes
// 5 segments of N requests with a callgrind dump after each, and one dump after
// no request (the cost of a dump). The figure is the median over the segments
// of (Ir(segment) − Ir(empty)) / N: start-up, session creation, warm-up and
// the dumps cancel out, and a segment that caught a late JIT compilation (tens
// of millions of instructions at once) does not move it. See bench/README.md.
import { execFileSync, spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { MANY_USERS, WORKLOAD_SPECS, WORKLOADS } from './lib/app.mjs';
import { BY_NAME } from './lib/contenders.mjs';
import { median } from './lib/report.mjs';
import { ensureBuilt, gitCommit, ROOT, snapshotDist } from './lib/package.mjs';
import { usageFailure, wholeNumber } from './lib/cli.mjs';

const MICRO = fileURLToPath(new URL('./micro.mjs', import.meta.url));
const DEFAULT_ONLY = ['bare', 'kss-cookie', 'kss-sealed', 'kss-map', 'kss-memory'];

const HELP = `Usage: node bench/callgrind.mjs [options]

  --only a,b         contenders (default: ${DEFAULT_ONLY.join(',')}); one valgrind process per contender and workload
  --workloads a,b    workloads (default: ${MANY_USERS.join(',')}; also ${WORKLOADS.filter((w) => !MANY_USERS.includes(w)).join(', ')})
  --requests N       N, requests per segment (default 1000); 5 segments per scenario
  --warmup N         warm-up requests per scenario (default 2000; micro.mjs's first pass adds 5×)
  --sessions N       sessions for the many-users workloads (default 10000, as in npm run bench: five
                     times the 2,000 verified cookies a middleware remembers, so reads verify as with real users)
  --jobs N           valgrind processes at once (default: the number of cores); counts do not
                     depend on the machine's load, so running them side by side changes nothing
  --no-build         do not rebuild dist/ when src/ is newer
  --latest           also write bench/results/callgrind-latest.json (the figures the README quotes)

Needs valgrind (Debian/Ubuntu: apt-get install valgrind). Node runs with --single-threaded
(no background compiler or GC threads), which keeps the counts steady.`;

const { values: argv } = parseArgs({
  options: {
    only: { type: 'string' },
    workloads: { type: 'string' },
    requests: { type: 'string' },
    warmup: { type: 'string' },
    sessions: { type: 'string' },
    jobs: { type: 'string' },
    'no-build': { type: 'boolean' },
    latest: { type: 'boolean' },
    help: { type: 'boolean', short: 'h' },
  },
});
if (argv.help) {
  process.stdout.write(`${HELP}\n`);
  process.exit(0);
}
const fail = usageFailure('bench:callgrind');
const count = (value, name, fallback) => wholeNumber(value, name, fallback, fail);
const requests = count(argv.requests, 'requests', 1000);
const warmup = count(argv.warmup, 'warmup', 2000);
const sessions = count(argv.sessions, 'sessions', 10000);
const jobs = count(argv.jobs, 'jobs', os.availableParallelism?.() ?? os.cpus().length);
const only = argv.only ? argv.only.split(',') : DEFAULT_ONLY;
const workloads = argv.workloads ? argv.workloads.split(',') : MANY_USERS;
for (const n of only) if (!BY_NAME.has(n)) fail(`unknown contender ${n}; known: ${[...BY_NAME.keys()].join(', ')}`);
for (const w of workloads) if (!WORKLOADS.includes(w)) fail(`unknown workload ${w}; known: ${WORKLOADS.join(', ')}`);
try {
  execFileSync('valgrind', ['--version'], { stdio: 'ignore' });
} catch {
  fail('valgrind is not on PATH (Debian/Ubuntu: apt-get install valgrind)');
}
const buildNote = ensureBuilt({ build: argv['no-build'] !== true });
if (buildNote) fail(`this package cannot be measured: ${buildNote}`);
// The valgrind processes load a copy of dist/esm (KSBENCH_DIST), so a rebuild meanwhile (npm test) changes nothing.
const removeSnapshot = snapshotDist();
process.on('exit', removeSnapshot);

/** Runs one contender's scenarios under callgrind; resolves to { 'label': Ir } from its dumps and the cases' failures. */
function runOne(contender, workloads) {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'ksbench-callgrind-'));
  const args = [
    '--tool=callgrind',
    `--callgrind-out-file=${path.join(dir, 'callgrind.out')}`,
    process.execPath,
    '--single-threaded',
    // V8's memory reducer starts collections when allocation per millisecond of wall time is low,
    // which under valgrind on a busy host it always is: segments then swing with the host's load.
    '--no-memory-reducer',
    // An old generation allowed to grow to 512 MB before its first full collection: the scenarios
    // promote far less, so no mark-compact lands in a segment. Without it, a full collection of the
    // 10,000 sessions' heap (about 100 million instructions) fell in some segments of some scenarios
    // and not others: floor-store read counted 68k to 197k from one segment to the next.
    '--initial-old-space-size=512',
    MICRO,
    '--no-build',
    '--callgrind',
    '--only',
    contender,
    ...(contender === 'bare' ? [] : ['--no-bare']),
    '--workloads',
    workloads.join(','),
    '--iterations',
    String(requests),
    '--warmup',
    String(warmup),
    '--sessions',
    String(sessions),
  ];
  return new Promise((resolve, reject) => {
    const child = spawn('valgrind', args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.setEncoding('utf8').on('data', (chunk) => (out += chunk));
    child.stderr.setEncoding('utf8').on('data', (chunk) => (err += chunk));
    child.once('error', reject);
    child.once('exit', (code) => {
      try {
        if (code !== 0) throw new Error(`valgrind exited with ${code}: ${err.trim().split('\n').slice(-5).join(' | ')}`);
        const leftOut = /^note: left out .*$/m.exec(err);
        if (leftOut) throw new Error(leftOut[0]);
        const totals = {};
        for (const file of readdirSync(dir)) {
          const text = readFileSync(path.join(dir, file), 'utf8');
          const trigger = /^desc: Trigger: dump (.+)$/m.exec(text)?.[1];
          const total = /^totals: (\d+)/m.exec(text)?.[1];
          if (trigger && total) totals[trigger.trim()] = Number(total);
        }
        const failed = {};
        for (const line of out.split('\n')) {
          if (!line.startsWith('CALLGRIND_CASE ')) continue;
          const c = JSON.parse(line.slice('CALLGRIND_CASE '.length));
          failed[`${c.contender} ${c.workload}`] = c.failed;
        }
        resolve({ totals, failed });
      } catch (error) {
        reject(error);
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    });
  });
}

const started = Date.now();
const results = [];
const fmtDrift = (value) => (Number.isFinite(value) ? `${(value * 100).toFixed(1)} %` : '–');

/**
 * One valgrind process per contender and workload: a process that made the sessions of every
 * workload (10,000 each) holds a heap big enough that V8's major collections land in the
 * segments, and a bare Koa request then counted 40,000 to 80,000 instructions from one segment to the next.
 */
async function measureContender(contender, workloads) {
  process.stderr.write(`bench:callgrind: ${contender} × ${workloads.join(', ')} under valgrind…\n`);
  try {
    const { totals, failed } = await runOne(contender, workloads);
    for (const workload of workloads) {
      const key = `${contender} ${workload}`;
      const empty = totals[`empty ${key}`];
      const segments = Object.keys(totals)
        .filter((label) => label.startsWith('segment ') && label.endsWith(` ${key}`))
        .map((label) => (totals[label] - empty) / requests);
      const perRequest = empty === undefined ? NaN : median(segments);
      // How far the segments spread: large when the JIT was still at work after the warm-up.
      const drift = segments.length > 1 ? (Math.max(...segments) - Math.min(...segments)) / perRequest : NaN;
      results.push({ contender, workload, perRequest, min: Math.min(...segments), drift, failed: failed[key] ?? NaN });
      process.stderr.write(
        `  ${contender} ${workload}: ${Number.isFinite(perRequest) ? Math.round(perRequest).toLocaleString('en-US') : '–'} instructions/request (segments ${segments.map((v) => Math.round(v / 1000)).join(', ')} thousand)\n`,
      );
    }
  } catch (error) {
    process.stderr.write(`  ${contender} ERROR ${error.message}\n`);
    for (const workload of workloads) results.push({ contender, workload, perRequest: NaN, failed: NaN, error: error.message });
  }
}

// `jobs` lanes, each taking the next contender and workload. As in run.mjs, a floor has no row on
// `none` (its floor is bare Koa) nor on a workload no floor bounds (login).
const hasRow = (contender, workload) =>
  BY_NAME.get(contender).family !== 'reference' || (WORKLOAD_SPECS[workload].handler !== 'none' && WORKLOAD_SPECS[workload].floors !== false);
const queue = only.flatMap((contender) => workloads.filter((workload) => hasRow(contender, workload)).map((workload) => [contender, [workload]]));
await Promise.all(
  Array.from({ length: Math.min(jobs, queue.length) }, async () => {
    while (queue.length > 0) await measureContender(...queue.shift());
  }),
);
results.sort((a, b) => only.indexOf(a.contender) - only.indexOf(b.contender));

const fmt = (value) => (Number.isFinite(value) ? Math.round(value).toLocaleString('en-US') : '–');
const lines = ['| workload | contender | instructions/request (median of 5 segments) | over bare | lowest segment | spread (max − min) | non-2xx or errors |', '| --- | --- | ---: | ---: | ---: | ---: | ---: |'];
for (const workload of workloads) {
  const bare = results.find((r) => r.contender === 'bare' && r.workload === workload)?.perRequest ?? NaN;
  for (const r of results.filter((x) => x.workload === workload)) {
    lines.push(
      `| ${workload} | ${r.contender} | ${fmt(r.perRequest)} | ${r.contender === 'bare' ? '–' : fmt(r.perRequest - bare)} | ${fmt(r.min)} | ${fmtDrift(r.drift)} | ${Number.isFinite(r.failed) ? r.failed : '–'} |`,
    );
  }
}
process.stdout.write(
  `\n# callgrind: instructions per request, median over 5 segments of N = ${requests.toLocaleString('en-US')} requests of (Ir(segment) − Ir(empty)) / N ` +
    `(after ${(warmup * 6).toLocaleString('en-US')} warm-up requests; ${sessions.toLocaleString('en-US')} users; ${jobs} at a time), Node ${process.version} --single-threaded; ` +
    `${Math.round((Date.now() - started) / 1000)} s\n\n${lines.join('\n')}\n\n` +
    'A wide spread means the JIT was still at work after the warm-up: compare medians, or raise --warmup.\n',
);
if (argv.latest === true) {
  const file = path.join(ROOT, 'bench', 'results', 'callgrind-latest.json');
  mkdirSync(path.dirname(file), { recursive: true });
  const json = { date: new Date().toISOString(), commit: gitCommit(), argv: process.argv.slice(2), node: process.version, requests, warmup, sessions, results };
  writeFileSync(file, `${JSON.stringify(json, null, 2)}\n`);
  process.stdout.write(`(raw figures: ${path.relative(ROOT, file)})\n`);
}
