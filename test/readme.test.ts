// The README's TypeScript and JavaScript blocks, as a new user would use them: against the PACKED
// package (`npm pack`, unpacked into a consumer project's node_modules), type-checked with strict
// settings as ES modules (module NodeNext, `"type": "module"`) and, unless marked esm-only, as
// CommonJS (.cts copies); blocks marked `<!-- readme-test: run NAME -->` are then started as apps
// and answered over real HTTP, with the checks below saying what the README text promises.
//
// The consumer project's other dependencies (koa, @types/koa, the drivers) are symlinks to this
// repository's node_modules, so nothing is downloaded. See scripts/readme-blocks.mjs for the markers.
import assert from 'node:assert/strict';
import { execFile, execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, renameSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { pathToFileURL } from 'node:url';
import { join, resolve } from 'node:path';
import { after, before, describe, it } from 'node:test';
// @ts-expect-error: a plain .mjs script without declarations
import { readmeBlocks } from '../scripts/readme-blocks.mjs';
import { packPackage } from './support/pack.js';
import { postgresTableSql } from '../src/stores/postgres-sql.js';

interface Block {
  line: number;
  lang: 'ts' | 'js';
  code: string;
  skip: string | undefined;
  preamble: string;
  postamble: string;
  run: string | undefined;
  esmOnly: boolean;
  cjsOnly: boolean;
}

const ROOT = resolve(import.meta.dirname, '..');
const README = readFileSync(join(ROOT, 'README.md'), 'utf8');
const blocks = (readmeBlocks as (markdown: string) => Block[])(README);
const tested = blocks.filter((block) => block.skip === undefined);

const ENV = {
  REDIS_URL: process.env.REDIS_URL ?? 'redis://127.0.0.1:6379',
  DATABASE_URL: process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test',
  MYSQL_URL: process.env.MYSQL_URL ?? 'mysql://root@127.0.0.1:3306/test',
  // The sealed-cookie example reads its key here: 32 random bytes, as its comment asks.
  SESSION_KEY: 'q3Yh0m2mJx0r1VtQ8c5kZpWb7nA4sD6fG9hJ2kL5mN8',
};

let work = '';
let app = '';

function fileOf(block: Block, kind: 'esm' | 'cjs'): string {
  if (block.lang === 'js') return `b${block.line}.${kind === 'esm' ? 'mjs' : 'cjs'}`;
  return `b${block.line}.${kind === 'esm' ? 'ts' : 'cts'}`;
}

function source(block: Block): string {
  const parts = [block.preamble, block.code, block.postamble].filter((part) => part !== '');
  // `export {}` makes every block a module, so blocks never see each other's names.
  return `${parts.join('\n')}\n${block.lang === 'ts' ? 'export {};\n' : ''}`;
}

/** `npm pack` into `work`/package (see packPackage). */
async function pack(): Promise<void> {
  const tarball = await packPackage(work);
  execFileSync('tar', ['xzf', tarball, '-C', work]);
}

/** Unpacks `npm pack`'s tarball into a fresh consumer project whose other dependencies are this repository's. */
async function makeConsumer(): Promise<void> {
  work = mkdtempSync(join(tmpdir(), 'kss-readme-'));
  await pack();
  app = join(work, 'app');
  const modules = join(app, 'node_modules');
  mkdirSync(modules, { recursive: true });
  for (const entry of readdirSync(join(ROOT, 'node_modules'))) {
    if (entry.startsWith('.') || entry === 'koa-session-store') continue;
    symlinkSync(join(ROOT, 'node_modules', entry), join(modules, entry));
  }
  renameSync(join(work, 'package'), join(modules, 'koa-session-store'));
  writeFileSync(join(app, 'package.json'), JSON.stringify({ name: 'readme-consumer', private: true, type: 'module' }));
  const compilerOptions = {
    module: 'NodeNext',
    moduleResolution: 'NodeNext',
    target: 'ES2022',
    strict: true,
    noUncheckedIndexedAccess: true,
    exactOptionalPropertyTypes: true,
    noImplicitOverride: true,
    noFallthroughCasesInSwitch: true,
    allowJs: true,
    checkJs: true,
    skipLibCheck: false,
    types: ['node'],
    outDir: 'out',
    rootDir: 'blocks',
  };
  // Two programs: one that loads both the ESM and the CommonJS declarations sees Koa's context augmented
  // twice (TS2300 on ctx.session), as any project compiling .ts and .cts files that import this package would.
  writeFileSync(join(app, 'tsconfig.json'), JSON.stringify({ compilerOptions, include: ['blocks/*.ts', 'blocks/*.mjs'] }, null, 2));
  writeFileSync(
    join(app, 'tsconfig.cjs.json'),
    // The package's declarations are checked in full by the ESM program; here only the blocks, to save time.
    JSON.stringify({ extends: './tsconfig.json', compilerOptions: { noEmit: true, skipLibCheck: true }, include: ['blocks/*.cts', 'blocks/*.cjs'] }, null, 2),
  );
  mkdirSync(join(app, 'blocks'));
  for (const block of tested) {
    if (!block.cjsOnly) writeFileSync(join(app, 'blocks', fileOf(block, 'esm')), source(block));
    if (!block.esmOnly) writeFileSync(join(app, 'blocks', fileOf(block, 'cjs')), source(block));
  }
  // The store a third-party author tests in the conformance kit's example: only its shape matters here.
  writeFileSync(
    join(app, 'blocks', 'mongo-store.ts'),
    `import type { SessionStore } from 'koa-session-store';
export class MongoStore implements SessionStore {
  static async connect(url: string | undefined): Promise<MongoStore> { void url; return new MongoStore(); }
  readonly #entries = new Map<string, string>();
  load(sid: string) { return this.#entries.get(sid); }
  save(sid: string, json: string) { this.#entries.set(sid, json); }
  remove(sid: string) { this.#entries.delete(sid); }
  async close(): Promise<void> {}
}
`,
  );
  // Started before every run block: whatever port the block listens on, it gets a free one and says which.
  writeFileSync(
    join(app, 'listen-anywhere.mjs'),
    `import net from 'node:net';
const listen = net.Server.prototype.listen;
net.Server.prototype.listen = function (...args) {
  const callback = args.find((arg) => typeof arg === 'function');
  this.once('listening', () => process.stdout.write('README_TEST_PORT=' + this.address().port + '\\n'));
  return callback ? listen.call(this, 0, '127.0.0.1', callback) : listen.call(this, 0, '127.0.0.1');
};
`,
  );
}

/** Points tsc's `blocks/b123.ts(4,5)` at the README line it came from. */
function readable(output: string): string {
  return output.replace(/blocks\/b(\d+)\.(c?ts|[cm]js)\((\d+),(\d+)\)/g, (all, line: string, ext: string, row: string) => {
    const block = tested.find((candidate) => candidate.line === Number(line))!;
    const hidden = block.preamble === '' ? 0 : block.preamble.split('\n').length;
    const readmeLine = Number(row) - hidden > 0 ? `README.md:${Number(line) + Number(row) - hidden}` : `the hidden preamble of the block at README.md:${line}`;
    return `${all} [${ext.startsWith('c') ? 'CommonJS' : 'ESM'}: ${readmeLine}]`;
  });
}

interface Running {
  base: string;
  child: ChildProcess;
  output: () => string;
}

async function start(block: Block): Promise<Running> {
  const file = join(app, 'out', fileOf(block, 'esm').replace(/\.ts$/, '.js'));
  const child = spawn(process.execPath, ['--import', './listen-anywhere.mjs', file], {
    cwd: app,
    env: { ...process.env, ...ENV, NODE_OPTIONS: '' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stderr!.on('data', (chunk: Buffer) => (output += chunk.toString()));
  const port = await new Promise<number>((resolvePort, reject) => {
    const timer = setTimeout(() => reject(new Error(`README.md:${block.line} did not listen within 10 s:\n${output}`)), 10_000);
    child.stdout!.on('data', (chunk: Buffer) => {
      output += chunk.toString();
      const match = /README_TEST_PORT=(\d+)/.exec(output);
      if (match) {
        clearTimeout(timer);
        resolvePort(Number(match[1]));
      }
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`README.md:${block.line} exited with ${code} before listening:\n${output}`));
    });
  });
  return { base: `http://127.0.0.1:${port}`, child, output: () => output };
}

/** A browser's cookie jar, enough for one site. */
class Browser {
  readonly jar = new Map<string, string>();
  constructor(readonly base: string) {}
  async fetch(path: string, init: RequestInit = {}): Promise<{ status: number; text: string; setCookie: string[] }> {
    const cookie = [...this.jar].map(([name, value]) => `${name}=${value}`).join('; ');
    const response = await fetch(this.base + path, { redirect: 'manual', ...init, headers: { ...(init.headers as Record<string, string>), ...(cookie ? { cookie } : {}) } });
    const setCookie = response.headers.getSetCookie();
    for (const line of setCookie) {
      const [pair] = line.split(';');
      const at = pair!.indexOf('=');
      const name = pair!.slice(0, at);
      const value = pair!.slice(at + 1);
      if (value === '' || /expires=Thu, 01 Jan 1970/i.test(line)) this.jar.delete(name);
      else this.jar.set(name, value);
    }
    return { status: response.status, text: await response.text(), setCookie };
  }
  form(path: string, fields: Record<string, string>, headers: Record<string, string> = {}) {
    return this.fetch(path, { method: 'POST', body: new URLSearchParams(fields).toString(), headers: { 'content-type': 'application/x-www-form-urlencoded', ...headers } });
  }
}

/** Two requests of one browser: the counter goes 1, 2; a second browser starts at 1. */
async function counts(base: string, expect: (n: number) => string): Promise<Browser> {
  const browser = new Browser(base);
  assert.equal((await browser.fetch('/')).text, expect(1));
  assert.equal((await browser.fetch('/')).text, expect(2));
  assert.equal((await new Browser(base).fetch('/')).text, expect(1));
  return browser;
}

/** What the README says each runnable block does. */
const CHECKS: Record<string, (base: string) => Promise<void>> = {
  'quick-start': async (base) => {
    const browser = await counts(base, (n) => `${n} views`);
    assert.deepEqual([...browser.jar.keys()].sort(), ['koa:sess', 'koa:sess.sig'], 'a signed cookie: the value and its .sig');
  },
  counter: async (base) => {
    await counts(base, (n) => `${n} views`);
  },
  sealed: async (base) => {
    const browser = await counts(base, (n) => `${n} views`);
    assert.deepEqual([...browser.jar.keys()], ['koa:sess'], 'one cookie, no .sig');
    assert.doesNotMatch(Buffer.from(browser.jar.get('koa:sess')!, 'base64url').toString('latin1'), /views/, 'the client reads nothing');
  },
  'login-logout': async (base) => {
    const browser = new Browser(base);
    assert.equal((await browser.fetch('/')).text, 'Hello, guest');
    const before = (await browser.fetch('/')).setCookie;
    assert.deepEqual(before, [], 'an untouched, empty session sets no cookie');
    assert.equal((await browser.form('/login', { username: 'ada', password: 'wrong' })).status, 401);
    const login = await browser.form('/login', { username: 'ada', password: 'correct horse battery staple' });
    assert.equal(login.status, 302);
    const id = browser.jar.get('sid');
    assert.ok(id, 'the login issues a session cookie');
    assert.equal((await browser.fetch('/')).text, 'Hello, ada');
    // Logging in again regenerates the id: an id from before a login is never kept (session fixation).
    await browser.form('/login', { username: 'ada', password: 'correct horse battery staple' });
    assert.notEqual(browser.jar.get('sid'), id);
    const logout = await browser.form('/logout', {});
    assert.equal(logout.status, 302);
    assert.equal(browser.jar.get('sid'), undefined, 'logout expires the cookie');
    assert.equal((await browser.fetch('/')).text, 'Hello, guest');
  },
  devices: async (base) => {
    const phone = new Browser(base);
    const laptop = new Browser(base);
    const login = { username: 'ada', password: 'correct horse battery staple' };
    await phone.form('/login', login, { 'user-agent': 'Phone/1.0' });
    await laptop.form('/login', login, { 'user-agent': 'Laptop/2.0' });
    const list = JSON.parse((await laptop.fetch('/devices')).text) as Array<{ handle: string; userAgent: string; current: boolean }>;
    assert.equal(list.length, 2);
    assert.deepEqual(list.map((entry) => [entry.userAgent, entry.current]).sort(), [['Laptop/2.0', true], ['Phone/1.0', false]]);
    const phoneHandle = list.find((entry) => !entry.current)!.handle;
    assert.match(phoneHandle, /^[A-Za-z0-9_-]{22}$/);
    assert.equal((await laptop.form(`/devices/${phoneHandle}/logout`, {})).status, 302);
    assert.deepEqual(JSON.parse((await phone.fetch('/devices')).text), [], 'the revoked phone is logged out');
    await phone.form('/login', login, { 'user-agent': 'Phone/1.0' });
    assert.equal((await laptop.form('/password', { password: 'new password' })).text, 'Password changed; other sessions logged out: 1');
    assert.deepEqual(JSON.parse((await phone.fetch('/devices')).text), []);
    assert.equal((JSON.parse((await laptop.fetch('/devices')).text) as unknown[]).length, 1);
    await phone.form('/login', login);
    assert.equal((await laptop.form('/admin/users/ada/logout', {})).text, 'ended 2 sessions');
    assert.deepEqual(JSON.parse((await laptop.fetch('/devices')).text), []);
  },
};

// About 30 s on an idle 2-core machine (tsc is most of it); the limit leaves room for a busy one.
describe('README.md examples', { timeout: 240_000 }, () => {
  before(async () => {
    const unknown = tested.filter((block) => block.run !== undefined && !(block.run in CHECKS));
    assert.deepEqual(unknown.map((block) => `README.md:${block.line} run ${block.run}`), [], 'every run block has its checks in test/readme.test.ts');
    await makeConsumer();
  });
  after(() => {
    if (process.env.README_TEST_KEEP) process.stderr.write(`README test project kept in ${app}\n`);
    else if (work !== '') rmSync(work, { recursive: true, force: true });
  });

  it('every TypeScript and JavaScript block compiles against the packed package (strict, ESM and CommonJS)', async () => {
    const tsc = join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc');
    const check = (project: string) =>
      new Promise<{ status: number | null; stdout: string; stderr: string }>((done) => {
        execFile(process.execPath, [tsc, '-p', join(app, project), '--pretty', 'false'], { cwd: app, encoding: 'utf8' }, (error, stdout, stderr) =>
          done({ status: error ? ((error as { code?: number }).code ?? 1) : 0, stdout, stderr }),
        );
      });
    const [esm, cjs] = await Promise.all([check('tsconfig.json'), check('tsconfig.cjs.json')]);
    const output = readable(esm.stdout + esm.stderr + cjs.stdout + cjs.stderr);
    assert.deepEqual([esm.status, cjs.status], [0, 0], `tsc found errors in README examples (ESM, CommonJS):\n${output}`);
  });

  // TypeScript 7 (the native preview, a devDependency) too.
  const tsgo = join(ROOT, 'node_modules', '@typescript', 'native-preview', 'bin', 'tsgo');
  it('every block also compiles with TypeScript 7 (tsgo)', async () => {
    const check = (project: string) =>
      new Promise<{ status: number; output: string }>((done) => {
        execFile(process.execPath, [tsgo, '-p', join(app, project), '--noEmit', '--pretty', 'false'], { cwd: app, encoding: 'utf8' }, (error, stdout, stderr) =>
          done({ status: error ? 1 : 0, output: stdout + stderr }),
        );
      });
    const [esm, cjs] = await Promise.all([check('tsconfig.json'), check('tsconfig.cjs.json')]);
    assert.deepEqual([esm.status, cjs.status], [0, 0], `tsgo found errors in README examples (ESM, CommonJS):\n${readable(esm.output + cjs.output)}`);
    assert.ok(tested.length >= 20, `only ${tested.length} blocks found`);
  });

  it('every link to a section (#anchor) and to a file of the repository resolves', () => {
    const outside = README.replace(/```[\s\S]*?```/g, '');
    const slugs = new Set(
      [...outside.matchAll(/^#{1,6} (.+)$/gm)].map((match) =>
        match[1]!.toLowerCase().replace(/[^\p{L}\p{N} _-]/gu, '').replace(/ /g, '-'),
      ),
    );
    const anchors = [...outside.matchAll(/\]\(#([^)]+)\)/g)].map((match) => match[1]!);
    assert.deepEqual(anchors.filter((anchor) => !slugs.has(anchor)), [], 'links to sections that do not exist');
    const files = [...outside.matchAll(/\]\((?!https?:|#)([^)#]+)\)/g)].map((match) => match[1]!);
    const exempt = new Set(['bench/results/latest.svg', 'bench/results/latest.json']); // checked by the Performance test
    assert.deepEqual(files.filter((file) => !exempt.has(file) && !existsSync(join(ROOT, file))), [], 'links to files that do not exist');
  });

  it("the postgresTableSql() block shows exactly the function's output", () => {
    const intro = README.indexOf('postgresTableSql(schema, table)');
    assert.notEqual(intro, -1);
    const block = /```sql\n([\s\S]*?)```/.exec(README.slice(intro));
    assert.equal(block?.[1], postgresTableSql());
  });

  it('the Performance section quotes the runs kept in bench/results (latest, callgrind-latest, paired-latest), with their commands, commits and dates', async () => {
    const { CALLGRIND_LATEST, LATEST, PAIRED_LATEST, performanceInReadme, performanceMarkdown } = (await import(pathToFileURL(join(ROOT, 'scripts', 'readme-performance.mjs')).href)) as {
      CALLGRIND_LATEST: string;
      LATEST: string;
      PAIRED_LATEST: string;
      performanceInReadme: (readme: string) => string | undefined;
      performanceMarkdown: (json: string, callgrindJson?: string, pairedJson?: string) => string;
    };
    assert.ok(existsSync(LATEST), `${LATEST} is missing: run npm run bench -- --latest, then node scripts/readme-performance.mjs --write`);
    assert.ok(existsSync(CALLGRIND_LATEST), `${CALLGRIND_LATEST} is missing: run node bench/callgrind.mjs --latest, then node scripts/readme-performance.mjs --write`);
    assert.ok(existsSync(PAIRED_LATEST), `${PAIRED_LATEST} is missing: run node bench/paired.mjs --latest, then node scripts/readme-performance.mjs --write`);
    assert.equal(
      performanceInReadme(README),
      performanceMarkdown(readFileSync(LATEST, 'utf8'), readFileSync(CALLGRIND_LATEST, 'utf8'), readFileSync(PAIRED_LATEST, 'utf8')),
      'run node scripts/readme-performance.mjs --write',
    );
  });

  it('the stores the README says have the user index (indexBy) are exactly those that do', async () => {
    const claim = /today\s+((?:\*\*`\w+`\*\*(?:,\s+|\s+and\s+)?)+)\s+have them/.exec(README);
    assert.ok(claim, 'README: "today **`A`** and **`B`** have them" in the section on a user\'s sessions');
    const claimed = [...claim[1]!.matchAll(/`(\w+)`/g)].map((match) => match[1]!).sort();
    const entry = (file: string) => import(pathToFileURL(join(app, 'node_modules', 'koa-session-store', 'dist', 'esm', file)).href) as Promise<Record<string, unknown>>;
    const entries = await Promise.all(['index.js', 'sqlite.js', 'redis.js', 'postgres.js', 'mysql.js'].map(entry));
    const stores = Object.assign({}, ...entries) as Record<string, { prototype: { indexSession?: unknown } }>;
    const names = ['MemoryStore', 'SqliteStore', 'RedisStore', 'PostgresStore', 'MysqlStore'];
    const indexed = names.filter((name) => typeof stores[name]!.prototype.indexSession === 'function').sort();
    assert.deepEqual(claimed, indexed);
  });

  for (const block of tested.filter((candidate) => candidate.run !== undefined)) {
    it(`README.md:${block.line} (${block.run}) does what the text says over HTTP`, async () => {
      const running = await start(block);
      try {
        await CHECKS[block.run!]!(running.base);
      } catch (error) {
        (error as Error).message += `\n--- output of the app ---\n${running.output()}`;
        throw error;
      } finally {
        running.child.kill('SIGTERM');
      }
    });
  }
});
