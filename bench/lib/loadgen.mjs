// The load generator: wrk when it is on PATH, else autocannon (a devDependency)
// in a worker process. Both report the same figures.
import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { spawnPinned } from './processes.mjs';

const WRK_SCRIPT = fileURLToPath(new URL('./wrk-report.lua', import.meta.url));
const AUTOCANNON_WORKER = fileURLToPath(new URL('./autocannon-worker.mjs', import.meta.url));

/** 'wrk' when wrk runs here, else 'autocannon'; `forced` picks one explicitly. */
export function pickLoadgen(forced) {
  if (forced === 'autocannon') return 'autocannon';
  try {
    execFileSync('wrk', ['--version'], { stdio: 'ignore' });
    return 'wrk';
  } catch (error) {
    // wrk --version exits 1 after printing its version; only a spawn failure means it is missing.
    if (error.code !== 'ENOENT') return 'wrk';
    if (forced === 'wrk') throw new Error('bench: --loadgen wrk was asked for but wrk is not on PATH (Debian: apt-get install wrk)');
    return 'autocannon';
  }
}

/**
 * Drives http://127.0.0.1:<port>/ with `connections` connections for `duration`
 * whole seconds; with `cookieFile` each request carries the file's next line
 * as its Cookie header (cycling). Resolves to { requests, seconds, rps, p50Ms, p99Ms, failed }
 * where `failed` counts socket errors, timeouts and non-2xx/3xx answers.
 */
export function runLoad({ tool, port, cookieFile, connections, duration, core }) {
  const url = `http://127.0.0.1:${port}/`;
  const [command, args] =
    tool === 'wrk'
      ? ['wrk', ['-t1', `-c${connections}`, `-d${duration}s`, '--timeout', '10s', '-s', WRK_SCRIPT, url, ...(cookieFile ? ['--', cookieFile] : [])]]
      : [process.execPath, [AUTOCANNON_WORKER, JSON.stringify({ url, connections, duration, cookieFile })]];
  return new Promise((resolve, reject) => {
    const child = spawnPinned(core, command, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.setEncoding('utf8');
    child.stderr.setEncoding('utf8');
    child.stdout.on('data', (chunk) => (out += chunk));
    child.stderr.on('data', (chunk) => (err = (err + chunk).slice(-2000)));
    child.once('error', reject);
    child.once('exit', (code) => {
      const line = out.split('\n').find((text) => text.startsWith('BENCH_JSON '));
      if (!line) {
        reject(new Error(`${tool} exited with ${code} and no result: ${(err || out).trim().slice(-500)}`));
        return;
      }
      const r = JSON.parse(line.slice('BENCH_JSON '.length));
      const seconds = r.duration_us / 1e6;
      resolve({
        requests: r.requests,
        seconds,
        rps: r.requests / seconds,
        p50Ms: r.p50_us / 1000,
        p99Ms: r.p99_us / 1000,
        failed: r.connect + r.read + r.write + r.status + r.timeout + (r.errors ?? 0),
      });
    });
  });
}
