// Starts real redis-server processes for tests that need a server of their own:
// one they can stop, crash and restart (fault tests), pause (timeouts), or a
// Redis Cluster of 3 masters, with or without replicas. Every process listens
// on a free loopback port, keeps its files in a fresh temporary folder, and is
// stopped by pid (SIGTERM, then SIGKILL), never by name. Anything still
// running when the test process exits is killed.
import { spawn, execFile } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, mkdirSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';

const REDIS_SERVER = process.env.REDIS_SERVER_BIN ?? '/usr/bin/redis-server';
const REDIS_CLI = process.env.REDIS_CLI_BIN ?? '/usr/bin/redis-cli';
const HOST = '127.0.0.1';
const READY_TIMEOUT_MS = 15_000;
const STOP_GRACE_MS = 5_000;

/** Children still running and folders still present, for the exit-time safety net. */
const liveChildren = new Set<ChildProcess>();
const liveDirs = new Set<string>();
function killEverything(): void {
  for (const child of liveChildren) child.kill('SIGKILL');
  for (const dir of liveDirs) rmSync(dir, { recursive: true, force: true });
}
process.once('exit', killEverything);
// A test runner that times out or is interrupted signals the test process, which skips 'exit' handlers.
for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
  process.once(signal, () => {
    killEverything();
    process.kill(process.pid, signal);
  });
}

/** A port nobody listens on right now (the kernel's pick). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.unref();
    server.once('error', reject);
    server.listen(0, HOST, () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      server.close(() => (port ? resolve(port) : reject(new Error('no free port'))));
    });
  });
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** Sends one inline command over a fresh connection and resolves to the raw reply text. */
export function rawCommand(port: number, command: string, timeoutMs = 2000): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = net.connect({ host: HOST, port });
    let reply = '';
    socket.setTimeout(timeoutMs, () => {
      socket.destroy();
      reject(new Error(`redis on port ${port} did not answer ${command}`));
    });
    socket.once('error', reject);
    socket.once('connect', () => socket.write(`${command}\r\n`));
    socket.on('data', (chunk) => {
      reply += chunk.toString('utf8');
      if (isCompleteReply(reply)) {
        socket.end();
        resolve(reply);
      }
    });
  });
}

/** Enough of RESP for PING/INFO-style answers: a status, an error, an integer or one bulk string. */
function isCompleteReply(reply: string): boolean {
  const firstLineEnd = reply.indexOf('\r\n');
  if (firstLineEnd < 0) return false;
  if (reply[0] !== '$') return true;
  const length = Number(reply.slice(1, firstLineEnd));
  return length < 0 || Buffer.byteLength(reply) >= firstLineEnd + 2 + length + 2;
}

async function waitUntil(what: string, check: () => Promise<boolean>, timeoutMs = READY_TIMEOUT_MS): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      if (await check()) return;
    } catch {
      // not up yet
    }
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(50);
  }
}

function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) {
    liveChildren.delete(child);
    return Promise.resolve();
  }
  return new Promise((resolve) => {
    const timer = setTimeout(() => child.kill('SIGKILL'), STOP_GRACE_MS);
    child.once('exit', () => {
      clearTimeout(timer);
      liveChildren.delete(child);
      resolve();
    });
    child.kill('SIGTERM');
  });
}

/** Spawns redis-server and resolves once it answers PING; rejects if it exits first. */
async function spawnRedis(port: number, dir: string, args: string[]): Promise<ChildProcess> {
  const child = spawn(
    REDIS_SERVER,
    ['--port', String(port), '--bind', HOST, '--dir', dir, '--save', '', '--daemonize', 'no', '--logfile', 'redis.log', ...args],
    { stdio: 'ignore' },
  );
  liveChildren.add(child);
  let exited = false;
  child.once('exit', () => {
    exited = true;
    liveChildren.delete(child);
  });
  try {
    await waitUntil(`redis-server on port ${port}`, async () => {
      if (exited) throw new Error('exited');
      if (!(await rawCommand(port, 'PING', 500)).startsWith('+PONG')) return false;
      // Make sure the server answering is ours, not another one that had the port.
      return (await rawCommand(port, 'INFO server', 500)).includes(`process_id:${child.pid}\r\n`);
    });
  } catch (error) {
    await stopChild(child);
    throw new Error(`redis-server on port ${port} did not start (see ${path.join(dir, 'redis.log')})`, { cause: error });
  }
  if (exited) throw new Error(`redis-server on port ${port} exited at start (see ${path.join(dir, 'redis.log')})`);
  return child;
}

