// Small stores over a Map, written in each style the store contract accepts,
// that count their calls so tests can prove what was (not) written.
import type { SessionStore, Thunk } from '../../src/store.js';

export type StoreStyle = 'async' | 'thunk' | 'generator' | 'plain';
export const STORE_STYLES: readonly StoreStyle[] = ['async', 'thunk', 'generator', 'plain'];

export interface CountingStore {
  readonly store: SessionStore;
  readonly map: Map<string, string>;
  readonly calls: { load: number; save: number; remove: number; touch: number };
  /** ttl passed to the latest save, by id. */
  readonly ttls: Map<string, number | undefined>;
}

export function countingStore(style: StoreStyle, options: { withTouch?: boolean } = {}): CountingStore {
  const map = new Map<string, string>();
  const ttls = new Map<string, number | undefined>();
  const calls = { load: 0, save: 0, remove: 0, touch: 0 };
  const ops = {
    load(sid: string): string | undefined {
      calls.load++;
      return map.get(sid);
    },
    save(sid: string, json: string, ttl?: number): void {
      calls.save++;
      map.set(sid, json);
      ttls.set(sid, ttl);
    },
    remove(sid: string): void {
      calls.remove++;
      map.delete(sid);
    },
    touch(sid: string, ttl?: number): void {
      calls.touch++;
      if (map.has(sid)) ttls.set(sid, ttl);
    },
  };
  let store: SessionStore;
  switch (style) {
    case 'async':
      store = {
        load: async (sid) => ops.load(sid),
        save: async (sid, json, ttl) => ops.save(sid, json, ttl),
        remove: async (sid) => ops.remove(sid),
        ...(options.withTouch ? { touch: async (sid: string, ttl?: number) => ops.touch(sid, ttl) } : {}),
      };
      break;
    case 'thunk': {
      const later =
        <T>(fn: () => T): Thunk<T> =>
        (callback) =>
          setImmediate(() => callback(null, fn()));
      store = {
        load: (sid) => later(() => ops.load(sid)),
        save: (sid, json, ttl) => later(() => ops.save(sid, json, ttl)),
        remove: (sid) => later(() => ops.remove(sid)),
        ...(options.withTouch ? { touch: (sid: string, ttl?: number) => later(() => ops.touch(sid, ttl)) } : {}),
      };
      break;
    }
    case 'generator':
      // As in 2.0's own tests: `load: function* (sid) { … }`.
      store = {
        *load(sid: string) {
          yield Promise.resolve();
          return ops.load(sid);
        },
        *save(sid: string, json: string, ttl?: number) {
          yield Promise.resolve();
          ops.save(sid, json, ttl);
        },
        *remove(sid: string) {
          yield Promise.resolve();
          ops.remove(sid);
        },
        ...(options.withTouch
          ? {
              *touch(sid: string, ttl?: number) {
                yield Promise.resolve();
                ops.touch(sid, ttl);
              },
            }
          : {}),
      } as SessionStore;
      break;
    case 'plain':
      store = {
        load: (sid) => ops.load(sid),
        save: (sid, json, ttl) => ops.save(sid, json, ttl),
        remove: (sid) => ops.remove(sid),
        ...(options.withTouch ? { touch: (sid: string, ttl?: number) => ops.touch(sid, ttl) } : {}),
      };
      break;
  }
  return { store, map, calls, ttls };
}
