// The conformance kit on stores written in every style the contract allows:
// generators (the example adapter), thunks, generator functions and plain values.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { GeneratorStore } from '../../examples/generator-store.js';
import { settle } from '../../src/store.js';
import type { SessionStore, Thunk } from '../../src/store.js';
import { runStoreConformance } from '../../src/testing.js';

runStoreConformance('GeneratorStore (example adapter with generator methods and a thunk)', {
  create: () => new GeneratorStore(),
});

/** Calls back through a node-style callback once `work` settles. */
function thunkOf<T>(work: () => Promise<T>): Thunk<T> {
  return (callback) => {
    work().then(
      (value) => callback(null, value),
      (error: unknown) => callback(error),
    );
  };
}

/** The example adapter again, but every method returns a thunk. */
function thunkStore(): SessionStore {
  const inner = new GeneratorStore();
  return {
    load: (sid) => thunkOf(() => settle(inner.load(sid))),
    save: (sid, json, ttlMs) => thunkOf(() => settle(inner.save(sid, json, ttlMs))),
    remove: (sid) => thunkOf(() => settle(inner.remove(sid))),
    touch: (sid, ttlMs) => thunkOf(() => settle(inner.touch(sid, ttlMs))),
  };
}

/**
 * The example adapter again, but every method returns a generator function,
 * which co runs. (They must be `function*`: an arrow returning a generator
 * would be taken for a thunk.)
 */
function generatorFunctionStore(): SessionStore {
  const inner = new GeneratorStore();
  return {
    load: (sid) =>
      function* () {
        return yield* inner.load(sid);
      },
    save: (sid, json, ttlMs) =>
      function* () {
        yield* inner.save(sid, json, ttlMs);
      },
    remove: (sid) =>
      function* () {
        yield inner.remove(sid);
      },
    touch: (sid, ttlMs) =>
      function* () {
        yield* inner.touch(sid, ttlMs);
      },
  };
}

/** A synchronous store whose methods return plain values, with touch and an in-place patch. */
class PlainStore implements SessionStore {
  readonly #rows = new Map<string, { json: string; expiresAt: number | null }>();

  load(sid: string): string | null {
    const row = this.#rows.get(sid);
    if (!row) return null;
    if (row.expiresAt !== null && row.expiresAt <= Date.now()) {
      this.#rows.delete(sid);
      return null;
    }
    return row.json;
  }

  save(sid: string, json: string, ttlMs?: number): boolean {
    this.#rows.set(sid, { json, expiresAt: ttlMs === undefined ? null : Date.now() + ttlMs });
    return true;
  }

  remove(sid: string): boolean {
    return this.#rows.delete(sid);
  }

  touch(sid: string, ttlMs?: number): undefined {
    const json = this.load(sid);
    if (json !== null) this.save(sid, json, ttlMs);
    return undefined;
  }

  // Synchronous, so nothing can run between the read and the write: atomic in one process.
  patch(sid: string, patch: { set: Readonly<Record<string, string>>; unset: readonly string[] }, ttlMs?: number): { constructor: string } {
    const json = this.load(sid);
    if (json !== null) {
      const data = JSON.parse(json) as Record<string, unknown>;
      for (const key of patch.unset) delete data[key];
      for (const [key, value] of Object.entries(patch.set)) {
        Object.defineProperty(data, key, { value: JSON.parse(value), enumerable: true, writable: true, configurable: true });
      }
      this.save(sid, JSON.stringify(data), ttlMs);
    }
    // An object with a constructor key: settle must return it as it is, not hand it to co.
    return { constructor: 'plain' };
  }
}

runStoreConformance('a store whose methods return thunks', { create: thunkStore });
runStoreConformance('a store whose methods return generator functions', { create: generatorFunctionStore });
runStoreConformance('a store whose methods return plain values', { create: () => new PlainStore() });

describe('GeneratorStore example', () => {
  it('returns generator objects from its generator methods and a thunk from remove', () => {
    const store = new GeneratorStore();
    const loading = store.load('x');
    assert.equal(typeof loading.next, 'function');
    assert.equal(typeof loading.throw, 'function');
    const removing = store.remove('x');
    assert.equal(typeof removing, 'function');
    assert.equal(removing.length, 1, 'a thunk takes exactly one callback');
    assert.equal('patch' in store, false, 'the example shows a store without patch');
  });
});