export interface StartRedisOptions {
  /** Start with `--appendonly yes` (fsync every second) so data survives a restart. @default false */
  appendonly?: boolean;
  /** Folder for the server's files; a fresh temporary one (removed by `stop()`) when omitted. */
  dir?: string;
  /** Port to listen on; a free one when omitted. */
  port?: number;
  /** Extra redis-server arguments, e.g. `['--maxmemory', '10mb']`. */
  args?: string[];
}

export interface RedisServer {
  readonly host: string;
  readonly port: number;
  readonly dir: string;
  /** `redis://127.0.0.1:<port>` */
  readonly url: string;
  /** The running process' pid (changes on restart); undefined while halted. */
  readonly pid: number | undefined;
  /** Stops the process (SIGTERM, SIGKILL after 5 s) but keeps its folder, so `restart()` finds its data. */
  halt(): Promise<void>;
  /**
   * Kills the process with SIGKILL, as a crash would, and waits for it to exit; keeps the folder.
   * Unlike SIGTERM, after which Redis 7 waits for its replicas to catch up, nothing is flushed.
   */
  crash(): Promise<void>;
  /** Starts the server again on the same port and folder (halting it first if it runs). */
  restart(): Promise<void>;
  /** Stops the process and removes the folder if this helper created it. Safe to call twice. */
  stop(): Promise<void>;
}

/** Starts one redis-server on loopback. Register `after(() => server.stop())` in the test. */
export async function startRedis(options: StartRedisOptions = {}): Promise<RedisServer> {
  const ownsDir = options.dir === undefined;
  const dir = options.dir ?? mkdtempSync(path.join(os.tmpdir(), 'kss-redis-'));
  if (ownsDir) liveDirs.add(dir);
  const args = ['--appendonly', options.appendonly ? 'yes' : 'no', ...(options.args ?? [])];

  let port = options.port ?? (await freePort());
  let child: ChildProcess | undefined;
  for (let attempt = 0; ; attempt++) {
    try {
      child = await spawnRedis(port, dir, args);
      break;
    } catch (error) {
      // Another process may have taken the free port between our probe and the spawn.
      if (options.port !== undefined || attempt >= 2) {
        if (ownsDir) {
          rmSync(dir, { recursive: true, force: true });
          liveDirs.delete(dir);
        }
        throw error;
      }
      port = await freePort();
    }
  }

  const server: RedisServer = {
    host: HOST,
    port,
    dir,
    url: `redis://${HOST}:${port}`,
    get pid() {
      return child?.pid;
    },
    async halt() {
      if (child) await stopChild(child);
      child = undefined;
    },
    async crash() {
      const running = child;
      child = undefined;
      if (!running || running.exitCode !== null || running.signalCode !== null) return;
      await new Promise<void>((resolve) => {
        running.once('exit', () => resolve());
        running.kill('SIGKILL');
      });
      liveChildren.delete(running);
    },
    async restart() {
      await server.halt();
      child = await spawnRedis(port, dir, args);
    },
    async stop() {
      await server.halt();
      if (ownsDir) {
        rmSync(dir, { recursive: true, force: true });
        liveDirs.delete(dir);
      }
    },
  };
  return server;
}

function run(file: string, args: string[], timeoutMs: number): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(file, args, { timeout: timeoutMs }, (error, stdout, stderr) => {
      if (error) reject(new Error(`${path.basename(file)} ${args.join(' ')} failed: ${stderr || error.message}`, { cause: error }));
      else resolve(stdout);
    });
  });
}

