// Runs every test file under test/ on node's built-in runner (TypeScript through tsx)
// and prints the runner's closing summary. Exits non-zero when any test fails.
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

const only = process.argv.slice(2);
const files = only.length > 0 ? only : collect('test');
const result = spawnSync(
  process.execPath,
  ['--import', 'tsx', '--test', '--test-reporter=spec', '--test-concurrency=3', ...files],
  { stdio: 'inherit' },
);
process.exit(result.status ?? 1);
