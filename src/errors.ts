// Every error the middleware raises carries an HTTP status for Koa's error
// handler. Store failures are 503 and keep the store's own error as `cause`;
// programming mistakes are 500 and never expose their message to the client.

const VERBS: Record<SessionStoreError['operation'], string> = {
  load: 'load the session',
  save: 'save the session',
  patch: 'patch the session',
  remove: 'remove the session',
  touch: 'touch the session',
  indexSession: "add the session to its user's index",
  unindexSession: "remove the session from its user's index",
  listIndexed: "list a user's sessions",
};

/** Raised when the session store fails, rejects or does not answer in time; Koa answers 503. */
export class SessionStoreError extends Error {
  /** HTTP status Koa sends: 503 Service Unavailable. */
  readonly status = 503;
  /** The message is safe to show: it names no data, only what failed. */
  readonly expose = true;
  /** The store operation that failed. */
  readonly operation: 'load' | 'save' | 'patch' | 'remove' | 'touch' | 'indexSession' | 'unindexSession' | 'listIndexed';

  constructor(operation: SessionStoreError['operation'], cause: unknown) {
    const nothingSaved = operation === 'load' || operation === 'listIndexed' ? 'the session could not be read' : 'nothing was saved';
    super(`koa-session-store: the session store failed to ${VERBS[operation]}; ${nothingSaved}. Try again later.`, {
      cause,
    });
    this.name = 'SessionStoreError';
    this.operation = operation;
  }
}

/** A misuse the application must fix (missing app.keys, bad session value, oversized cookie); Koa answers 500. */
export class SessionUsageError extends Error {
  /** HTTP status Koa sends: 500; the message stays in the logs, not in the response. */
  readonly status = 500;
  readonly expose = false;

  constructor(message: string) {
    super(`koa-session-store: ${message}`);
    this.name = 'SessionUsageError';
  }
}

/** Raised by a store call that took longer than `storeTimeout`. */
export class StoreTimeoutError extends Error {
  constructor(operation: string, timeoutMs: number) {
    super(`koa-session-store: store.${operation}() did not answer within ${timeoutMs} ms (option storeTimeout)`);
    this.name = 'StoreTimeoutError';
  }
}
