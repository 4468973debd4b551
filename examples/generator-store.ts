/**
 * An example for adapter authors: a third-party-style store written the way the
 * original koa-session-store README shows, with generator methods
 * (`*load(sid) { … }`) and one thunk-returning method (`remove`). The
 * middleware and the conformance kit accept both styles, as well as Promises
 * and plain values, so an adapter written for koa-session-store 2.0 keeps
 * working; a new adapter may just as well use `async` methods.
 *
 * The "database" here is an in-memory Map behind a small asynchronous client,
 * standing in for a real driver (Mongo, DynamoDB, …). The store honours
 * `ttlMs` by keeping an expiry time next to each session, and has `touch`. It
 * has no `patch`, so it also shows that a store without it works (the
 * middleware then saves whole sessions).
 *
 * Check your own adapter the same way `test/stores/generator-store.test.ts` checks this one:
 *
 * ```ts
 * import { runStoreConformance } from 'koa-session-store/testing';
 * runStoreConformance('GeneratorStore', { create: () => new GeneratorStore() });
 * ```
 */
import type { SessionStore, Thunk } from '../src/store.js';

interface Row {
  json: string;
  /** Ms since the epoch after which the row is gone; null: never. */
  expiresAt: number | null;
}

/** Stands in for a database client whose calls answer asynchronously. */
class FakeClient {
  readonly #rows = new Map<string, Row>();

  get(key: string): Promise<Row | undefined> {
    return later(() => this.#rows.get(key));
  }

  put(key: string, row: Row): Promise<void> {
    return later(() => void this.#rows.set(key, row));
  }

  delete(key: string, callback: (error: Error | null) => void): void {
    setImmediate(() => {
      this.#rows.delete(key);
      callback(null);
    });
  }
}

function later<T>(work: () => T): Promise<T> {
  return new Promise((resolve) => setImmediate(() => resolve(work())));
}

function expiryOf(ttlMs: number | undefined): number | null {
  // ttlMs is undefined when the session has no expiry: keep it until it is removed.
  return ttlMs === undefined ? null : Date.now() + ttlMs;
}

function isLive(row: Row | undefined): row is Row {
  return row !== undefined && (row.expiresAt === null || row.expiresAt > Date.now());
}

export class GeneratorStore implements SessionStore {
  readonly #client = new FakeClient();

  /** Yields the saved JSON string, or undefined when there is none or it expired. */
  *load(sid: string): Generator<unknown, string | undefined, unknown> {
    const row = (yield this.#client.get(sid)) as Row | undefined;
    if (!isLive(row)) return undefined;
    return row.json;
  }

  /** Stores exactly `json`, untouched: the middleware gives it `JSON.stringify`'s output. */
  *save(sid: string, json: string, ttlMs?: number): Generator<unknown, void, unknown> {
    yield this.#client.put(sid, { json, expiresAt: expiryOf(ttlMs) });
  }

  /** A thunk, as 2.0-era adapters often returned: called with a node-style callback. */
  remove(sid: string): Thunk<void> {
    return (callback) => this.#client.delete(sid, (error) => callback(error));
  }

  /** Moves the expiry to `ttlMs` from now; a missing or expired session stays missing. */
  *touch(sid: string, ttlMs?: number): Generator<unknown, void, unknown> {
    const row = (yield this.#client.get(sid)) as Row | undefined;
    if (!isLive(row)) return;
    // A real adapter does this as one conditional update in its database, so
    // that a remove landing between the two calls cannot be undone.
    yield this.#client.put(sid, { json: row.json, expiresAt: expiryOf(ttlMs) });
  }
}
