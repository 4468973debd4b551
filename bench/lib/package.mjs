// Loads this package's code from the built output (dist/esm), building it first
// when src/ is newer. Built JavaScript rather than tsx keeps a TypeScript loader
// out of the measured servers.
import { execFileSync } from 'node:child_process';
import { cpSync, existsSync, readdirSync, rmSync, statSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

export const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const SRC = path.join(ROOT, 'src');
const DIST_ESM = path.join(ROOT, 'dist', 'esm');

function newestMtime(dir) {
  let newest = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) newest = Math.max(newest, newestMtime(full));
    else if (entry.name.endsWith('.ts')) newest = Math.max(newest, statSync(full).mtimeMs);
  }
  return newest;
}

/**
 * Makes sure dist/esm is at least as new as src/. Returns a note (string) when
 * this package cannot be benchmarked, or null when dist is usable.
 */
export function ensureBuilt({ build = true } = {}) {
  if (!existsSync(path.join(SRC, 'index.ts'))) return 'src/index.ts does not exist yet';
  const distIndex = path.join(DIST_ESM, 'index.js');
  // A build elsewhere (npm test runs one) empties dist/ for a few seconds: give it up to 30 s to finish.
  for (let waited = 0; !existsSync(distIndex) && existsSync(path.dirname(DIST_ESM)) && waited < 30; waited += 1) {
    Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 1000);
  }
  const fresh = existsSync(distIndex) && statSync(distIndex).mtimeMs >= newestMtime(SRC);
  if (fresh || !build) return existsSync(distIndex) ? null : 'dist/esm/index.js is missing (run `npm run build`)';
  process.stderr.write('bench: src/ is newer than dist/, running `node scripts/build.mjs`…\n');
  try {
    execFileSync(process.execPath, [path.join(ROOT, 'scripts', 'build.mjs')], { cwd: ROOT, stdio: ['ignore', 'ignore', 'pipe'] });
    return null;
  } catch (error) {
    const detail = String(error.stderr ?? error.message).trim().split('\n').slice(0, 3).join(' | ');
    return `the build failed (${detail})`;
  }
}

/**
 * Copies dist/esm to bench/results/.dist-<pid>/esm (inside the repo, so its
 * imports still resolve node_modules) and points loadEntry there, in this
 * process and the servers it starts. A long run then measures one build
 * throughout, even if someone rebuilds dist/ (npm test does) meanwhile.
 * Returns a function that removes the copy.
 */
export function snapshotDist() {
  // Already loading a snapshot (a process started by bench/callgrind.mjs): keep it.
  if (process.env.KSBENCH_DIST !== undefined && existsSync(process.env.KSBENCH_DIST)) return () => {};
  const target = path.join(ROOT, 'bench', 'results', `.dist-${process.pid}`, 'esm');
  cpSync(DIST_ESM, target, { recursive: true });
  process.env.KSBENCH_DIST = target;
  return () => rmSync(path.dirname(target), { recursive: true, force: true });
}

const cache = new Map();

/**
 * Imports dist/esm/<entry>.js ('index', 'redis', 'sqlite', 'postgres', …).
 * Resolves to the module namespace, or to null when the file is missing or throws on import.
 */
export function loadEntry(entry) {
  if (!cache.has(entry)) {
    const file = path.join(process.env.KSBENCH_DIST ?? DIST_ESM, `${entry}.js`);
    cache.set(entry, existsSync(file) ? import(pathToFileURL(file).href).catch(() => null) : Promise.resolve(null));
  }
  return cache.get(entry);
}

/** The commit the run measured (with "+changes" when src/ differs from it), or 'unknown'. */
export function gitCommit() {
  try {
    const head = execFileSync('git', ['rev-parse', 'HEAD'], { cwd: ROOT, encoding: 'utf8' }).trim();
    const dirty = execFileSync('git', ['status', '--porcelain', '--', 'src'], { cwd: ROOT, encoding: 'utf8' }).trim() !== '';
    return dirty ? `${head}+changes in src/` : head;
  } catch {
    return 'unknown';
  }
}
