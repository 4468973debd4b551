import { parseSessionJson, type SessionRecord } from './payload.js';
import type { SessionPatch } from './store.js';

const hasOwn = (object: object, key: string): boolean => Object.prototype.hasOwnProperty.call(object, key);

function isObject(value: unknown): value is object {
  return value !== null && typeof value === 'object';
}

/**
 * The top-level keys whose value differs between the session as loaded and as
 * it is now, as a {@link SessionPatch}; undefined when nothing differs.
 *
 * `snapshot` is a shallow copy of the top level taken when the session was
 * parsed, so an unchanged primitive costs one comparison. Objects may have been
 * changed in place (the snapshot then holds the same reference), so theirs are
 * compared as JSON against a pristine parse of `loadedJson`, made only when
 * such a key exists.
 */
export function diffSessions(snapshot: SessionRecord, loadedJson: string, now: SessionRecord): SessionPatch | undefined {
  const set: Record<string, string> = Object.create(null) as Record<string, string>;
  const unset: string[] = [];
  let changes = 0;
  /** Keys of `now` that the snapshot has too: when they are all of its keys, none was deleted. */
  let kept = 0;
  let pristine: SessionRecord | undefined;
  // for...in rather than Object.keys: no array to allocate, and V8 reads `now[key]` through its
  // for-in cache of the object's shape instead of a lookup by name.
  for (const key in now) {
    if (!hasOwn(now, key)) continue;
    const value = now[key];
    const existed = hasOwn(snapshot, key);
    if (existed) kept++;
    const before = existed ? snapshot[key] : undefined;
    if (existed && before === value && !isObject(value)) continue;
    const json = jsonOf(value);
    if (json === undefined) {
      // JSON drops undefined and functions: for the stored object that is a deletion.
      if (existed) {
        unset.push(key);
        changes++;
      }
      continue;
    }
    if (existed && isObject(before) && isObject(value)) {
      pristine ??= parseSessionJson(loadedJson) ?? {};
      if (JSON.stringify(pristine[key]) === json) continue;
    }
    set[key] = json;
    changes++;
  }
  let snapshotKeys = 0;
  for (const key in snapshot) if (hasOwn(snapshot, key)) snapshotKeys++;
  if (kept < snapshotKeys) {
    for (const key in snapshot) {
      if (hasOwn(snapshot, key) && !hasOwn(now, key)) {
        unset.push(key);
        changes++;
      }
    }
  }
  return changes === 0 ? undefined : { set, unset };
}

/**
 * `JSON.stringify(value)`, without the builtin's cost (about 800 instructions even for a
 * number) for the values sessions change most: JSON spells a finite number exactly as
 * `String` does (the spec's Number::toString for both), any other number as null.
 */
export function jsonOf(value: unknown): string | undefined {
  if (typeof value === 'number') return Number.isFinite(value) ? String(value) : 'null';
  if (typeof value === 'boolean') return value ? 'true' : 'false';
  return JSON.stringify(value);
}

/**
 * True when `now` holds exactly the keys of `snapshot`, each with the very same
 * primitive value: the session cannot have changed, so it needs no
 * `JSON.stringify` to tell. False whenever a value is an object (it may have
 * been changed in place) or a key was added or removed; the caller then
 * compares JSON as usual.
 */
export function unchangedPrimitives(snapshot: SessionRecord, now: SessionRecord): boolean {
  let keys = 0;
  for (const key in now) {
    if (!hasOwn(now, key)) continue;
    const value = now[key];
    if (isObject(value) || value !== snapshot[key] || !hasOwn(snapshot, key)) return false;
    keys++;
  }
  for (const key in snapshot) if (hasOwn(snapshot, key)) keys--;
  return keys === 0;
}
