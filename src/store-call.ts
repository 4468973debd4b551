import { SessionStoreError, StoreTimeoutError } from './errors.js';
import { withDeadline } from './deadline.js';
import { redactError, secretsOf } from './redact.js';
import { settle, type SessionStore, type StoreResult } from './store.js';

/** The store methods the middleware calls. */
export type StoreOperation = SessionStoreError['operation'];

type StoreMethod = (this: SessionStore, ...args: unknown[]) => StoreResult<unknown>;

/**
 * Calls `store[operation](first, second, third)` and turns any failure into a
 * {@link SessionStoreError} (a 503 that keeps the store's error as `cause`,
 * with the session id and data taken out of it: see {@link redactError}).
 *
 * A plain result (a synchronous store such as MemoryStore) is returned as it
 * is, so such a store costs no promise and no timer. A promise, thunk or
 * generator becomes a promise that fails after `timeoutMs`.
 *
 * The request path's operations are called by name, each from its own
 * branch, and the arguments become an array only when a failure or a pending
 * answer needs them for redaction: a property looked up by a changing name and
 * an `apply` over a fresh array cost several hundred instructions a call.
 * `arity` is how many of the arguments the method takes, so it receives
 * exactly those, as an `apply` of them did.
 */
export function callStore(store: SessionStore, operation: StoreOperation, timeoutMs: number, arity: 1 | 2 | 3, first: unknown, second?: unknown, third?: unknown): unknown {
  let result: unknown;
  try {
    switch (operation) {
      case 'load':
        result = store.load(first as string);
        break;
      case 'patch':
        result = (store.patch as StoreMethod).call(store, first, second, third);
        break;
      case 'save':
        result = store.save(first as string, second as string, third as number | undefined);
        break;
      case 'touch':
        result = (store.touch as StoreMethod).call(store, first, second);
        break;
      case 'remove':
        result = store.remove(first as string);
        break;
      default: {
        const method = store[operation] as StoreMethod;
        result = arity === 1 ? method.call(store, first) : arity === 2 ? method.call(store, first, second) : method.call(store, first, second, third);
      }
    }
  } catch (error) {
    throw new SessionStoreError(operation, redactError(error, secretsOf(argumentsOf(arity, first, second, third))));
  }
  if (result === null || (typeof result !== 'object' && typeof result !== 'function')) return result;
  return bounded(operation, settle(result), timeoutMs, argumentsOf(arity, first, second, third));
}

function argumentsOf(arity: 1 | 2 | 3, first: unknown, second: unknown, third: unknown): unknown[] {
  return arity === 1 ? [first] : arity === 2 ? [first, second] : [first, second, third];
}

function bounded<T>(operation: StoreOperation, pending: Promise<T>, timeoutMs: number, args: unknown[]): Promise<T> {
  const wrapped = pending.then(undefined, (error: unknown) => {
    throw new SessionStoreError(operation, redactError(error, secretsOf(args)));
  });
  return withDeadline(wrapped, timeoutMs, () => new SessionStoreError(operation, new StoreTimeoutError(operation, timeoutMs)));
}
