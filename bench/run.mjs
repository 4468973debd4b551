// npm run bench: each contender as its own server process on 127.0.0.1, driven
// by wrk (or autocannon) with bounded load, contenders alternated round by
// round, medians printed as markdown; all figures written to
// bench/results/<timestamp>.json and a chart to bench/results/<timestamp>.svg.
// By default the requests come from many users: every server first creates
// --sessions sessions and each request carries the next one's cookie. The
// login workload compares each server store without and with indexBy.
// See bench/README.md.
import { execFileSync } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { APP_KEYS_ONE, APP_KEYS_TWO, MANY_USERS, WORKLOAD_SPECS, WORKLOADS } from './lib/app.mjs';
import { chartSvg } from './lib/chart.mjs';
import { usageFailure, wholeNumber } from './lib/cli.mjs';
import { BY_NAME, CONTENDERS, unavailable } from './lib/contenders.mjs';
import { pickLoadgen, runLoad } from './lib/loadgen.mjs';
import { poolSize } from './lib/login-pool.mjs';
import { ensureBuilt, gitCommit, ROOT, snapshotDist } from './lib/package.mjs';
import { killAll, pinning, startServer } from './lib/processes.mjs';
import { indexPairs, indexPairsTable, legend, peerMatrix, ratioMatrix, summarize, targets, targetsTable, throughputTable, writersTable } from './lib/report.mjs';
import { roundOrder } from './lib/schedule.mjs';
import { cleanRedis, DATABASE_URL, postgresQuery, probeServices, REDIS_URL, runTag } from './lib/services.mjs';
import { writersOnce } from './lib/writers.mjs';

const DEFAULT_WORKLOADS = [...MANY_USERS, 'hot-read', 'shared-write', 'login'];

const HELP = `Usage: node bench/run.mjs [options]

  --quick              2 rounds of 1 s runs, workloads ${MANY_USERS.join(', ')} (many users),
                       contenders ${CONTENDERS.filter((c) => c.quick).map((c) => c.name).join(', ')};
                       no concurrent-writers figure (add --writers for it alone); about 2 minutes
  --rounds N           rounds (default 5)
  --duration S         seconds per measured run (default 2; whole seconds)
  --warmup S           seconds of warm-up load when a server starts (default 1; 0 = none)
  --connections N      concurrent connections (default 50)
  --sessions N         sessions (users) each server creates for the many-users workloads (default 10000)
  --keys 1|2           app.keys: one key (default), or two, as during a key rotation
  --only a,b           only these contenders (bare is always added to throughput runs), on every workload
                       picked; without it, login gets bare and each server store without and with indexBy
                       (the [login] set of --list), the other workloads the [throughput] set
  --workloads a,b      only these workloads (${WORKLOADS.join(', ')};
                       default ${DEFAULT_WORKLOADS.join(', ')})
  --writers            only the concurrent-writers figure
  --no-writers         skip the concurrent-writers figure
  --latest             also write bench/results/latest.json and latest.svg (the committed figures)
  --loadgen wrk|autocannon   force a load generator (default: wrk when on PATH)
  --no-build           do not rebuild dist/ when src/ is newer
  --list               list the contenders and exit

Contenders: ${CONTENDERS.map((c) => c.name).join(', ')}
Environment: REDIS_URL (default redis://127.0.0.1:6379), DATABASE_URL (default postgres://postgres@127.0.0.1:5432/test),
MYSQL_URL (default mysql://root@127.0.0.1:3306/test)`;

const fail = usageFailure('bench');
const positiveInt = (value, name, fallback, options) => wholeNumber(value, name, fallback, fail, options);

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
    sessions: { type: 'string' },
    keys: { type: 'string' },
    latest: { type: 'boolean' },
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
    const tags = ['throughput', 'writers', 'quick', 'login'].filter((t) => c[t]).join(', ');
    const floor = c.floor ? `  floor ${c.floor}` : '';
    process.stdout.write(`${c.name.padEnd(20)} ${c.label}${tags ? `  [${tags}]` : ''}${floor}${c.services ? `  needs ${c.services.join(', ')}` : ''}\n`);
  }
  process.exit(0);
}
if (argv.loadgen !== undefined && !['wrk', 'autocannon'].includes(argv.loadgen)) fail('--loadgen must be wrk or autocannon');
if (argv.keys !== undefined && !['1', '2'].includes(argv.keys)) fail('--keys must be 1 or 2');

