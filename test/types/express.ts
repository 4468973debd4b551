// fromExpressStore takes the express-session stores users already have, typed as
// their packages type them (SessionData augmented by the app included), and its
// own declarations do not need @types/express-session.
import Koa from 'koa';
import session, { fromExpressStore } from 'koa-session-store';
import type { ExpressSessionStore, ExpressStoreOptions, SessionStore } from 'koa-session-store';
import { RedisStore } from 'connect-redis';
import connectPgSimple from 'connect-pg-simple';
import expressSession from 'express-session';
import { Redis } from 'ioredis';

declare module 'express-session' {
  interface SessionData {
    userId: string;
    views?: number;
  }
}

const app = new Koa();
app.use(session({ store: fromExpressStore(new RedisStore({ client: new Redis(), prefix: 'sess:' })) }));
const PGStore = connectPgSimple(expressSession);
const pgStore: SessionStore = fromExpressStore(new PGStore({ tableName: 'session' }), { touch: false });
const memory: ExpressSessionStore = new expressSession.MemoryStore();
const options: ExpressStoreOptions = { touch: true };
void pgStore;
void fromExpressStore(memory, options);

// A store written by hand, the old way.
fromExpressStore({
  get(sid, callback) {
    callback(null, sid === 'known' ? { cookie: { originalMaxAge: null, expires: null } } : null);
  },
  set(_sid, sessionObject, callback) {
    const expires: Date | null | undefined = sessionObject.cookie.expires;
    void expires;
    callback?.();
  },
  destroy(_sid, callback) {
    callback?.();
  },
});

// @ts-expect-error an express-session store must be wrapped
app.use(session({ store: new expressSession.MemoryStore() }));
// @ts-expect-error get, set and destroy are needed
fromExpressStore({ get() {}, set() {} });
// @ts-expect-error touch is a boolean
fromExpressStore(memory, { touch: 'yes' });