export interface RedisCluster {
  /** The masters as they were when the Cluster started, to hand to `new Cluster(nodes)`. */
  readonly nodes: { host: string; port: number }[];
  /** The servers themselves, masters and replicas, e.g. to halt or crash one. */
  readonly servers: RedisServer[];
  /** Stops every node and removes the folder. Safe to call twice. */
  stop(): Promise<void>;
}

export interface StartRedisClusterOptions {
  /** Replicas of each master. @default 0 */
  replicas?: number;
  /**
   * `cluster-node-timeout` in ms: how long a master may not answer before the
   * others mark it failed and its replica takes over. Short makes failover tests fast.
   * @default 15000 (Redis' own default)
   */
  nodeTimeoutMs?: number;
}

/** One line of `CLUSTER NODES`, as far as the tests need it. */
export interface ClusterNodeInfo {
  readonly id: string;
  readonly port: number;
  /** e.g. `['myself', 'master']`, `['slave']`, `['master', 'fail']`. */
  readonly flags: string[];
  /** The id of the master a replica follows; undefined for a master. */
  readonly masterId: string | undefined;
  /** Slot ranges such as `0-5460`. */
  readonly slots: string[];
}

/** The Cluster as the node on `port` sees it. */
export async function clusterNodes(port: number): Promise<ClusterNodeInfo[]> {
  const reply = await rawCommand(port, 'CLUSTER NODES');
  // A bulk string: `$<length>` on the first line, then one node per line.
  const lines = reply.split('\r\n')[1]?.split('\n') ?? [];
  return lines
    .filter((line) => line.trim() !== '')
    .map((line) => {
      const [id = '', address = '', flags = '', master = '-', , , , , ...slots] = line.trim().split(' ');
      return {
        id,
        port: Number(address.slice(address.indexOf(':') + 1, address.indexOf('@'))),
        flags: flags.split(','),
        masterId: master === '-' ? undefined : master,
        slots,
      };
    });
}

/** `INFO replication` of the server on `port`, as name → value. */
export async function replicationInfo(port: number): Promise<Map<string, string>> {
  const reply = await rawCommand(port, 'INFO replication');
  const info = new Map<string, string>();
  for (const line of reply.split('\r\n')) {
    const colon = line.indexOf(':');
    if (colon > 0) info.set(line.slice(0, colon), line.slice(colon + 1));
  }
  return info;
}

/** Sends `commands` inline over one fresh connection and resolves to their replies, which must be one line each (status, error, integer). */
function rawCommands(port: number, commands: string[], timeoutMs = 2000): Promise<string[]> {
  return new Promise((resolve, reject) => {
    const socket = net.connect({ host: HOST, port });
    let reply = '';
    socket.setTimeout(timeoutMs, () => {
      socket.destroy();
      reject(new Error(`redis on port ${port} did not answer ${commands.join('; ')}`));
    });
    socket.once('error', reject);
    socket.once('connect', () => socket.write(commands.map((command) => `${command}\r\n`).join('')));
    socket.on('data', (chunk) => {
      reply += chunk.toString('utf8');
      const lines = reply.split('\r\n');
      if (lines.length > commands.length) {
        socket.end();
        resolve(lines.slice(0, commands.length));
      }
    });
  });
}

/** A key the node on `port` owns: any key without Cluster mode, else one whose slot is among the node's. */
async function ownKey(port: number): Promise<string> {
  const nodes = await rawCommand(port, 'CLUSTER NODES');
  if (nodes.startsWith('-')) return 'kss:probe';
  const myself = nodes.split('\n').find((line) => line.split(' ')[2]?.split(',').includes('myself')) ?? '';
  const ranges = myself.trim().split(' ').slice(8).map((range) => range.split('-').map(Number));
  for (let n = 0; n < 10_000; n++) {
    const key = `kss:probe:{${n}}`;
    const slot = Number((await rawCommand(port, `CLUSTER KEYSLOT ${key}`)).slice(1));
    if (ranges.some(([from = -1, to = from]) => slot >= from && slot <= to)) return key;
  }
  throw new Error(`port ${port} owns no slot`);
}

