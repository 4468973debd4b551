// npm run bench: each contender as its own server process on 127.0.0.1, driven
// by wrk (or autocannon) with bounded load, contenders alternated round by
// round, medians printed as markdown and all figures written to
// bench/results/<timestamp>.json. See bench/README.md.
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { BY_NAME, CONTENDERS, unavailable } from './lib/contenders.mjs';
import { pickLoadgen, runLoad } from './lib/loadgen.mjs';
import { ensureBuilt, ROOT, snapshotDist } from './lib/package.mjs';
import { killAll, pinning, startServer } from './lib/processes.mjs';
import { legend, peerMatrix, ratioMatrix, summarize, throughputTable, writersTable } from './lib/report.mjs';
import { cleanRedis, DATABASE_URL, postgresQuery, probeServices, REDIS_URL, runTag } from './lib/services.mjs';
import { writersOnce } from './lib/writers.mjs';

const WORKLOADS = ['new', 'read', 'write', 'none'];

const HELP = `Usage: node bench/run.mjs [options]

  --quick              2 rounds of 1 s runs, contenders ${CONTENDERS.filter((c) => c.quick).map((c) => c.name).join(', ')};
                       no concurrent-writers figure (add --writers for it alone); under a minute
  --rounds N           rounds (default 7)
  --duration S         seconds per measured run (default 2; whole seconds)
  --warmup S           seconds of warm-up load when a server starts (default 1; 0 = none)
  --connections N      concurrent connections (default 50)
  --only a,b           only these contenders (bare is always added to throughput runs)
  --workloads a,b      only these workloads (${WORKLOADS.join(', ')})
  --writers            only the concurrent-writers figure
  --no-writers         skip the concurrent-writers figure
  --loadgen wrk|autocannon   force a load generator (default: wrk when on PATH)
  --no-build           do not rebuild dist/ when src/ is newer
  --list               list the contenders and exit

Contenders: ${CONTENDERS.map((c) => c.name).join(', ')}
Environment: REDIS_URL (default redis://127.0.0.1:6379), DATABASE_URL (default postgres://postgres@127.0.0.1:5432/test)`;

function fail(message) {
  process.stderr.write(`bench: ${message}\n`);
  process.exit(2);
}

function positiveInt(value, name, fallback, { zero = false } = {}) {
  if (value === undefined) return fallback;
  const number = Number(value);
  if (!Number.isInteger(number) || number < (zero ? 0 : 1)) fail(`--${name} must be a whole number${zero ? '' : ' above 0'}, got ${JSON.stringify(value)}`);
  return number;
}

function list(value, known, name) {
  const names = value.split(',').map((s) => s.trim()).filter(Boolean);
  for (const n of names) if (!known.includes(n)) fail(`unknown ${name} ${JSON.stringify(n)}; known: ${known.join(', ')}`);
  return names;
}

const { values: argv } = parseArgs({
  options: {
    quick: { type: 'boolean' },
    rounds: { type: 'string' },
    duration: { type: 'string' },
    warmup: { type: 'string' },
    connections: { type: 'string' },
    only: { type: 'string' },
    workloads: { type: 'string' },
    writers: { type: 'boolean' },
    'no-writers': { type: 'boolean' },
    loadgen: { type: 'string' },
    'no-build': { type: 'boolean' },
    list: { type: 'boolean' },
    help: { type: 'boolean', short: 'h' },
  },
});
if (argv.help) {
  process.stdout.write(`${HELP}\n`);
  process.exit(0);
}
if (argv.list) {
  for (const c of CONTENDERS) {
    const tags = ['throughput', 'writers', 'quick'].filter((t) => c[t]).join(', ');
    process.stdout.write(`${c.name.padEnd(20)} ${c.label}${tags ? `  [${tags}]` : ''}${c.services ? `  needs ${c.services.join(', ')}` : ''}\n`);
  }
  process.exit(0);
}
if (argv.loadgen !== undefined && !['wrk', 'autocannon'].includes(argv.loadgen)) fail('--loadgen must be wrk or autocannon');

