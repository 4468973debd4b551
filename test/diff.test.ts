// The change a store's patch receives: exactly the top-level keys that differ.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { diffSessions, jsonOf, unchangedPrimitives } from '../src/diff.js';

function diff(loaded: string, change: (data: Record<string, unknown>) => void) {
  const data = JSON.parse(loaded) as Record<string, unknown>;
  const snapshot = { ...data };
  change(data);
  const patch = diffSessions(snapshot, loaded, data);
  return patch === undefined ? undefined : { set: { ...patch.set }, unset: [...patch.unset] };
}

describe('diffSessions', () => {
  it('finds nothing when nothing changed, objects included', () => {
    assert.equal(diff('{"a":1,"b":{"c":[1,2]},"d":"x"}', () => {}), undefined);
  });

  it('sends changed primitives, added keys and deleted keys', () => {
    assert.deepEqual(
      diff('{"a":1,"b":2,"c":3}', (data) => {
        data.a = 5;
        delete data.b;
        data.e = 'new';
      }),
      { set: { a: '5', e: '"new"' }, unset: ['b'] },
    );
  });

  it('sees objects changed in place', () => {
    assert.deepEqual(
      diff('{"cart":{"items":[1]},"user":{"id":1}}', (data) => {
        (data.cart as { items: number[] }).items.push(2);
      }),
      { set: { cart: '{"items":[1,2]}' }, unset: [] },
    );
  });

  it('ignores an object replaced by an equal one', () => {
    assert.equal(
      diff('{"user":{"id":1}}', (data) => {
        data.user = { id: 1 };
      }),
      undefined,
    );
  });

  it('treats undefined and functions as deletions, as JSON does', () => {
    assert.deepEqual(
      diff('{"a":1,"b":2}', (data) => {
        data.a = undefined;
        data.b = () => 1;
        data.c = undefined;
      }),
      { set: {}, unset: ['a', 'b'] },
    );
  });

  it('handles type changes between primitives and objects', () => {
    assert.deepEqual(
      diff('{"a":1,"b":{"x":1},"c":null}', (data) => {
        data.a = { x: 1 };
        data.b = 1;
        data.c = {};
      }),
      { set: { a: '{"x":1}', b: '1', c: '{}' }, unset: [] },
    );
  });

  it('gives a patch that turns the loaded session into the new one, for 5,000 random sessions and changes', () => {
    const keys = ['a', 'b', 'c', 'd', '1', '20', 'user_id'];
    const randomValue = (depth = 0): unknown => {
      const kind = Math.floor(Math.random() * (depth > 1 ? 5 : 7));
      if (kind === 0) return Math.floor(Math.random() * 4);
      if (kind === 1) return Math.random() < 0.5;
      if (kind === 2) return null;
      if (kind === 3) return ['x', 'y'][Math.floor(Math.random() * 2)];
      if (kind === 4) return Math.random() * 1e6;
      if (kind === 5) return [randomValue(depth + 1), randomValue(depth + 1)];
      return { k: randomValue(depth + 1) };
    };
    for (let i = 0; i < 5000; i++) {
      const loaded: Record<string, unknown> = {};
      for (const key of keys) if (Math.random() < 0.5) loaded[key] = randomValue();
      const loadedJson = JSON.stringify(loaded);
      const data = JSON.parse(loadedJson) as Record<string, unknown>;
      const snapshot = { ...data };
      for (const key of keys) {
        const roll = Math.random();
        if (roll < 0.15) data[key] = randomValue();
        else if (roll < 0.25) delete data[key];
        else if (roll < 0.3) data[key] = undefined;
        else if (roll < 0.4 && typeof data[key] === 'object' && data[key] !== null) (data[key] as Record<string, unknown>).k = randomValue();
      }
      const patch = diffSessions(snapshot, loadedJson, data);
      const patched = JSON.parse(loadedJson) as Record<string, unknown>;
      for (const [key, json] of Object.entries(patch?.set ?? {})) patched[key] = JSON.parse(json);
      for (const key of patch?.unset ?? []) delete patched[key];
      const expected = JSON.parse(JSON.stringify(data)) as unknown;
      assert.deepEqual(patched, expected, `${loadedJson} -> ${JSON.stringify(data)}`);
      if (patch === undefined) assert.equal(JSON.stringify(JSON.parse(loadedJson)), loadedJson);
      // Only real changes: a key set holds new JSON, a key unset was there.
      for (const [key, json] of Object.entries(patch?.set ?? {})) assert.notEqual(JSON.stringify(loaded[key]), json, key);
      for (const key of patch?.unset ?? []) assert.ok(key in loaded && !(key in (patch?.set ?? {})), key);
    }
  });

  it('keeps a key named __proto__ an ordinary entry of the patch', () => {
    const patch = diffSessions({}, '{}', JSON.parse('{"__proto__":{"x":1}}') as Record<string, unknown>);
    assert.equal(Object.getPrototypeOf(patch?.set), null);
    assert.equal(patch?.set['__proto__'], '{"x":1}');
  });
});

describe('jsonOf: JSON.stringify without its cost for numbers and booleans', () => {
  it('spells every number and boolean as JSON.stringify does', () => {
    const values: unknown[] = [0, -0, 1, -1, 0.1, 1 / 3, 1e21, 1e-7, -1e-7, 123456789012345680000, Number.MAX_VALUE, Number.MIN_VALUE, NaN, Infinity, -Infinity, true, false];
    for (let i = 0; i < 10_000; i++) values.push((Math.random() - 0.5) * 10 ** Math.floor(Math.random() * 40 - 20), Math.floor(Math.random() * 2 ** 53));
    for (const value of values) assert.equal(jsonOf(value), JSON.stringify(value), String(value));
  });

  it('leaves everything else to JSON.stringify', () => {
    for (const value of ['a"b', null, undefined, { a: [1] }, [1, 'x'], () => 1]) assert.equal(jsonOf(value), JSON.stringify(value));
  });
});

describe('unchangedPrimitives: the check that lets a read-only request skip JSON.stringify', () => {
  const loaded = (): Record<string, unknown> => ({ user: 'ada', n: 1, ok: true, none: null });
  const check = (change: (data: Record<string, unknown>) => void) => {
    const data = loaded();
    const snapshot = { ...data };
    change(data);
    return unchangedPrimitives(snapshot, data);
  };

  it('is true only when every key holds the very same primitive', () => {
    assert.equal(check(() => {}), true);
    assert.equal(check((d) => (d.n = 1)), true, 'the same value written again');
  });

  it('is false for any change of keys or values', () => {
    assert.equal(check((d) => (d.n = 2)), false);
    assert.equal(check((d) => (d.n = '1')), false);
    assert.equal(check((d) => delete d.ok), false);
    assert.equal(check((d) => (d.extra = 1)), false);
    assert.equal(check((d) => (d.extra = undefined)), false, 'left to JSON to tell');
    assert.equal(check((d) => (d.none = undefined)), false);
  });

  it('is false whenever a value is an object, which may have been changed in place', () => {
    const data: Record<string, unknown> = { cart: { items: [] } };
    const snapshot = { ...data };
    assert.equal(unchangedPrimitives(snapshot, data), false);
  });

  it('ignores inherited keys, as JSON does', () => {
    const data = Object.create({ inherited: 1 }) as Record<string, unknown>;
    data.own = 1;
    assert.equal(unchangedPrimitives({ own: 1 }, data), true);
    assert.equal(unchangedPrimitives({ own: 1, inherited: 1 }, data), false);
  });
});
