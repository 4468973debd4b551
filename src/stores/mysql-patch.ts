// A patch applied to a stored session's JSON text in JavaScript, which
// MysqlStore does under the row's lock. Not with the server's JSON functions:
// MySQL's reformat the text and differ from MariaDB's, and their paths cannot
// name every key a session may have (an empty key, lone surrogates).
import type { SessionPatch } from '../store.js';

/**
 * A TypeError, quoting no session data, when a value of `set` is not JSON
 * text; undefined when all are.
 */
export function checkSetValues(store: string, set: Readonly<Record<string, string>>): TypeError | undefined {
  for (const key of Object.keys(set)) {
    const value: unknown = set[key];
    // JSON.parse's messages quote the text around the error, which is session data: never let them out.
    if (typeof value !== 'string' || parseOrFail(value) === FAILED) {
      return new TypeError(`koa-session-store: ${store}.patch got a value in set that is not valid JSON text; nothing was written`);
    }
  }
  return undefined;
}

/**
 * The JSON text of the object `current` holds with `patch` applied (its `set`
 * values checked with {@link checkSetValues} first): keys of `set` keep their
 * place when they exist and are added at the end when not, keys of `unset`
 * go. Untouched values are written back by JSON.stringify, as the middleware
 * itself would write them (the same values, in its spelling). A TypeError,
 * quoting no session data, when `current` is not a JSON object.
 */
export function applyPatch(store: string, current: string, patch: SessionPatch): string | TypeError {
  const parsed = parseOrFail(current);
  if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) {
    return new TypeError(`koa-session-store: ${store}.patch found a stored session that is not a JSON object; it was left as it is`);
  }
  const { set } = patch;
  const data = parsed as Record<string, unknown>;
  const pending = new Set(Object.keys(set));
  const dropped = new Set(patch.unset);
  const members: string[] = [];
  // JSON.parse makes `__proto__` an own property, so it is listed and read back like any other key.
  for (const key of Object.keys(data)) {
    if (pending.delete(key)) members.push(`${JSON.stringify(key)}:${set[key] as string}`);
    else if (!dropped.has(key)) members.push(`${JSON.stringify(key)}:${JSON.stringify(data[key])}`);
  }
  for (const key of pending) members.push(`${JSON.stringify(key)}:${set[key] as string}`);
  return `{${members.join(',')}}`;
}

const FAILED = Symbol('not JSON');

function parseOrFail(text: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return FAILED;
  }
}