const quick = argv.quick === true;
const options = {
  quick,
  rounds: positiveInt(argv.rounds, 'rounds', quick ? 2 : 7),
  duration: positiveInt(argv.duration, 'duration', quick ? 1 : 2),
  warmup: positiveInt(argv.warmup, 'warmup', 1, { zero: true }),
  connections: positiveInt(argv.connections, 'connections', 50),
  workloads: argv.workloads ? list(argv.workloads, WORKLOADS, 'workload') : WORKLOADS,
  only: argv.only ? list(argv.only, [...BY_NAME.keys()], 'contender') : null,
};
const doThroughput = argv.writers !== true;
const doWriters = argv.writers === true || (!quick && argv['no-writers'] !== true);

const log = (line) => process.stderr.write(`${line}\n`);
const out = (text) => process.stdout.write(`${text}\n`);

// What to run.
const pickThroughput = options.only
  ? ['bare', ...options.only.filter((n) => n !== 'bare')].map((n) => BY_NAME.get(n))
  : CONTENDERS.filter((c) => (quick ? c.quick : c.throughput));
const pickWriters = options.only ? options.only.filter((n) => n !== 'bare').map((n) => BY_NAME.get(n)) : CONTENDERS.filter((c) => c.writers);

const tag = runTag();
const redisPrefix = `ksbench:${tag}:`;
const pgSchema = `ksbench_${tag}`;
const tmpDir = mkdtempSync(path.join(os.tmpdir(), 'ksbench-'));
let pgSchemaCreated = false;

function envFor(contender, label) {
  return {
    redisUrl: REDIS_URL,
    databaseUrl: DATABASE_URL,
    redisPrefix: `${redisPrefix}${contender.name}:`,
    pgSchema,
    sqlitePath: path.join(tmpDir, `${contender.name}-${label}.db`),
  };
}

// Filled in below; declared first so an early Ctrl-C cleans up what exists.
let services = { redis: false, postgres: false };
let removeSnapshot = () => {};
let cleaned = false;
async function cleanup() {
  if (cleaned) return;
  cleaned = true;
  killAll();
  rmSync(tmpDir, { recursive: true, force: true });
  removeSnapshot();
  if (services.redis) await cleanRedis(redisPrefix).catch((error) => log(`bench: could not clean Redis keys ${redisPrefix}*: ${error.message}`));
  if (pgSchemaCreated) {
    await postgresQuery(`DROP SCHEMA IF EXISTS "${pgSchema}" CASCADE`).catch((error) => log(`bench: could not drop schema ${pgSchema}: ${error.message}`));
  }
}
for (const signal of ['SIGINT', 'SIGTERM']) {
  process.once(signal, () => {
    log(`\nbench: ${signal}, stopping the servers and cleaning up…`);
    cleanup().finally(() => process.exit(130));
  });
}

const notes = [];
const buildNote = ensureBuilt({ build: argv['no-build'] !== true });
if (buildNote) notes.push(`koa-session-store contenders: ${buildNote}`);
if (!buildNote) removeSnapshot = snapshotDist();
services = await probeServices();
if (!services.redis) notes.push(`Redis is not reachable at ${REDIS_URL}: contenders that need it are left out (set REDIS_URL)`);
if (!services.postgres) notes.push(`PostgreSQL is not reachable at ${DATABASE_URL}: contenders that need it are left out (set DATABASE_URL)`);

/** Splits contenders into those that can run and those left out ({ contender, reason }). */
async function usable(contenders) {
  const keep = [];
  const leftOut = [];
  for (const contender of contenders) {
    const reason = await unavailable(contender, { services, buildNote });
    if (reason === null) keep.push(contender);
    else {
      leftOut.push({ contender, reason });
      notes.push(`left out ${contender.name}: ${reason}`);
    }
  }
  return { keep, leftOut };
}

const pin = pinning();
if (pin.note) notes.push(pin.note);
const loadgen = doThroughput ? pickLoadgen(argv.loadgen) : null;
const throughputContenders = doThroughput ? (await usable(pickThroughput)).keep : [];
const { keep: writerContenders, leftOut: writersLeftOut } = doWriters ? await usable(pickWriters) : { keep: [], leftOut: [] };
for (const note of [...new Set(notes)]) log(`note: ${note}`);

