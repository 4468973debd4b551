// Runs every test file under test/ on node's built-in runner (TypeScript through tsx): the
// browser suites last and alone, the rest two files at a time; each run prints the runner's
// closing summary. Exits non-zero when any test fails.
import { spawnSync } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';

function collect(dir) {
  const files = [];
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) files.push(...collect(path));
    else if (/\.test\.(ts|mts|cjs|mjs)$/.test(entry.name)) files.push(path);
  }
  return files.sort();
}

/** Runs `files` on node's test runner, `concurrency` files at a time; true when all pass. */
function run(files, concurrency) {
  if (files.length === 0) return true;
  const result = spawnSync(
    process.execPath,
    ['--import', 'tsx', '--test', '--test-reporter=spec', `--test-concurrency=${concurrency}`, ...files],
    { stdio: 'inherit' },
  );
  return result.status === 0;
}

const only = process.argv.slice(2);
const files = only.length > 0 ? only : collect('test');
// The browser suites run after the others, alone: Chromium beside two test files on a 2-core machine
// starved them long enough for a 2 s store timeout to fire on a request that was only waiting for CPU.
const isBrowser = (file) => file.split(/[\\/]/).includes('browser');
const passed = [run(files.filter((file) => !isBrowser(file)), 2), run(files.filter(isBrowser), 1)];
process.exit(passed.every(Boolean) ? 0 : 1);
