// The browser suites' support: Debian's Chromium driven by playwright-core
// (never a downloaded browser), the demo app of examples/ on a loopback port
// over each store, restartable with other keys, and the stores' cleanup.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium, type Browser, type BrowserContext, type LaunchOptions } from 'playwright-core';
import { createDemoApp } from '../../examples/demo/app.js';
import { openStore, type DemoStore, type StoreKind, type StoreSettings } from '../../examples/demo/stores.js';
import type { SessionStore } from '../../src/index.js';
import { MYSQL_URL, mysqlSkip } from '../support/mysql.js';
import { DATABASE_URL, REDIS_URL, postgresSkip, redisSkip } from '../support/services.js';

export const CHROMIUM = '/usr/bin/chromium';
export const STORE_KINDS: readonly StoreKind[] = ['cookie', 'sealed', 'memory', 'sqlite', 'redis', 'postgres', 'mysql'];
export const ARTIFACTS = join(process.cwd(), 'test-artifacts');

/** A second host name for cross-site requests, resolved to 127.0.0.1 by Chromium itself. */
export const OTHER_SITE = 'other-site.test';

const ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--no-proxy-server',
  `--host-resolver-rules=MAP ${OTHER_SITE} 127.0.0.1`,
];

/** false when Chromium is there, else why the suite is skipped (outside CI only). */
export function chromiumSkip(): string | false {
  if (existsSync(CHROMIUM)) return false;
  const reason = `${CHROMIUM} is missing (apt-get install chromium)`;
  if (process.env.CI) throw new Error(`${reason}: in CI the browser suites must run, never be skipped`);
  process.stderr.write(`\n*** SKIPPING browser suites: ${reason} ***\n\n`);
  return reason;
}

const LAUNCH: LaunchOptions = { executablePath: CHROMIUM, headless: true, args: ARGS };

/** One Chromium with a fresh, temporary profile. */
export function launchBrowser(): Promise<Browser> {
  return chromium.launch(LAUNCH);
}

/** Chromium on a profile directory that outlives it, for restarts with the same profile. */
export function launchWithProfile(userDataDir: string): Promise<BrowserContext> {
  return chromium.launchPersistentContext(userDataDir, { ...LAUNCH, viewport: { width: 1200, height: 900 } });
}

/** Why a store's suite is skipped outside CI (its server is not reachable), or false. */
export async function storeSkip(kind: StoreKind): Promise<string | false> {
  if (kind === 'redis') return redisSkip();
  if (kind === 'postgres') return postgresSkip();
  if (kind === 'mysql') return mysqlSkip();
  return false;
}

/** Stores' names unique to one test run and one server, and their removal afterwards. */
export class StoreNames {
  readonly #tag = `kssdemo_${process.pid}_${Date.now().toString(36)}`;
  readonly #dir = mkdtempSync(join(tmpdir(), 'kss-demo-'));
  #count = 0;
  readonly #schemas: string[] = [];
  readonly #tables: string[] = [];

