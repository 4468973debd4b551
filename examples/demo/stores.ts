// Where the demo keeps its sessions, chosen by SESSION_STORE. Each driver is
// imported only when its store is picked, so `npm run demo` (the cookie store)
// needs no database and sodium-native is loaded only for `sealed`.
import { mkdirSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { MemoryStore, type SessionStore } from '../../src/index.js';

export const STORE_KINDS = ['cookie', 'sealed', 'memory', 'sqlite', 'redis', 'postgres', 'mysql'] as const;
export type StoreKind = (typeof STORE_KINDS)[number];

/** Git-ignored: the SQLite file of `SESSION_STORE=sqlite` lives here. */
export const DATA_DIR = resolve(dirname(fileURLToPath(import.meta.url)), '..', '.data');

export interface DemoStore {
  readonly kind: StoreKind;
  /** What the page and the start-up line call it, e.g. "RedisStore (redis://127.0.0.1:6379)". */
  readonly label: string;
  /** `'cookie'` for the cookie stores, else the server-side store. */
  readonly store: 'cookie' | SessionStore;
  readonly encrypt: boolean;
  /** Stops the store's timers and closes the connections the demo opened. */
  close(): Promise<void>;
}

export interface StoreSettings {
  readonly sqlitePath?: string;
  readonly redisUrl?: string;
  readonly redisPrefix?: string;
  readonly databaseUrl?: string;
  readonly postgresSchema?: string;
  readonly mysqlUrl?: string;
  /** SQL table of the sqlite, postgres and mysql stores. */
  readonly table?: string;
}

export function storeKind(value: string | undefined): StoreKind {
  const kind = value === undefined || value === '' ? 'cookie' : value;
  if (!(STORE_KINDS as readonly string[]).includes(kind)) {
    throw new TypeError(`demo: SESSION_STORE=${JSON.stringify(value)} is not one of ${STORE_KINDS.join(', ')}`);
  }
  return kind as StoreKind;
}

/** The settings `npm run demo` reads from the environment, with loopback defaults. */
export function settingsFromEnv(env: NodeJS.ProcessEnv): StoreSettings {
  return {
    sqlitePath: env.SQLITE_PATH ?? resolve(DATA_DIR, 'demo-sessions.db'),
    redisUrl: env.REDIS_URL ?? 'redis://127.0.0.1:6379',
    databaseUrl: env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test',
    mysqlUrl: env.MYSQL_URL ?? 'mysql://root@127.0.0.1:3306/test',
  };
}

/** Shown instead of a URL's password. */
function safeUrl(url: string): string {
  const parsed = new URL(url);
  if (parsed.password !== '') parsed.password = '***';
  return parsed.toString();
}

export async function openStore(kind: StoreKind, settings: StoreSettings): Promise<DemoStore> {
  const table = settings.table ?? 'demo_sessions';
  switch (kind) {
    case 'cookie':
      return { kind, label: 'signed cookie (the data in the cookie, readable, not forgeable)', store: 'cookie', encrypt: false, close: async () => {} };
    case 'sealed':
      return { kind, label: 'sealed cookie (encrypt: true, XChaCha20-Poly1305)', store: 'cookie', encrypt: true, close: async () => {} };
    case 'memory': {
      const store = new MemoryStore();
      return { kind, label: 'MemoryStore (this process only)', store, encrypt: false, close: async () => store.close() };
    }
    case 'sqlite': {
      const path = settings.sqlitePath ?? resolve(DATA_DIR, 'demo-sessions.db');
      mkdirSync(dirname(path), { recursive: true });
      const { SqliteStore } = await import('../../src/sqlite.js');
      const store = new SqliteStore({ path, table });
      return { kind, label: `SqliteStore (${path})`, store, encrypt: false, close: () => store.close() };
    }
    case 'redis': {
      const url = settings.redisUrl ?? 'redis://127.0.0.1:6379';
      const [{ Redis }, { RedisStore }] = await Promise.all([import('ioredis'), import('../../src/redis.js')]);
      // Fail fast at start-up instead of retrying forever when Redis is not there.
      const client = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 1 });
      await client.connect();
      const store = new RedisStore({ client, prefix: settings.redisPrefix ?? 'kss-demo:' });
      return {
        kind,
        label: `RedisStore (${safeUrl(url)})`,
        store,
        encrypt: false,
        close: async () => {
          await store.close();
          await client.quit();
        },
      };
    }
    case 'postgres': {
      const url = settings.databaseUrl ?? 'postgres://postgres@127.0.0.1:5432/test';
      const [{ default: pg }, { PostgresStore }] = await Promise.all([import('pg'), import('../../src/postgres.js')]);
      const pool = new pg.Pool({ connectionString: url, max: 10 });
      pool.on('error', (error) => console.error('demo: an idle PostgreSQL connection failed:', error.message));
      await (await pool.connect()).release();
      // The first call creates the schema and tables, which can take longer than the 2 s default on a busy machine.
      const schema = settings.postgresSchema === undefined ? {} : { schema: settings.postgresSchema };
      const store = new PostgresStore({ pool, table, queryTimeout: 10_000, ...schema });
      return {
        kind,
        label: `PostgresStore (${safeUrl(url)})`,
        store,
        encrypt: false,
        close: async () => {
          await store.close();
          await pool.end();
        },
      };
    }
    case 'mysql': {
      const url = settings.mysqlUrl ?? 'mysql://root@127.0.0.1:3306/test';
      const [{ default: mysql }, { MysqlStore }] = await Promise.all([import('mysql2/promise'), import('../../src/mysql.js')]);
      const pool = mysql.createPool({ uri: url, connectionLimit: 10 });
      (await pool.getConnection()).release();
      // The first call creates the tables, which can take longer than the 2 s default on a busy machine.
      const store = new MysqlStore({ pool, table, queryTimeout: 10_000 });
      return {
        kind,
        label: `MysqlStore (${safeUrl(url)})`,
        store,
        encrypt: false,
        close: async () => {
          await store.close();
          await pool.end();
        },
      };
    }
  }
}

/** Whether a store can list a user's sessions (the `indexBy` option needs all three methods). */
export function canIndex(store: 'cookie' | SessionStore): store is SessionStore {
  return store !== 'cookie' && typeof store.indexSession === 'function' && typeof store.unindexSession === 'function' && typeof store.listIndexed === 'function';
}
