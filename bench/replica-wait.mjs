// node bench/replica-wait.mjs: what RedisStore's waitForReplicas option costs
// (issue 10). Session writes over HTTP, with the option off and on
// ({ replicas: 1 }), on Redis servers of this script's own: a master with one
// replica (ioredis single-node client, which batches the commands of one
// event-loop turn) and a Cluster of 3 masters with a replica each (ioredis
// Cluster). Each configuration is its own server process (pinned to CPU 0 when
// possible); the load is N keep-alive connections from this process, each with
// its own session, each sending its next request as soon as the last is
// answered, so every request is one session write. Off and on alternate round
// by round; the medians over rounds are printed as markdown. See bench/README.md.
import { once } from 'node:events';
import http from 'node:http';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { ensureBuilt, snapshotDist } from './lib/package.mjs';
import { killAll, pinning, spawnPinned } from './lib/processes.mjs';
import { startCluster, startReplicated } from './lib/redis-topology.mjs';

const SERVER = fileURLToPath(new URL('./lib/replica-wait-server.mjs', import.meta.url));

const HELP = `Usage: node bench/replica-wait.mjs [options]

  --rounds N           rounds; each measures off and on once (default 5)
  --duration S         seconds per measured run (default 3)
  --connections a,b    concurrent connections, one session each (default 1,50)
  --topology a,b       single (master + replica), cluster (3 masters + 3 replicas) (default both)
  --no-build           do not rebuild dist/ when src/ is newer`;

const { values: flags } = parseArgs({
  options: {
    rounds: { type: 'string', default: '5' },
    duration: { type: 'string', default: '3' },
    connections: { type: 'string', default: '1,50' },
    topology: { type: 'string', default: 'single,cluster' },
    'no-build': { type: 'boolean', default: false },
    help: { type: 'boolean', default: false },
  },
});
if (flags.help) {
  process.stdout.write(`${HELP}\n`);
  process.exit(0);
}
const rounds = Number(flags.rounds);
const durationMs = Number(flags.duration) * 1000;
const connectionCounts = flags.connections.split(',').map(Number);
const topologies = flags.topology.split(',');

/** Starts one server; resolves to `{ port, stop() }`. */
async function startServer(config, core) {
  const child = spawnPinned(core, process.execPath, [SERVER, JSON.stringify(config)], {
    stdio: ['ignore', 'ignore', 'inherit', 'ipc'],
    env: { ...process.env, NODE_ENV: 'production' },
  });
  const [message] = await once(child, 'message');
  if (message.type !== 'ready') throw new Error(`server ${JSON.stringify(config)} failed: ${message.reason}`);
  return {
    port: message.port,
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      const exited = once(child, 'exit');
      child.send({ type: 'stop' });
      await exited;
    },
  };
}

function request(agent, port, cookie) {
  return new Promise((resolve, reject) => {
    const req = http.get({ host: '127.0.0.1', port, path: '/', agent, headers: cookie ? { cookie } : {} }, (response) => {
      response.resume();
      response.on('end', () => {
        const set = response.headers['set-cookie'] ?? [];
        resolve({ status: response.statusCode, cookie: set.length > 0 ? set.map((header) => header.split(';')[0]).join('; ') : cookie });
      });
    });
    req.on('error', reject);
  });
}

/** `connections` closed loops for `ms`; resolves to `{ p50, p99, rps, failed }` (latencies in ms). */
async function measure(port, connections, ms) {
  const agent = new http.Agent({ keepAlive: true, maxSockets: connections });
  const latencies = [];
  let failed = 0;
  const cookies = await Promise.all(Array.from({ length: connections }, async () => (await request(agent, port, '')).cookie));
  const start = performance.now();
  const end = start + ms;
  await Promise.all(
    cookies.map(async (cookie) => {
      let current = cookie;
      while (performance.now() < end) {
        const sent = performance.now();
        const answer = await request(agent, port, current);
        latencies.push(performance.now() - sent);
        if (answer.status !== 200) failed += 1;
        current = answer.cookie;
      }
    }),
  );
  const elapsed = performance.now() - start;
  agent.destroy();
  latencies.sort((a, b) => a - b);
  const at = (q) => latencies[Math.min(latencies.length - 1, Math.floor(q * latencies.length))] ?? NaN;
  return { p50: at(0.5), p99: at(0.99), rps: (latencies.length / elapsed) * 1000, failed };
}

