// The package's own name: see Session below.
import type { SessionData as AugmentedSessionData } from 'koa-session-store';
import type { UserSession } from './user-index.js';

/**
 * The shape of your session data. Empty here; describe your own keys by
 * augmenting it, the way express-session users do:
 *
 * ```ts
 * declare module 'koa-session-store' {
 *   interface SessionData { views: number; userId: string }
 * }
 * ```
 */
// eslint-disable-next-line @typescript-eslint/no-empty-interface, @typescript-eslint/no-empty-object-type
export interface SessionData {}

/**
 * What `ctx.session` holds: your declared keys (all optional, since a new
 * session is empty) and any other JSON value.
 *
 * The keys come from `SessionData` as the package's own name resolves where
 * the declarations are used: the ES module declarations from an `import`,
 * the CommonJS ones (whose `export =` namespace has its own `SessionData`)
 * from a `require`. So `declare module 'koa-session-store'` in either kind of
 * file augments the interface that `ctx.session` reads.
 */
export type Session = Partial<AugmentedSessionData> & Record<string, unknown>;

declare module 'koa' {
  interface ExtendableContext {
    /** The session: a plain object, saved at the end of the request when it changed. Assign `null` to delete it. */
    get session(): Session;
    set session(value: Session | null);
    /** The current session's id (a new session gets its id on first use). */
    readonly sessionId: string;
    /** New id, same data; removes the old entry. Call it on login and on any privilege change (session fixation). */
    regenerateSession(): Promise<void>;
    /** Persists the session now (before streaming a body); the end of the request then writes only what changed after. */
    saveSession(): Promise<void>;
    /** With `indexBy`: the current user's live sessions, most recently active first ([] when the session names no user). */
    listSessions(): Promise<UserSession[]>;
    /** With `indexBy`: ends one of the current user's sessions by its handle; false when the handle names none of them. */
    revokeSession(handle: string): Promise<boolean>;
    /** With `indexBy`: ends all of the current user's sessions but this one ("log out other devices"); resolves to how many. */
    revokeOtherSessions(): Promise<number>;
  }
}
