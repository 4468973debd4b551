import type { Context, Next } from 'koa';
import { carrierFor } from './carriers/index.js';
import { installAccessors, STATE } from './context.js';
import { SessionRequest, type MiddlewareConfig } from './lifecycle.js';
import { resolveOptions, type SessionOptions } from './options.js';
import { UserIndex, type UserSessionsApi } from './user-index.js';

/**
 * The middleware {@link session} returns; typed loosely enough for Koa 2 and Koa 3 apps alike.
 * With `indexBy`, it also lists and ends a user's sessions outside a request (an admin action, a job).
 */
export type SessionMiddleware = ((ctx: Context, next: Next) => Promise<void>) & UserSessionsApi;

/**
 * Session middleware for Koa 2 and 3.
 *
 * ```ts
 * app.keys = ['a long random secret'];
 * app.use(session());                       // data in a signed cookie
 * app.use(session({ encrypt: true }));      // data in a sealed cookie
 * app.use(session({ store: new MemoryStore() })); // data server-side, id in the cookie
 * ```
 */
export function session(options?: SessionOptions): SessionMiddleware {
  const resolved = resolveOptions(options);
  // Warnings this middleware already gave: each is logged once per middleware, not per request.
  const warned = new Set<string>();
  const carrier = carrierFor(resolved, warned);
  const userIndex =
    resolved.indexBy === undefined || resolved.store === undefined ? undefined : new UserIndex(resolved.indexBy, resolved.store, resolved.storeTimeout, carrier);
  const config: MiddlewareConfig = { ...resolved, carrier, userIndex };

  async function koaSessionStore(ctx: Context, next: Next): Promise<void> {
    installAccessors(ctx);
    const slot = ctx as { [STATE]?: SessionRequest };
    // Another session middleware above this one: once this one is done, the code between them sees that one's session again.
    const outer = slot[STATE];
    const request = new SessionRequest(ctx, config);
    slot[STATE] = request;
    try {
      const loading = request.begin();
      if (loading !== undefined) await loading;
      // When downstream throws, nothing is written (as in 2.0) and its error reaches the client untouched.
      await next();
      const writing = request.finish();
      if (writing !== undefined) await writing;
    } finally {
      // Lets go of a session held against concurrent removal (see HeldSessions).
      request.end();
      if (outer !== undefined) slot[STATE] = outer;
    }
  }
  return Object.assign(koaSessionStore, userIndex?.api() ?? withoutIndex());
}

function withoutIndex(): UserSessionsApi {
  const refuse = (): Promise<never> =>
    Promise.reject(new TypeError("koa-session-store: listSessions and revokeSessions need the indexBy option (e.g. session({ store, indexBy: 'userId' }))"));
  return { listSessions: refuse, revokeSessions: refuse };
}
