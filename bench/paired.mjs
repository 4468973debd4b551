// npm run bench:paired: settles the ratios of bench/run.mjs that a busy host
// leaves unsettled. Each pair's two servers run at the same time on one shared
// core (CPU 0), each driven by its own wrk on CPU 1 with the cookies of 10,000
// users, so a slow second of the host slows both; the figure is the ratio of
// their CPU time per request, round by round. See bench/README.md.
import { cpSync, existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync, copyFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { APP_KEYS_ONE, WORKLOAD_SPECS } from './lib/app.mjs';
import { usageFailure, wholeNumber } from './lib/cli.mjs';
import { BY_NAME, unavailable } from './lib/contenders.mjs';
import { pickLoadgen, runLoad } from './lib/loadgen.mjs';
import { ensureBuilt, gitCommit, ROOT, snapshotDist } from './lib/package.mjs';
import { DEFAULT_PAIRS, pairName, pairOrder, pairsTable, parsePairs, sideOf, summarizePairs } from './lib/paired.mjs';
import { killAll, pinning, startServer } from './lib/processes.mjs';
import { probeServices, REDIS_URL, DATABASE_URL, runTag } from './lib/services.mjs';

const PAIRED_WORKLOADS = Object.keys(WORKLOAD_SPECS).filter((w) => !WORKLOAD_SPECS[w].consumes);

const HELP = `Usage: node bench/paired.mjs [options]

  --rounds N       rounds (default 9)
  --duration S     seconds per paired run (default 2; whole seconds)
  --warmup S       seconds of load each server gets alone when it starts (default 2)
  --sessions N     sessions (users) each server creates (default 10000)
  --pairs list     workload:contender/reference,… (default: the ${DEFAULT_PAIRS.length} pairs below)
  --baseline DIR   a dist/esm folder of another build: a name ending in @baseline in --pairs is
                   served from it (none:kss-cookie/kss-cookie@baseline: a change against its
                   baseline, at the same time)
  --latest         also write bench/results/paired-latest.json (the committed figures)
  --no-build       do not rebuild dist/ when src/ is newer

Default pairs: ${DEFAULT_PAIRS.map(pairName).join('; ')}
Workloads: ${PAIRED_WORKLOADS.join(', ')} (login uses up its sessions and cannot be paired)`;

const fail = usageFailure('bench');
const positiveInt = (value, name, fallback) => wholeNumber(value, name, fallback, fail);

const { values: argv } = parseArgs({
  options: {
    rounds: { type: 'string' },
    duration: { type: 'string' },
    warmup: { type: 'string' },
    sessions: { type: 'string' },
    pairs: { type: 'string' },
    baseline: { type: 'string' },
    latest: { type: 'boolean' },
    'no-build': { type: 'boolean' },
    help: { type: 'boolean', short: 'h' },
  },
});
if (argv.help) {
  process.stdout.write(`${HELP}\n`);
  process.exit(0);
}
const options = {
  rounds: positiveInt(argv.rounds, 'rounds', 9),
  duration: positiveInt(argv.duration, 'duration', 2),
  warmup: positiveInt(argv.warmup, 'warmup', 2),
  sessions: positiveInt(argv.sessions, 'sessions', 10_000),
  connections: 50,
};
let pairs = DEFAULT_PAIRS;
if (argv.baseline !== undefined && !existsSync(path.join(argv.baseline, 'index.js'))) fail(`--baseline ${argv.baseline} holds no index.js (give a dist/esm folder)`);
if (argv.pairs !== undefined) {
  try {
    pairs = parsePairs(argv.pairs, { contenders: [...BY_NAME.keys()], workloads: PAIRED_WORKLOADS, baseline: argv.baseline !== undefined });
  } catch (error) {
    fail(error.message);
  }
}
/** Every contender a pair names, once (a contender from the --baseline build is the same contender). */
const contenderNames = new Set(pairs.flatMap((p) => [p.contender, p.reference]).map((n) => sideOf(n).contender));
// A store behind a network round trip waits rather than computes, and its server's CPU is not counted: its targets stay with run.mjs.
for (const name of contenderNames) {
  const needs = BY_NAME.get(name).services;
  if (needs !== undefined) fail(`${name} needs ${needs.join(', ')}: a paired figure counts only the Node server's CPU; measure it with bench/run.mjs`);
}

const log = (line) => process.stderr.write(`${line}\n`);
const out = (text) => process.stdout.write(`${text}\n`);

// Sharing one core between the two servers is the method: without two cores and taskset there is no figure to give.
const pin = pinning();
if (pin.pins === null) fail(`paired runs need two cores and taskset: ${pin.note}`);
const loadgen = pickLoadgen();
if (loadgen !== 'wrk') fail('paired runs need wrk (apt-get install wrk): autocannon would take the load core for itself');

const tag = runTag();
const tmpDir = mkdtempSync(path.join(os.tmpdir(), 'ksbench-paired-'));
let removeSnapshot = () => {};
async function cleanup() {
  killAll();
  rmSync(tmpDir, { recursive: true, force: true });
  removeSnapshot();
}
for (const signal of ['SIGINT', 'SIGTERM']) process.once(signal, () => cleanup().finally(() => process.exit(130)));

const buildNote = ensureBuilt({ build: argv['no-build'] !== true });
if (buildNote) fail(`koa-session-store contenders: ${buildNote}`);
removeSnapshot = snapshotDist();
// The baseline build is copied inside the repository too, so its imports resolve this node_modules.
let baselineDist;
if (argv.baseline !== undefined) {
  baselineDist = path.join(ROOT, 'bench', 'results', `.baseline-${process.pid}`, 'esm');
  cpSync(argv.baseline, baselineDist, { recursive: true });
  const removeBuild = removeSnapshot;
  removeSnapshot = () => {
    removeBuild();
    rmSync(path.dirname(baselineDist), { recursive: true, force: true });
  };
}
const services = await probeServices();
for (const name of contenderNames) {
  const reason = await unavailable(BY_NAME.get(name), { services, buildNote });
  if (reason !== null) {
    await cleanup();
    fail(`${name} cannot run here: ${reason}`);
  }
}

/** What a server is given; no pair uses a service (refused above), but every contender expects the fields. */
function envFor(name, workload) {
  const file = `${name.replace('@', '-')}-${workload}`;
  return {
    redisUrl: REDIS_URL,
    databaseUrl: DATABASE_URL,
    redisPrefix: `ksbench:${tag}:${file}:`,
    pgSchema: `ksbench_${tag}`,
    sqlTable: `s_${file}`.replace(/-/g, '_'),
    sqlitePath: path.join(tmpDir, `${file}.db`),
    cookieFile: path.join(tmpDir, `${file}.cookies`),
    appKeys: APP_KEYS_ONE,
  };
}

const load = (server, duration) =>
  runLoad({ tool: loadgen, port: server.port, cookieFile: server.cookieFile, connections: options.connections, duration, core: pin.pins.load });

/** One server per contender and workload, both sides of every pair on the server core; each warmed up alone. */
const servers = new Map();
async function serverFor(name, workload) {
  const key = `${workload} ${name}`;
  if (!servers.has(key)) {
    const side = sideOf(name);
    const processEnv = side.baseline ? { KSBENCH_DIST: baselineDist } : {};
    const server = await startServer({ contender: side.contender, workload, env: envFor(name, workload), core: pin.pins.server, sessions: options.sessions, processEnv });
    if (options.warmup > 0) await load(server, options.warmup);
    log(`[${workload}] ${name.padEnd(22)} ready, warmed up`);
    servers.set(key, server);
  }
  return servers.get(key);
}

/** Both sides of `pair` under load at once; their CPU per request from the servers' own counters. */
async function measurePair(pair, round) {
  const contender = await serverFor(pair.contender, pair.workload);
  const reference = await serverFor(pair.reference, pair.workload);
  const [cBefore, rBefore] = await Promise.all([contender.cpu(), reference.cpu()]);
  const [cLoad, rLoad] = await Promise.all([load(contender, options.duration), load(reference, options.duration)]);
  const [cAfter, rAfter] = await Promise.all([contender.cpu(), reference.cpu()]);
  const side = (result, before, after) => ({
    requests: result.requests,
    rps: result.rps,
    cpuUsPerReq: result.requests > 0 ? (after.micros - before.micros) / result.requests : NaN,
    // The server's share of the core over the run: the two shares add up to about 1 while the core is saturated.
    share: (after.micros - before.micros) / 1e6 / result.seconds,
    failed: result.failed + (after.errors - before.errors),
  });
  return { pair: pairName(pair), round, contender: side(cLoad, cBefore, cAfter), reference: side(rLoad, rBefore, rAfter) };
}

const runs = [];
const failures = [];
try {
  const started = Date.now();
  log(`bench: ${pairs.length} pairs × ${options.rounds} rounds, ${options.duration} s per paired run, both servers on CPU ${pin.pins.server}, wrk on CPU ${pin.pins.load}; about ${Math.ceil((pairs.length * options.rounds * (options.duration + 0.3) + new Set(pairs.flatMap((p) => [`${p.workload} ${p.contender}`, `${p.workload} ${p.reference}`])).size * (options.warmup + 3)) / 60)} min`);
  for (let round = 1; round <= options.rounds; round += 1) {
    for (const pair of pairOrder(pairs, round)) {
      let run;
      try {
        run = await measurePair(pair, round);
      } catch (error) {
        // A load generator that printed nothing (seen once in about 500 runs): one more try, then the round goes without this pair.
        log(`[round ${round}/${options.rounds}] ${pairName(pair)}: ${error.message}; trying again`);
        try {
          run = await measurePair(pair, round);
        } catch (again) {
          failures.push({ pair: pairName(pair), round, error: again.message });
          log(`[round ${round}/${options.rounds}] ${pairName(pair)}: ERROR ${again.message}`);
          continue;
        }
      }
      runs.push(run);
      const figure = run.reference.cpuUsPerReq / run.contender.cpuUsPerReq;
      const failed = run.contender.failed + run.reference.failed;
      log(
        `[round ${round}/${options.rounds}] ${pairName(pair).padEnd(48)} ${figure.toFixed(3)}  (${run.contender.cpuUsPerReq.toFixed(1)} / ${run.reference.cpuUsPerReq.toFixed(1)} µs/req, ` +
          `${Math.round(run.contender.rps)} / ${Math.round(run.reference.rps)} req/s, core ${(run.contender.share + run.reference.share).toFixed(2)})${failed > 0 ? `  FAILED ${failed}` : ''}`,
      );
    }
  }
  const rows = summarizePairs(pairs, runs);
  const date = new Date().toISOString();
  const commit = gitCommit();
  out('');
  out(`# koa-session-store paired bench, ${date}`);
  out('');
  out(`Commit: ${commit}. Node ${process.version}, ${os.cpus()[0]?.model ?? 'unknown CPU'}. Both servers of a pair on CPU ${pin.pins.server}, a wrk each on CPU ${pin.pins.load}, ${options.connections} connections each, ${options.sessions.toLocaleString('en-US')} users per server.`);
  out(`Command: node bench/paired.mjs ${process.argv.slice(2).join(' ')}`.trimEnd());
  out('');
  out(`## Contender ÷ reference, served at the same time from one core (median of ${options.rounds} rounds of ${options.duration} s)`);
  out('');
  out(pairsTable(rows));
  const failed = rows.reduce((sum, row) => sum + row.failed, 0);
  if (failed > 0) out(`\n- note: ${failed} requests failed; see the raw runs`);
  for (const f of failures) out(`- failed: round ${f.round}, ${f.pair}: ${f.error}`);
  const resultsDir = path.join(ROOT, 'bench', 'results');
  mkdirSync(resultsDir, { recursive: true });
  const file = path.join(resultsDir, `paired-${date.replace(/[:.]/g, '-')}.json`);
  const elapsedSeconds = (Date.now() - started) / 1000;
  writeFileSync(file, `${JSON.stringify({ date, commit, argv: process.argv.slice(2), options, node: process.version, summary: rows, runs, failures, elapsedSeconds }, null, 2)}\n`);
  const written = [file];
  if (argv.latest === true) {
    copyFileSync(file, path.join(resultsDir, 'paired-latest.json'));
    written.push(path.join(resultsDir, 'paired-latest.json'));
  }
  out('');
  out(`(raw figures: ${written.map((f) => path.relative(ROOT, f)).join(', ')}; ${Math.round(elapsedSeconds)} s)`);
  if (failed > 0 || failures.length > 0) process.exitCode = 1;
} finally {
  for (const server of servers.values()) await server.stop().catch(() => {});
  await cleanup();
}
