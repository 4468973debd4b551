// Compiled with `tsc --noEmit` in CI: every line must type-check, and every
// `@ts-expect-error` line must be an error, or the build fails.
import Koa from 'koa';
import session, { MemoryStore, session as namedSession } from 'koa-session-store';
import type { SessionOptions, SessionStore } from 'koa-session-store';
import { RedisStore } from 'koa-session-store/redis';
import { SqliteStore } from 'koa-session-store/sqlite';
import { PostgresStore } from 'koa-session-store/postgres';
import { MysqlStore, mysqlTableSql } from 'koa-session-store/mysql';
import type { MysqlStoreOptions } from 'koa-session-store/mysql';
import type { Pool as MysqlPool } from 'mysql2/promise';
import { runStoreConformance } from 'koa-session-store/testing';

declare module 'koa-session-store' {
  interface SessionData {
    views: number;
    user: { id: string; name: string };
  }
}

const app = new Koa();
app.keys = ['a long random secret'];
app.use(session());
app.use(namedSession({ store: new MemoryStore({ max: 100 }), cookie: { maxAge: 86_400_000, sameSite: 'strict' }, rolling: true }));

app.use(async (ctx) => {
  const views: number | undefined = ctx.session.views;
  ctx.session.views = (views ?? 0) + 1;
  ctx.session.anythingElse = { nested: [1, 2, 3] };
  const id: string = ctx.sessionId;
  await ctx.regenerateSession();
  await ctx.saveSession();
  ctx.session = { views: 1 };
  ctx.session = null;
  ctx.body = id;

  // @ts-expect-error views is declared as a number
  ctx.session.views = 'many';
  // @ts-expect-error a session is a plain object, not a string
  ctx.session = 'asdf';
  // @ts-expect-error nor a number
  ctx.session = 42;
  // @ts-expect-error the user object needs a name
  ctx.session.user = { id: 'x' };
  // @ts-expect-error sessionId is read-only
  ctx.sessionId = 'mine';
});

const generatorStore: SessionStore = {
  *load(sid: string) {
    yield Promise.resolve(sid);
    return null;
  },
  save: (_sid, _json, _ttl) => (callback: (error: unknown) => void) => callback(null),
  remove: async () => undefined,
};
const options: SessionOptions = { store: generatorStore, ttl: 3_600_000, touchAfter: 60_000, maxLifetime: 86_400_000 };
app.use(session(options));

// @ts-expect-error unknown option
session({ nmae: 'typo' });
// @ts-expect-error maxAge is milliseconds, a number
session({ cookie: { maxAge: '1d' } });
// @ts-expect-error a store needs load, save and remove
session({ store: { load: () => null } });

void RedisStore;
void SqliteStore;
void PostgresStore;

declare const mysqlPool: MysqlPool;
const mysqlOptions: MysqlStoreOptions = { pool: mysqlPool, table: 'web_sessions', sweepInterval: 60_000 };
app.use(session({ store: new MysqlStore(mysqlOptions) }));
void mysqlTableSql(mysqlOptions.table);
// @ts-expect-error MysqlStore needs a pool
void new MysqlStore({ table: 'sessions' });
void runStoreConformance;