const quick = argv.quick === true;
const options = {
  quick,
  rounds: positiveInt(argv.rounds, 'rounds', quick ? 2 : 5),
  duration: positiveInt(argv.duration, 'duration', quick ? 1 : 2),
  warmup: positiveInt(argv.warmup, 'warmup', 1, { zero: true }),
  connections: positiveInt(argv.connections, 'connections', 50),
  sessions: positiveInt(argv.sessions, 'sessions', 10_000),
  keys: argv.keys === '2' ? 2 : 1,
  workloads: argv.workloads ? list(argv.workloads, WORKLOADS, 'workload') : quick ? MANY_USERS : DEFAULT_WORKLOADS,
  only: argv.only ? list(argv.only, [...BY_NAME.keys()], 'contender') : null,
};
const doThroughput = argv.writers !== true;
const doWriters = argv.writers === true || (!quick && argv['no-writers'] !== true);

const log = (line) => process.stderr.write(`${line}\n`);
const out = (text) => process.stdout.write(`${text}\n`);

// What to run. A workload with a set of its own (login) gets that set's contenders in a
// default run; the others get the throughput set, or the quick one with --quick.
const setOf = (workload) => WORKLOAD_SPECS[workload].set ?? (quick ? 'quick' : 'throughput');
const pickThroughput = options.only
  ? ['bare', ...options.only.filter((n) => n !== 'bare')].map((n) => BY_NAME.get(n))
  : CONTENDERS.filter((c) => options.workloads.some((w) => c[setOf(w)]));
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
    redisPrefix: `${redisPrefix}${contender.name}:${label}:`,
    pgSchema,
    // One table per server: a store and its -indexed twin run side by side on login.
    sqlTable: `s_${contender.name}_${label}`.replace(/-/g, '_'),
    sqlitePath: path.join(tmpDir, `${contender.name}-${label}.db`),
    cookieFile: path.join(tmpDir, `${contender.name}-${label}.cookies`),
    appKeys: options.keys === 2 ? APP_KEYS_TWO : APP_KEYS_ONE,
  };
}
// A verified-cookie memory (2,000 entries in src/verified-cookies.ts) holding every user would measure the hot path only.
if (options.sessions <= 2000 && options.workloads.some((w) => WORKLOAD_SPECS[w].sessions === 'many')) {
  process.stderr.write(`bench: note: with --sessions ${options.sessions} every cookie fits the cookie store's memory of verified cookies (2,000)\n`);
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
// Every measured run, and every run that failed; filled in below.
const runs = [];
const failures = [];
for (const signal of ['SIGINT', 'SIGTERM']) {
  process.once(signal, () => {
    log(`\nbench: ${signal}, stopping the servers and cleaning up…`);
    // What was measured so far is kept: summarize() and the chart work on a partial file too.
    if (runs.length > 0) {
      const file = path.join(ROOT, 'bench', 'results', `${new Date().toISOString().replace(/[:.]/g, '-')}-partial.json`);
      mkdirSync(path.dirname(file), { recursive: true });
      writeFileSync(file, `${JSON.stringify({ date: new Date().toISOString(), argv: process.argv.slice(2), options, partial: signal, runs, failures }, null, 2)}\n`);
      log(`bench: runs so far in ${path.relative(ROOT, file)}`);
    }
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


/**
 * Starts one server per contender for `workload`, each warmed up once.
 * Resolves to [{ contender, server }]; a contender that fails to start is
 * recorded in `failures` for every round and left out.
 */
async function startServers(contenders, workload) {
  const started = [];
  for (const contender of contenders) {
    try {
      const server = await startServer({ contender: contender.name, workload, env: envFor(contender, workload), core: pin.pins?.server, sessions: options.sessions });
      const entry = { contender, server, fastestRps: NaN };
      started.push(entry);
      log(`[${workload}] ${contender.name.padEnd(20)} ready${server.cookies > 0 ? `, ${server.cookies.toLocaleString('en-US')} cookie(s)` : ''}`);
      if (options.warmup > 0) {
        seen(entry, await runLoad({ ...loadFor(server), duration: options.warmup }));
        // Where requests use up sessions, a second warm-up: the first ran on the pool made at
        // start, with the JIT and the store cold (SQLite logged in 2-3 times slower than a
        // round later), so its rate would size the first measured run's pool too small.
        if (WORKLOAD_SPECS[workload].consumes) {
          await refillIfConsumed(entry, workload);
          seen(entry, await runLoad({ ...loadFor(server), duration: options.warmup }));
        }
      }
    } catch (error) {
      for (let round = 1; round <= options.rounds; round += 1) failures.push({ round, workload, contender: contender.name, error: error.message });
      log(`[${workload}] ${contender.name.padEnd(20)} ERROR ${error.message}`);
    }
  }
  return started;
}

/**
 * Keeps a server's fastest rate of answered requests, which sizes its next pool of sessions
 * on a workload that consumes them. Failed requests do not count: a run that outgrew its
 * pool answered the rest with quick 409s, and they would size the next pool from them.
 */
function seen(entry, result) {
  const rate = (result.requests - result.failed) / result.seconds;
  if (!(rate <= entry.fastestRps)) entry.fastestRps = rate;
}

/**
 * Before a run on a workload whose requests end their sessions (login): a
 * fresh pool of sessions, so no cookie is used twice. Made by the server
 * between runs, so its time and CPU are not in the measurement.
 */
async function refillIfConsumed(entry, workload) {
  if (!WORKLOAD_SPECS[workload].consumes) return undefined;
  const sessions = poolSize({ fastestRps: entry.fastestRps, duration: options.duration, connections: options.connections, fallback: options.sessions });
  // null from a server without sessions (bare Koa): its cookies are never used up.
  return (await entry.server.refill(sessions)) ?? undefined;
}

function loadFor(server) {
  return { tool: loadgen, port: server.port, cookieFile: server.cookieFile, connections: options.connections, core: pin.pins?.load };
}

/**
 * The contenders measured on `workload`: without --only, those of its set. A floor is bare
 * Koa on `none`, so none runs there, nor where no floor applies (login).
 */
function contendersOf(workload) {
  const spec = WORKLOAD_SPECS[workload];
  return throughputContenders.filter(
    (c) => (options.only !== null || c[setOf(workload)]) && (c.family !== 'reference' || (spec.handler !== 'none' && spec.floors !== false)),
  );
}

let runsStarted = 0;

/** One measured run against a running server. */
async function measure(entry, workload, round) {
  const { contender, server } = entry;
  // Runs are paired with the nearest run of their floor or peer (report.mjs), told by this count.
  const seq = ++runsStarted;
  const pool = await refillIfConsumed(entry, workload);
  const before = await server.cpu();
  const result = await runLoad({ ...loadFor(server), duration: options.duration });
  const after = await server.cpu();
  seen(entry, result);
  return {
    round,
    seq,
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
    // The sessions the run could log in from (consuming workloads only).
    ...(pool === undefined ? {} : { pool }),
  };
}

try {
  const started = Date.now();
  if (doThroughput && throughputContenders.length > 1) {
    if (throughputContenders.some((c) => c.services?.includes('postgres'))) pgSchemaCreated = true;
    // A server of a workload that uses up its sessions warms up twice and makes a pool before
    // each run; making a pool took about as long as the run that uses it here.
    const serverSeconds = (w) => {
      const consumes = WORKLOAD_SPECS[w].consumes ? 1 : 0;
      return options.warmup * (1 + consumes) + 1.5 + options.rounds * (options.duration * (1 + consumes) + 0.15);
    };
    const runsPerRound = (w) => roundOrder(contendersOf(w).map((contender) => ({ contender })), w, 1).length;
    const seconds = options.workloads.reduce((sum, w) => sum + contendersOf(w).length * serverSeconds(w) + (runsPerRound(w) - contendersOf(w).length) * options.rounds * (options.duration + 0.15), 0);
    log(
      `bench: ${throughputContenders.length} contenders × ${options.workloads.length} workloads × ${options.rounds} round(s), ` +
        `${options.sessions.toLocaleString('en-US')} sessions per many-users server, ` +
        `${options.warmup} s warm-up per server + ${options.duration} s per run, ${options.connections} connections, ${loadgen}; ` +
        `about ${Math.ceil(seconds / 60)} min`,
    );
    for (const workload of options.workloads) {
      // Every contender's server stays up for the whole workload, so a round is
      // only the measured runs, close together in time; many short rounds give
      // a steadier median on a noisy machine than a few long ones.
      const servers = await startServers(contendersOf(workload), workload);
      try {
        for (let round = 1; round <= options.rounds; round += 1) {
          // Each contender next to a run of its floor and beside what it is compared with (schedule.mjs).
          for (const entry of roundOrder(servers, workload, round)) {
            const { contender } = entry;
            try {
              const run = await measure(entry, workload, round);
              runs.push(run);
              log(
                `[round ${round}/${options.rounds}] ${workload.padEnd(5)} ${contender.name.padEnd(20)} ${Math.round(run.rps).toString().padStart(7)} req/s` +
                  `  p99 ${run.p99Ms.toFixed(2).padStart(6)} ms  ${Math.round(run.cpuUsPerReq).toString().padStart(4)} µs/req` +
                  (run.pool === undefined ? '' : `  (${run.requests.toLocaleString('en-US')} of a pool of ${run.pool.toLocaleString('en-US')} sessions)`) +
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
  const date = new Date().toISOString();
  const commit = gitCommit();
  // Workloads with a set of their own (login) have their own table below, not a column in the matrices.
  const many = options.workloads.filter((w) => WORKLOAD_SPECS[w].sessions !== 'one' && WORKLOAD_SPECS[w].set === undefined);
  const hot = options.workloads.filter((w) => WORKLOAD_SPECS[w].sessions === 'one' && WORKLOAD_SPECS[w].set === undefined);
  const login = options.workloads.includes('login') ? indexPairs(runs, throughputContenders, 'login') : [];
  out('');
  out(`# koa-session-store bench, ${date}`);
  out('');
  out(`Machine: ${info.cpu}, ${info.cores} cores, ${info.os}, Node ${info.node}. ${doThroughput ? `Load: ${info.loadgen}, ${options.connections} connections, ${info.pinned}.` : ''}`.trimEnd());
  out(`Command: node bench/run.mjs ${process.argv.slice(2).join(' ')}`.trimEnd());
  out(`Commit: ${commit}. app.keys: ${options.keys} key${options.keys === 2 ? 's (a rotation under way)' : ''}.`);
  if (rows.length > 0) {
    out('');
    out(
      `## Throughput (median of ${options.rounds} round(s), ${options.duration} s per run; each server warmed up for ${options.warmup} s when it started; ` +
        `many users: ${options.sessions.toLocaleString('en-US')} sessions per server, each request the next one's cookie)`,
    );
    out('');
    out(throughputTable(rows));
    for (const [heading, workloads] of [
      ['many users', many],
      ['one user (hot cookie, shared session)', hot],
    ]) {
      if (workloads.length === 0) continue;
      out('');
      out(`## Requests/s as a fraction of bare Koa in the same round: ${heading}`);
      out('');
      out(ratioMatrix(rows, workloads));
      out('');
      out(`## Requests/s as a fraction of the contender's floor in the same round: ${heading} (on none the floor is bare Koa)`);
      out('');
      out(ratioMatrix(rows, workloads, { heading: 'contender (× its floor, same round)', pick: (r) => r.ratioToFloor, skip: ['bare', 'floor-signed', 'floor-sealed', 'floor-store'] }));
    }
    if (login.length > 0) {
      out('');
      out(
        '## Login without and with indexBy: `await ctx.regenerateSession(); ctx.session.userId = id` from an anonymous session ' +
          '(each store as it is and with `indexBy: \'userId\'`, same round; each login its user’s first)',
      );
      out('');
      out(indexPairsTable(login));
    }
    const peers = peerMatrix(rows, options.workloads);
    if (peers) {
      out('');
      out('## Requests/s as a multiple of koa-session 7 on the same kind of store, same round');
      out('');
      out(peers);
    }
    const goals = targets(runs.filter((r) => MANY_USERS.includes(r.workload)));
    if (goals.some((g) => g.met !== null)) {
      out('');
      out('## Targets (issues 11 and 14), many users');
      out('');
      out(targetsTable(goals));
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
  const stem = path.join(resultsDir, date.replace(/[:.]/g, '-'));
  const elapsedSeconds = (Date.now() - started) / 1000;
  const json = { date, commit, argv: process.argv.slice(2), options, machine: info, notes: allNotes, summary: rows, login, writers, runs, failures, elapsedSeconds };
  writeFileSync(`${stem}.json`, `${JSON.stringify(json, null, 2)}\n`);
  const written = [`${stem}.json`];
  if (rows.length > 0) {
    const panels = options.workloads.map((w) => ({ workload: w, title: WORKLOAD_SPECS[w].title }));
    const subtitle = `${date.slice(0, 16).replace('T', ' ')} UTC, commit ${commit.slice(0, 10)}, ${info.cores}-core ${info.cpu.split(' ').slice(0, 3).join(' ')}, Node ${info.node}, ${info.loadgen}, ${options.connections} connections; ${options.sessions.toLocaleString('en-US')} users per server; medians of ${options.rounds} rounds`;
    writeFileSync(`${stem}.svg`, chartSvg(rows, panels, { title: 'koa-session-store: requests/s relative to bare Koa and to each contender’s floor', subtitle }));
    written.push(`${stem}.svg`);
  }
  if (argv.latest === true) {
    // Over a copy: the loop adds to `written`.
    for (const file of [...written]) {
      const latest = path.join(resultsDir, `latest${path.extname(file)}`);
      copyFileSync(file, latest);
      written.push(latest);
    }
  }
  out('');
  out(`(raw figures and chart: ${written.map((f) => path.relative(ROOT, f)).join(', ')}; ${Math.round(elapsedSeconds)} s)`);
} finally {
  await cleanup();
}