function machine() {
  const cpus = os.cpus();
  let loadgenVersion = loadgen;
  if (loadgen === 'wrk') {
    try {
      execFileSync('wrk', ['--version'], { encoding: 'utf8' });
    } catch (error) {
      loadgenVersion = String(error.stdout).split('\n')[0].split(' Copyright')[0].trim();
    }
  }
  return {
    cpu: cpus[0]?.model ?? 'unknown',
    cores: cpus.length,
    os: `${os.type()} ${os.release()}`,
    node: process.version,
    loadgen: loadgenVersion,
    pinned: pin.pins ? `server on CPU ${pin.pins.server}, load generator on CPU ${pin.pins.load}` : 'not pinned',
  };
}

const runs = [];
const failures = [];

/**
 * Starts one server per contender for `workload`, each warmed up once.
 * Resolves to [{ contender, server }]; a contender that fails to start is
 * recorded in `failures` for every round and left out.
 */
async function startServers(contenders, workload) {
  const started = [];
  for (const contender of contenders) {
    try {
      const server = await startServer({ contender: contender.name, workload, env: envFor(contender, workload), core: pin.pins?.server });
      started.push({ contender, server });
      if (options.warmup > 0) await runLoad({ ...loadFor(server), duration: options.warmup });
    } catch (error) {
      for (let round = 1; round <= options.rounds; round += 1) failures.push({ round, workload, contender: contender.name, error: error.message });
      log(`[${workload}] ${contender.name.padEnd(20)} ERROR ${error.message}`);
    }
  }
  return started;
}

function loadFor(server) {
  return { tool: loadgen, port: server.port, cookie: server.cookie, connections: options.connections, core: pin.pins?.load };
}

/** One measured run against a running server. */
async function measure({ contender, server }, workload, round) {
  const before = await server.cpu();
  const result = await runLoad({ ...loadFor(server), duration: options.duration });
  const after = await server.cpu();
  return {
    round,
    workload,
    contender: contender.name,
    requests: result.requests,
    seconds: result.seconds,
    rps: result.rps,
    p50Ms: result.p50Ms,
    p99Ms: result.p99Ms,
    cpuUsPerReq: result.requests > 0 ? (after.micros - before.micros) / result.requests : NaN,
    failed: result.failed,
    serverErrors: after.errors - before.errors,
    firstError: after.firstError,
  };
}

