// Starts real redis-server processes for tests that need a server of their own:
// one they can stop and restart (fault tests), pause (timeouts), or a 3-master
// Redis Cluster. Every process listens on a free loopback port, keeps its files
// in a fresh temporary folder, and is stopped by pid (SIGTERM, then SIGKILL),
// never by name. Anything still running when the test process exits is killed.
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
  /** The masters, to hand to `new Cluster(nodes)`. */
  readonly nodes: { host: string; port: number }[];
  /** The servers themselves, e.g. to halt one. */
  readonly servers: RedisServer[];
  /** Stops every node and removes the folder. Safe to call twice. */
  stop(): Promise<void>;
}

/**
 * Starts `masters` redis-server processes with cluster mode on, joins them
 * with `redis-cli --cluster create` (no replicas) and waits until every node
 * reports `cluster_state:ok`. Register `after(() => cluster.stop())`.
 */
export async function startRedisCluster(masters = 3): Promise<RedisCluster> {
  const root = mkdtempSync(path.join(os.tmpdir(), 'kss-redis-cluster-'));
  liveDirs.add(root);
  const servers: RedisServer[] = [];
  const stop = async () => {
    await Promise.all(servers.map((server) => server.stop()));
    rmSync(root, { recursive: true, force: true });
    liveDirs.delete(root);
  };
  try {
    for (let n = 0; n < masters; n++) {
      const dir = path.join(root, `node-${n}`);
      mkdirSync(dir);
      // The bus port defaults to port + 10000, which may be taken or above 65535: pick a free one.
      const busPort = await freePort();
      servers.push(
        await startRedis({
          dir,
          args: ['--cluster-enabled', 'yes', '--cluster-config-file', 'nodes.conf', '--cluster-port', String(busPort)],
        }),
      );
    }
    const addresses = servers.map((server) => `${HOST}:${server.port}`);
    await run(REDIS_CLI, ['--cluster', 'create', ...addresses, '--cluster-replicas', '0', '--cluster-yes'], 60_000);
    for (const server of servers) {
      await waitUntil(`cluster_state:ok on port ${server.port}`, async () => {
        const info = await rawCommand(server.port, 'CLUSTER INFO');
        return info.includes('cluster_state:ok') && info.includes(`cluster_known_nodes:${masters}`);
      }, 30_000);
    }
  } catch (error) {
    await stop();
    throw error;
  }
  return { nodes: servers.map((server) => ({ host: HOST, port: server.port })), servers, stop };
}
