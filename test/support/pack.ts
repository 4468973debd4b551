// `npm pack` of this repository for the tests that install or type-check the
// published package. They never build: `npm test` builds once before any test
// runs, and a build inside a test would empty dist/ under the tests running
// beside it. Another process may still be rebuilding dist/ (a benchmark
// script), so a tarball that lacks a file of the exports map is packed again
// after a pause, for up to a minute.
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';

const ROOT = process.cwd();

/** Every file the package's `exports` map names. */
function exportTargets(value: unknown): string[] {
  if (typeof value === 'string') return [value];
  if (value === null || typeof value !== 'object') return [];
  return Object.values(value).flatMap(exportTargets);
}

/** Packs the package into `folder` and resolves to the tarball's path, once it holds every exported file. */
export async function packPackage(folder: string): Promise<string> {
  const targets = exportTargets((JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { exports: unknown }).exports).map((target) =>
    join('package', target),
  );
  for (let attempt = 1; ; attempt++) {
    const name = execFileSync('npm', ['pack', '--silent', '--pack-destination', folder], { cwd: ROOT, encoding: 'utf8' }).trim().split('\n').pop() as string;
    const tarball = join(folder, name);
    const listed = new Set(execFileSync('tar', ['tzf', tarball], { encoding: 'utf8' }).split('\n'));
    const missing = targets.filter((target) => !listed.has(target));
    if (missing.length === 0) return tarball;
    if (attempt === 20) throw new Error(`the packed package lacks ${missing.join(', ')}: run npm run build`);
    await sleep(3000);
  }
}