  /** Settings of one more store: its own table, schema and key prefix, so concurrent stores never race to create one. */
  next(): StoreSettings {
    const n = ++this.#count;
    const schema = `${this.#tag}_${n}`;
    const table = `${this.#tag}_${n}`;
    this.#schemas.push(schema);
    this.#tables.push(table);
    return {
      sqlitePath: join(this.#dir, `sessions-${n}.db`),
      redisUrl: REDIS_URL,
      redisPrefix: `${this.#tag}:${n}:`,
      databaseUrl: DATABASE_URL,
      postgresSchema: schema,
      mysqlUrl: MYSQL_URL,
      table,
    };
  }

  /** Drops what the run created, in the services that were used. */
  async cleanUp(used: ReadonlySet<StoreKind>): Promise<void> {
    rmSync(this.#dir, { recursive: true, force: true });
    if (used.has('redis')) {
      const { Redis } = await import('ioredis');
      const client = new Redis(REDIS_URL);
      let cursor = '0';
      do {
        const [next, keys] = await client.scan(cursor, 'MATCH', `${this.#tag}:*`, 'COUNT', 1000);
        if (keys.length > 0) await client.del(...keys);
        cursor = next;
      } while (cursor !== '0');
      await client.quit();
    }
    if (used.has('postgres')) {
      const { default: pg } = await import('pg');
      const client = new pg.Client({ connectionString: DATABASE_URL });
      await client.connect();
      for (const schema of this.#schemas) await client.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
      await client.end();
    }
    if (used.has('mysql')) {
      const { default: mysql } = await import('mysql2/promise');
      const connection = await mysql.createConnection(MYSQL_URL);
      for (const table of this.#tables) await connection.query(`DROP TABLE IF EXISTS \`${table}\``);
      await connection.end();
    }
  }
}

let tlsFiles: { key: Buffer; cert: Buffer } | undefined;

/** A self-signed certificate for 127.0.0.1, made with openssl once per process. */
export function testCertificate(): { key: Buffer; cert: Buffer } {
  if (tlsFiles !== undefined) return tlsFiles;
  const dir = mkdtempSync(join(tmpdir(), 'kss-demo-tls-'));
  execFileSync('openssl', [
    'req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-days', '1',
    '-subj', '/CN=127.0.0.1', '-addext', 'subjectAltName=IP:127.0.0.1',
    '-keyout', join(dir, 'key.pem'), '-out', join(dir, 'cert.pem'),
  ], { stdio: 'ignore' });
  tlsFiles = { key: readFileSync(join(dir, 'key.pem')), cert: readFileSync(join(dir, 'cert.pem')) };
  rmSync(dir, { recursive: true, force: true });
  return tlsFiles;
}

export interface DemoOptions {
  readonly keys?: readonly string[];
  /** ms, or null for a browser-session cookie. @default one day, the demo's */
  readonly maxAge?: number | null;
  readonly tls?: boolean;
}

/** A request the server saw: the harness records whether it carried the session cookie. */
export interface SeenRequest {
  readonly method: string;
  readonly path: string;
  readonly cookie: string;
}

/** The demo app over one store, on its own port, restartable with other keys. */
export class RunningDemo {
  readonly seen: SeenRequest[] = [];
  #server: http.Server | https.Server | undefined;
  #demo: ReturnType<typeof createDemoApp> | undefined;
  #store: DemoStore;
  #port = 0;

  private constructor(
    readonly kind: StoreKind,
    readonly settings: StoreSettings,
    store: DemoStore,
    readonly options: DemoOptions,
  ) {
    this.#store = store;
  }

  static async start(kind: StoreKind, settings: StoreSettings, options: DemoOptions = {}): Promise<RunningDemo> {
    const demo = new RunningDemo(kind, settings, await openStore(kind, settings), options);
    await demo.#listen(options.keys ?? [randomKey()]);
    return demo;
  }

  get url(): string {
    return `${this.options.tls === true ? 'https' : 'http'}://127.0.0.1:${this.#port}/`;
  }

  get port(): number {
    return this.#port;
  }

  get cookieName(): string {
    return `kss-demo-${this.#port}`;
  }

  /** The server-side store, or undefined for the cookie stores. */
  get store(): SessionStore | undefined {
    return this.#store.store === 'cookie' ? undefined : this.#store.store;
  }

  /** The stored JSON of a session, as the store returns it. */
  async load(sid: string): Promise<string | null> {
    const store = this.store;
    if (store === undefined) throw new Error('the cookie stores keep nothing on the server');
    return ((await store.load(sid)) as string | null | undefined) ?? null;
  }

  /** Stops the app and starts it again on the same port with `keys` (the store reopened, except MemoryStore which would be empty). */
  async restart(keys: readonly string[]): Promise<void> {
    await this.#stopServer();
    if (this.kind !== 'memory') {
      await this.#store.close();
      this.#store = await openStore(this.kind, this.settings);
    }
    await this.#listen(keys);
  }

  async close(): Promise<void> {
    await this.#stopServer();
    await this.#store.close();
  }

  async #listen(keys: readonly string[]): Promise<void> {
    const server = this.options.tls === true ? https.createServer(testCertificate()) : http.createServer();
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.#port, '127.0.0.1', () => resolve());
    });
    this.#port = (server.address() as AddressInfo).port;
    const demo = createDemoApp({ ...this.#store, keys, port: this.#port, maxAge: this.options.maxAge });
    // The size guard's 500 is expected in the tests; anything else is printed.
    demo.app.on('error', (error: Error & { status?: number }) => {
      if (error.status !== 500 || !/cookie would be/.test(error.message)) console.error(error);
    });
    const callback = demo.app.callback();
    server.on('request', (req: http.IncomingMessage, res: http.ServerResponse) => {
      this.seen.push({ method: req.method ?? '', path: req.url ?? '', cookie: req.headers.cookie ?? '' });
      void callback(req, res);
    });
    this.#server = server;
    this.#demo = demo;
  }

  async #stopServer(): Promise<void> {
    const server = this.#server;
    if (server === undefined) return;
    this.#server = undefined;
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
    this.#demo?.close();
  }
}

/** A page on another site (OTHER_SITE, port of its own) that posts a form to `target` as soon as it loads. */
export async function startOtherSite(): Promise<{ url(target: string): string; close(): Promise<void> }> {
  const server = http.createServer((req, res) => {
    const target = new URL(req.url ?? '/', 'http://x').searchParams.get('target') ?? '';
    res.setHeader('Content-Type', 'text/html');
    res.end(`<!doctype html><form id="f" method="post" action="${target.replace(/"/g, '&quot;')}"></form><script>document.getElementById('f').submit()</script>`);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: (target) => `http://${OTHER_SITE}:${port}/attack?target=${encodeURIComponent(target)}`,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

/** A key strong enough for sealing too: 32 random bytes in base64url. */
export function randomKey(): string {
  return Buffer.from(crypto.getRandomValues(new Uint8Array(32))).toString('base64url');
}

/** The session id a server store's cookie value carries (`<id>.<created>.<written>`), or a cookie store's payload's id. */
export function sidOfCookie(kind: StoreKind, value: string): string | undefined {
  if (kind === 'sealed') return undefined;
  if (kind === 'cookie') {
    const text = value.startsWith('[') ? decodeURIComponent(value) : Buffer.from(value, 'base64url').toString('utf8');
    return (JSON.parse(text) as [string])[0];
  }
  return value.split('.')[0];
}

export function ensureArtifacts(): string {
  mkdirSync(ARTIFACTS, { recursive: true });
  return ARTIFACTS;
}
