// Starting and stopping the bench's child processes (contender servers and the
// autocannon worker), pinned to a core with taskset when the machine allows it.
import { execFileSync, spawn } from 'node:child_process';
import os from 'node:os';
import { fileURLToPath } from 'node:url';

const SERVER = fileURLToPath(new URL('./server.mjs', import.meta.url));

/** Every child still running, so an interrupted run can stop exactly those. */
export const live = new Set();

function hasCommand(command) {
  try {
    execFileSync('sh', ['-c', `command -v ${command}`], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

/**
 * How processes are pinned: `{ server: '0', load: '1' }` with taskset on a
 * machine with at least two cores, else null and a note saying why not.
 */
export function pinning() {
  const cores = os.availableParallelism?.() ?? os.cpus().length;
  if (cores < 2) return { pins: null, note: `only ${cores} core available: server and load generator are not pinned` };
  if (!hasCommand('taskset')) return { pins: null, note: 'taskset not found (util-linux): processes are not pinned' };
  return { pins: { server: '0', load: '1' }, note: null };
}

/** spawn(), prefixed with `taskset -c <core>` when `core` is given. */
export function spawnPinned(core, command, args, options) {
  const child = core === undefined || core === null ? spawn(command, args, options) : spawn('taskset', ['-c', core, command, ...args], options);
  live.add(child);
  child.once('exit', () => live.delete(child));
  return child;
}

/** Keeps the last few KB a child wrote, to explain a failure. */
function tail(stream) {
  let text = '';
  stream?.setEncoding('utf8');
  stream?.on('data', (chunk) => {
    text = (text + chunk).slice(-4000);
  });
  return () => text.trim();
}

function nextMessage(child, type, timeoutMs, describe) {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => finish(new Error(`${describe()}: no '${type}' message within ${timeoutMs} ms`)), timeoutMs);
    const onMessage = (message) => {
      if (message.type === type) finish(null, message);
      else if (message.type === 'failed') finish(new Error(message.reason));
    };
    const onExit = (code, signal) => finish(new Error(`${describe()}: exited (${signal ?? code}) before '${type}'`));
    function finish(error, message) {
      clearTimeout(timer);
      child.off('message', onMessage);
      child.off('exit', onExit);
      if (error) reject(error);
      else resolve(message);
    }
    child.on('message', onMessage);
    child.once('exit', onExit);
  });
}

/**
 * Starts one contender server for one workload (`processEnv`: variables of its own). Resolves to
 * `{ pid, port, cookieFile, cookies, cpu(), refill(sessions), stop() }`; rejects with the server's reason when it cannot start.
 */
export async function startServer({ contender, workload, env, core, sessions = 0, processEnv = {} }) {
  const child = spawnPinned(core, process.execPath, [SERVER, JSON.stringify({ contender, workload, env, sessions })], {
    stdio: ['ignore', 'ignore', 'pipe', 'ipc'],
    // processEnv: the server's own environment on top of this one's (KSBENCH_DIST for another build).
    env: { ...process.env, ...processEnv, NODE_ENV: 'production' },
  });
  // A message sent to a server that has just exited fails asynchronously; cpu() and stop() handle it.
  child.on('error', () => {});
  const stderr = tail(child.stderr);
  const describe = () => `server ${contender}/${workload}${stderr() ? ` (stderr: ${stderr().slice(-300)})` : ''}`;
  let ready;
  try {
    ready = await nextMessage(child, 'ready', 120_000, describe);
  } catch (error) {
    child.kill('SIGKILL');
    throw error;
  }
  return {
    pid: child.pid,
    port: ready.port,
    cookieFile: ready.cookieFile,
    cookies: ready.cookies,
    async cpu() {
      if (child.exitCode !== null || child.signalCode !== null) throw new Error(`${describe()}: exited (${child.signalCode ?? child.exitCode})`);
      const answer = nextMessage(child, 'cpu', 5000, describe);
      child.send({ type: 'cpu' });
      return answer;
    },
    /** Replaces the server's cookie file with `sessions` fresh sessions (a workload that consumes them); resolves to how many, null when it has none to use up. */
    async refill(sessions) {
      if (child.exitCode !== null || child.signalCode !== null) throw new Error(`${describe()}: exited (${child.signalCode ?? child.exitCode})`);
      const answer = nextMessage(child, 'refilled', 600_000, describe);
      child.send({ type: 'refill', sessions });
      return (await answer).cookies;
    },
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      const exited = new Promise((resolve) => child.once('exit', resolve));
      const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
      try {
        child.send({ type: 'stop' });
      } catch {
        child.kill('SIGKILL');
      }
      await exited;
      clearTimeout(timer);
    },
  };
}

/** Kills (by pid, SIGKILL) every child this process started that is still running. */
export function killAll() {
  for (const child of live) child.kill('SIGKILL');
}
