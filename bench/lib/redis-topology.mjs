// Redis servers of the replica-wait figure's own: a master with one replica,
// or a Cluster of 3 masters with a replica each. Each redis-server listens on a
// free loopback port, keeps its files in one temporary folder, and is stopped
// by pid (SIGTERM, then SIGKILL), never by name.
import { execFile, spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';

const REDIS_SERVER = process.env.REDIS_SERVER_BIN ?? 'redis-server';
const REDIS_CLI = process.env.REDIS_CLI_BIN ?? 'redis-cli';
const HOST = '127.0.0.1';

function freePort() {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen(0, HOST, () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });
}

/** Sends one inline command and resolves to the raw reply (enough for PING, INFO and CLUSTER INFO). */
function command(port, line) {
  return new Promise((resolve, reject) => {
    const socket = net.connect({ host: HOST, port });
    let reply = '';
    socket.setTimeout(2000, () => socket.destroy(new Error(`no answer to ${line}`)));
    socket.once('error', reject);
    socket.once('connect', () => socket.write(`${line}\r\n`));
    socket.on('data', (chunk) => {
      reply += chunk;
      const end = reply.indexOf('\r\n');
      if (end < 0) return;
      const complete = reply[0] !== '$' || Buffer.byteLength(reply) >= end + 2 + Number(reply.slice(1, end)) + 2;
      if (complete) {
        socket.end();
        resolve(reply);
      }
    });
  });
}

async function until(what, check, timeoutMs = 30_000) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await check().catch(() => false)) return;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

function stopChild(child) {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
    child.once('exit', () => {
      clearTimeout(timer);
      resolve();
    });
    child.kill('SIGTERM');
  });
}

/** A group of servers sharing one temp folder; `stop()` ends them all and removes it. */
function group() {
  const root = mkdtempSync(path.join(os.tmpdir(), 'ksbench-redis-'));
  const children = [];
  return {
    async start(args) {
      const port = await freePort();
      const dir = path.join(root, String(port));
      mkdirSync(dir);
      const child = spawn(
        REDIS_SERVER,
        ['--port', String(port), '--bind', HOST, '--dir', dir, '--save', '', '--appendonly', 'no', '--repl-diskless-sync-delay', '0', ...args],
        { stdio: 'ignore' },
      );
      children.push(child);
      await until(`redis-server on port ${port}`, async () => (await command(port, 'PING')).startsWith('+PONG'));
      return port;
    },
    async stop() {
      await Promise.all(children.map(stopChild));
      rmSync(root, { recursive: true, force: true });
    },
  };
}

/** A master with one replica in sync. Resolves to `{ master: { host, port }, stop() }`. */
export async function startReplicated() {
  const servers = group();
  try {
    const port = await servers.start([]);
    const replica = await servers.start(['--replicaof', HOST, String(port)]);
    await until('the replica in sync', async () => (await command(replica, 'INFO replication')).includes('master_link_status:up'));
    return { master: { host: HOST, port }, stop: servers.stop };
  } catch (error) {
    await servers.stop();
    throw error;
  }
}

/** 3 masters with a replica each, all in sync. Resolves to `{ nodes: [{ host, port }], stop() }`. */
export async function startCluster() {
  const servers = group();
  try {
    const ports = [];
    for (let n = 0; n < 6; n += 1) {
      const bus = await freePort();
      ports.push(await servers.start(['--cluster-enabled', 'yes', '--cluster-config-file', 'nodes.conf', '--cluster-port', String(bus)]));
    }
    await new Promise((resolve, reject) =>
      execFile(REDIS_CLI, ['--cluster', 'create', ...ports.map((port) => `${HOST}:${port}`), '--cluster-replicas', '1', '--cluster-yes'], { timeout: 60_000 }, (error) =>
        error ? reject(error) : resolve(),
      ),
    );
    for (const port of ports) {
      await until(`port ${port} to see the whole Cluster`, async () => {
        const nodes = await command(port, 'CLUSTER NODES');
        const info = await command(port, 'CLUSTER INFO');
        const replication = await command(port, 'INFO replication');
        return (
          info.includes('cluster_state:ok') &&
          nodes.split('\n').filter((line) => / (myself,)?slave /.test(line)).length === 3 &&
          (replication.includes('role:master') || replication.includes('master_link_status:up'))
        );
      });
    }
    return { nodes: ports.map((port) => ({ host: HOST, port })), stop: servers.stop };
  } catch (error) {
    await servers.stop();
    throw error;
  }
}
