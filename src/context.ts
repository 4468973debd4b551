import type { SessionRequest } from './lifecycle.js';
import type { SessionRecord } from './payload.js';

/** Where a request's session state hangs on its Koa context. */
export const STATE: unique symbol = Symbol('koa-session-store');
const INSTALLED: unique symbol = Symbol('koa-session-store.accessors');

interface WithState {
  [STATE]?: SessionRequest;
  [INSTALLED]?: true;
}

function stateOf(ctx: WithState, member: string): SessionRequest {
  const state = ctx[STATE];
  if (state === undefined) {
    throw new Error(`koa-session-store: ctx.${member} used on a request the session middleware did not handle; app.use(session()) before the routes that use it`);
  }
  return state;
}

/**
 * Defines `session`, `sessionId`, `regenerateSession` and `saveSession` once on
 * the prototype every context of the app is made from, so a request costs no
 * per-request property definitions or closures.
 */
export function installAccessors(ctx: object): void {
  if ((ctx as WithState)[INSTALLED]) return;
  const prototype = Object.getPrototypeOf(ctx) as object;
  Object.defineProperties(prototype, {
    [INSTALLED]: { value: true },
    session: {
      configurable: true,
      get(this: WithState): SessionRecord | undefined {
        return this[STATE]?.getSession();
      },
      set(this: WithState, value: unknown) {
        stateOf(this, 'session').setSession(value);
      },
    },
    sessionId: {
      configurable: true,
      get(this: WithState): string | undefined {
        return this[STATE]?.getSessionId();
      },
    },
    regenerateSession: {
      configurable: true,
      writable: true,
      value(this: WithState): Promise<void> {
        try {
          return stateOf(this, 'regenerateSession()').regenerate();
        } catch (error) {
          return Promise.reject(error);
        }
      },
    },
    listSessions: {
      configurable: true,
      writable: true,
      value(this: WithState) {
        try {
          return stateOf(this, 'listSessions()').listSessions();
        } catch (error) {
          return Promise.reject(error);
        }
      },
    },
    revokeSession: {
      configurable: true,
      writable: true,
      value(this: WithState, handle: string) {
        try {
          return stateOf(this, 'revokeSession()').revokeSession(handle);
        } catch (error) {
          return Promise.reject(error);
        }
      },
    },
    revokeOtherSessions: {
      configurable: true,
      writable: true,
      value(this: WithState) {
        try {
          return stateOf(this, 'revokeOtherSessions()').revokeOtherSessions();
        } catch (error) {
          return Promise.reject(error);
        }
      },
    },
    saveSession: {
      configurable: true,
      writable: true,
      value(this: WithState): Promise<void> {
        try {
          return stateOf(this, 'saveSession()').commit() ?? Promise.resolve();
        } catch (error) {
          return Promise.reject(error);
        }
      },
    },
  });
}