try {
  const started = Date.now();
  if (doThroughput && throughputContenders.length > 1) {
    const perWorkload = throughputContenders.length * (options.warmup + 0.6 + options.rounds * (options.duration + 0.15));
    log(
      `bench: ${throughputContenders.length} contenders × ${options.workloads.length} workloads × ${options.rounds} round(s), ` +
        `${options.warmup} s warm-up per server + ${options.duration} s per run, ${options.connections} connections, ${loadgen}; ` +
        `about ${Math.ceil((perWorkload * options.workloads.length) / 60)} min`,
    );
    for (const workload of options.workloads) {
      // Every contender's server stays up for the whole workload, so a round is
      // only the measured runs, close together in time; many short rounds give
      // a steadier median on a noisy machine than a few long ones.
      const servers = await startServers(throughputContenders, workload);
      try {
        for (let round = 1; round <= options.rounds; round += 1) {
          // Rotate the order each round so no contender always runs first or last.
          const shift = (round - 1) % servers.length;
          const order = [...servers.slice(shift), ...servers.slice(0, shift)];
          for (const entry of order) {
            const { contender } = entry;
            try {
              const run = await measure(entry, workload, round);
              runs.push(run);
              log(
                `[round ${round}/${options.rounds}] ${workload.padEnd(5)} ${contender.name.padEnd(20)} ${Math.round(run.rps).toString().padStart(7)} req/s` +
                  `  p99 ${run.p99Ms.toFixed(2).padStart(6)} ms  ${Math.round(run.cpuUsPerReq).toString().padStart(4)} µs/req` +
                  (run.failed || run.serverErrors ? `  FAILED ${run.failed} (server errors ${run.serverErrors}: ${run.firstError})` : ''),
              );
            } catch (error) {
              failures.push({ round, workload, contender: contender.name, error: error.message });
              log(`[round ${round}/${options.rounds}] ${workload.padEnd(5)} ${contender.name.padEnd(20)} ERROR ${error.message}`);
            }
          }
        }
      } finally {
        for (const { server } of servers) await server.stop();
      }
    }
  } else if (doThroughput) {
    log('bench: nothing to compare bare Koa with (see the notes above)');
  }

  const writers = [];
  if (writerContenders.length > 0) {
    if (writerContenders.some((c) => c.services?.includes('postgres'))) {
      await postgresQuery(`CREATE SCHEMA IF NOT EXISTS "${pgSchema}"`);
      pgSchemaCreated = true;
    }
    const repeats = quick ? 1 : 3;
    log(`bench: concurrent writers, ${writerContenders.length} contenders × ${repeats} run(s)`);
    for (const contender of writerContenders) {
      const entry = { contender: contender.name, label: contender.label, kept: [], failed: 0, error: null };
      for (let i = 1; i <= repeats; i += 1) {
        try {
          const result = await writersOnce({ contender: contender.name, env: envFor(contender, `writers-${i}`) });
          entry.kept.push(result.kept);
          entry.failed += result.failed;
          log(`[writers ${i}/${repeats}] ${contender.name.padEnd(20)} kept ${result.kept}/50${result.failed ? `, ${result.failed} requests failed` : ''}`);
        } catch (error) {
          entry.error = `error: ${error.message}`;
          log(`[writers ${i}/${repeats}] ${contender.name.padEnd(20)} ERROR ${error.message}`);
          break;
        }
      }
      if (entry.kept.length > 0) entry.error = null;
      writers.push(entry);
    }
  }
  for (const { contender, reason } of writersLeftOut) {
    writers.push({ contender: contender.name, label: contender.label, kept: [], failed: 0, error: `not available (${reason})` });
  }

  // Report.
  const info = machine();
  const rows = summarize(runs, throughputContenders, options.workloads);
  out('');
  out(`# koa-session-store bench, ${new Date().toISOString()}`);
  out('');
  out(`Machine: ${info.cpu}, ${info.cores} cores, ${info.os}, Node ${info.node}. ${doThroughput ? `Load: ${info.loadgen}, ${options.connections} connections, ${info.pinned}.` : ''}`.trimEnd());
  out(`Command: node bench/run.mjs ${process.argv.slice(2).join(' ')}`.trimEnd());
  if (rows.length > 0) {
    out('');
    out(`## Throughput (median of ${options.rounds} round(s), ${options.duration} s per run; each server warmed up for ${options.warmup} s when it started)`);
    out('');
    out(throughputTable(rows));
    out('');
    out('## Requests/s as a fraction of bare Koa in the same round');
    out('');
    out(ratioMatrix(rows, options.workloads));
    const peers = peerMatrix(rows, options.workloads);
    if (peers) {
      out('');
      out('## Requests/s as a multiple of koa-session 7 on the same kind of store, same round');
      out('');
      out(peers);
    }
    out('');
    out(legend(throughputContenders));
  }
  if (writers.length > 0) {
    out('');
    out('## Concurrent writers: one session, 50 concurrent requests each setting its own key after 0-20 ms');
    out('');
    out(writersTable(writers));
  }
  const allNotes = [...new Set(notes)];
  if (failures.length > 0 || allNotes.length > 0) {
    out('');
    for (const note of allNotes) out(`- note: ${note}`);
    for (const f of failures) out(`- failed: round ${f.round}, ${f.workload}, ${f.contender}: ${f.error}`);
  }

  const resultsDir = path.join(ROOT, 'bench', 'results');
  mkdirSync(resultsDir, { recursive: true });
  const file = path.join(resultsDir, `${new Date().toISOString().replace(/[:.]/g, '-')}.json`);
  writeFileSync(
    file,
    `${JSON.stringify({ date: new Date().toISOString(), argv: process.argv.slice(2), options, machine: info, notes: allNotes, summary: rows, writers, runs, failures, elapsedSeconds: (Date.now() - started) / 1000 }, null, 2)}\n`,
  );
  out('');
  out(`(raw figures: ${path.relative(ROOT, file)}; ${Math.round((Date.now() - started) / 1000)} s)`);
} finally {
  await cleanup();
}