const median = (values) => {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
};

async function main() {
  const note = ensureBuilt({ build: !flags['no-build'] });
  if (note) throw new Error(note);
  // The servers load a copy, so a rebuild meanwhile (npm test does one) cannot change what is measured.
  const removeSnapshot = snapshotDist();
  const { pins, note: pinNote } = pinning();
  const rows = [];
  try {
    await measureAll(pins, rows);
  } finally {
    removeSnapshot();
  }
  print(rows, pinNote);
}

async function measureAll(pins, rows) {
  for (const topology of topologies) {
    process.stderr.write(`replica-wait: starting ${topology === 'cluster' ? 'a Cluster of 3 masters + 3 replicas' : 'a master with one replica'}…\n`);
    const redis = topology === 'cluster' ? await startCluster() : await startReplicated();
    const nodes = topology === 'cluster' ? redis.nodes : [redis.master];
    const servers = {};
    try {
      for (const wait of [false, true]) servers[wait ? 'on' : 'off'] = await startServer({ topology, nodes, wait }, pins?.server);
      for (const connections of connectionCounts) {
        const runs = { off: [], on: [] };
        // Warm-up: JIT, connections, the patch script on every node.
        for (const name of ['off', 'on']) await measure(servers[name].port, connections, 1000);
        for (let round = 0; round < rounds; round += 1) {
          for (const name of round % 2 === 0 ? ['off', 'on'] : ['on', 'off']) {
            const run = await measure(servers[name].port, connections, durationMs);
            runs[name].push(run);
            process.stderr.write(
              `  ${topology} c=${connections} round ${round + 1} ${name}: p50 ${run.p50.toFixed(3)} ms, p99 ${run.p99.toFixed(3)} ms, ${run.rps.toFixed(0)} req/s${run.failed ? `, ${run.failed} failed` : ''}\n`,
            );
          }
        }
        for (const name of ['off', 'on']) {
          rows.push({
            topology,
            connections,
            wait: name,
            p50: median(runs[name].map((run) => run.p50)),
            p99: median(runs[name].map((run) => run.p99)),
            rps: median(runs[name].map((run) => run.rps)),
            failed: runs[name].reduce((sum, run) => sum + run.failed, 0),
          });
        }
      }
    } finally {
      await Promise.all(Object.values(servers).map((server) => server.stop()));
      await redis.stop();
    }
  }
}

function print(rows, pinNote) {
  const out = [
    `# waitForReplicas: { replicas: 1 } latency (session writes over HTTP)`,
    '',
    `${rounds} rounds × ${durationMs / 1000} s per configuration; medians over rounds. Node ${process.version}. ${pinNote ?? 'Server pinned to CPU 0; load and Redis unpinned.'}`,
    '',
    '| topology | connections | waitForReplicas | p50 ms | p99 ms | req/s | failed |',
    '|---|---:|---|---:|---:|---:|---:|',
    ...rows.map(
      (row) =>
        `| ${row.topology === 'cluster' ? '3+3 Cluster' : 'master + 1 replica'} | ${row.connections} | ${row.wait === 'on' ? '{ replicas: 1 }' : 'off'} | ${row.p50.toFixed(3)} | ${row.p99.toFixed(3)} | ${row.rps.toFixed(0)} | ${row.failed} |`,
    ),
  ];
  process.stdout.write(`${out.join('\n')}\n`);
}

main().catch((error) => {
  killAll();
  process.stderr.write(`replica-wait: ${error?.stack ?? error}\n`);
  process.exit(1);
});