/**
 * Writes a probe key on the master on `port` and resolves to how many
 * replicas acknowledge it within `timeoutMs` (WAIT `replicas`). A replica
 * reported in sync may still take up to a second to answer its master's
 * requests for acknowledgement, so this, not the link status, says that
 * WAIT counts it.
 */
export async function acknowledgingReplicas(port: number, replicas: number, timeoutMs = 100): Promise<number> {
  const [set = '', wait = ''] = await rawCommands(port, [`SET ${await ownKey(port)} 1`, `WAIT ${replicas} ${timeoutMs}`], timeoutMs + 2000);
  if (!set.startsWith('+OK') || !wait.startsWith(':')) throw new Error(`probe write on port ${port} failed: ${set} ${wait}`);
  return Number(wait.slice(1));
}

/** Polls `check` every 50 ms until it holds, for at most `timeoutMs`; `what` names it in the error. */
export function waitFor(what: string, check: () => Promise<boolean>, timeoutMs = 30_000): Promise<void> {
  return waitUntil(what, check, timeoutMs);
}

/**
 * Starts `masters` redis-server processes with cluster mode on, plus
 * `replicas` replicas of each, joins them with `redis-cli --cluster create`,
 * and waits until every node reports `cluster_state:ok` and every replica's
 * link to its master is up. Register `after(() => cluster.stop())`.
 */
export async function startRedisCluster(masters = 3, options: StartRedisClusterOptions = {}): Promise<RedisCluster> {
  const replicas = options.replicas ?? 0;
  const total = masters * (1 + replicas);
  const root = mkdtempSync(path.join(os.tmpdir(), 'kss-redis-cluster-'));
  liveDirs.add(root);
  const servers: RedisServer[] = [];
  const stop = async () => {
    await Promise.all(servers.map((server) => server.stop()));
    rmSync(root, { recursive: true, force: true });
    liveDirs.delete(root);
  };
  try {
    for (let n = 0; n < total; n++) {
      const dir = path.join(root, `node-${n}`);
      mkdirSync(dir);
      // The bus port defaults to port + 10000, which may be taken or above 65535: pick a free one.
      const busPort = await freePort();
      const args = ['--cluster-enabled', 'yes', '--cluster-config-file', 'nodes.conf', '--cluster-port', String(busPort)];
      if (options.nodeTimeoutMs !== undefined) args.push('--cluster-node-timeout', String(options.nodeTimeoutMs));
      // A replica (or a crashed master that comes back as one) syncs at once instead of after Redis' 5 s delay.
      if (replicas > 0) args.push('--repl-diskless-sync-delay', '0');
      servers.push(await startRedis({ dir, args }));
    }
    const addresses = servers.map((server) => `${HOST}:${server.port}`);
    await run(REDIS_CLI, ['--cluster', 'create', ...addresses, '--cluster-replicas', String(replicas), '--cluster-yes'], 60_000);
    for (const server of servers) {
      await waitUntil(`cluster_state:ok on port ${server.port}`, async () => {
        const info = await rawCommand(server.port, 'CLUSTER INFO');
        return info.includes('cluster_state:ok') && info.includes(`cluster_known_nodes:${total}`);
      }, 30_000);
    }
    if (replicas > 0) {
      // redis-cli makes the replicas follow their masters after the join: wait until every node sees them all, and each has synced.
      for (const server of servers) {
        await waitUntil(`every replica known to port ${server.port} and in sync`, async () => {
          const known = await clusterNodes(server.port);
          if (known.filter((node) => node.flags.includes('slave')).length !== masters * replicas) return false;
          const info = await replicationInfo(server.port);
          if (info.get('role') !== 'master') return info.get('master_link_status') === 'up';
          return (await acknowledgingReplicas(server.port, replicas)) === replicas;
        }, 30_000);
      }
    }
  } catch (error) {
    await stop();
    throw error;
  }
  const topology = await clusterNodes(servers[0]?.port ?? 0);
  const masterPorts = new Set(topology.filter((node) => node.flags.includes('master')).map((node) => node.port));
  return {
    nodes: servers.filter((server) => masterPorts.has(server.port)).map((server) => ({ host: HOST, port: server.port })),
    servers,
    stop,
  };
}
