import { SessionStoreError, StoreTimeoutError } from './errors.js';
import { withDeadline } from './deadline.js';
import { redactError, secretsOf } from './redact.js';
import { settle, type SessionStore, type StoreResult } from './store.js';

/** The store methods the middleware calls. */
export type StoreOperation = SessionStoreError['operation'];

/**
 * Calls `store[operation](...args)` and turns any failure into a
 * {@link SessionStoreError} (a 503 that keeps the store's error as `cause`,
 * with the session id and data taken out of it: see {@link redactError}).
 *
 * A plain result (a synchronous store such as MemoryStore) is returned as it
 * is, so such a store costs no promise and no timer. A promise, thunk or
 * generator becomes a promise that fails after `timeoutMs`.
 */
export function callStore(store: SessionStore, operation: StoreOperation, timeoutMs: number, args: unknown[]): unknown {
  let result: unknown;
  try {
    const method = store[operation] as (this: SessionStore, ...args: unknown[]) => StoreResult<unknown>;
    result = method.apply(store, args);
  } catch (error) {
    throw new SessionStoreError(operation, redactError(error, secretsOf(args)));
  }
  if (result === null || (typeof result !== 'object' && typeof result !== 'function')) return result;
  return bounded(operation, settle(result), timeoutMs, args);
}

function bounded<T>(operation: StoreOperation, pending: Promise<T>, timeoutMs: number, args: unknown[]): Promise<T> {
  const wrapped = pending.then(undefined, (error: unknown) => {
    throw new SessionStoreError(operation, redactError(error, secretsOf(args)));
  });
  return withDeadline(wrapped, timeoutMs, () => new SessionStoreError(operation, new StoreTimeoutError(operation, timeoutMs)));
}
