// Builds the two published flavours: ES modules in dist/esm and CommonJS in dist/cjs.
// tsc alone cannot mark the CommonJS folder as such inside a "type": "module" package,
// so this script writes the nested package.json that tells Node how to load it.
import { execFileSync } from 'node:child_process';
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';

// Paths below are relative to the repository root, wherever this is run from.
process.chdir(new URL('..', import.meta.url).pathname);
const require = createRequire(import.meta.url);
const tsc = require.resolve('typescript/bin/tsc');

rmSync('dist', { recursive: true, force: true });
execFileSync(process.execPath, [tsc, '-p', 'tsconfig.build.json'], { stdio: 'inherit' });
execFileSync(process.execPath, [tsc, '-p', 'tsconfig.build.cjs.json'], { stdio: 'inherit' });
mkdirSync('dist/cjs', { recursive: true });
writeFileSync('dist/cjs/package.json', JSON.stringify({ type: 'commonjs' }) + '\n');
