// Checks shared by the SQL stores. Table and schema names end up inside SQL
// text (identifiers cannot be bound as parameters), so they are validated
// against a strict pattern first and only then double-quoted.
import { createHash } from 'node:crypto';

/** Letters, digits and `_`, not starting with a digit: a name that needs no escaping in SQLite or PostgreSQL. */
const IDENTIFIER = /^[A-Za-z_][A-Za-z0-9_]*$/;
/** PostgreSQL silently truncates longer names, which could make two tables one; SQLite gets the same rule. */
const MAX_IDENTIFIER_LENGTH = 63;

/**
 * Returns `value` double-quoted for use as an SQL identifier, or throws a
 * TypeError naming the store and the option when it is not a plain name.
 */
export function quoteIdentifier(store: string, option: string, value: unknown): string {
  if (typeof value !== 'string' || !IDENTIFIER.test(value) || value.length > MAX_IDENTIFIER_LENGTH) {
    throw new TypeError(
      `koa-session-store: option ${option} of ${store} is invalid: ${describe(value)}; use 1 to ${MAX_IDENTIFIER_LENGTH} letters, digits and _, not starting with a digit`,
    );
  }
  // Quoted, so that reserved words such as "order" or "user" work and the case is kept.
  return `"${value}"`;
}

/**
 * The name of the expiry index of `table` (a valid identifier), quoted:
 * `<table>_expires_at`, kept within the length limit. A long table name is
 * shortened with a hash of the whole name, so two long names sharing a prefix
 * still get two indexes, and the index never takes the table's own name.
 */
export function expiryIndexName(table: string): string {
  const suffix = '_expires_at';
  if (table.length + suffix.length <= MAX_IDENTIFIER_LENGTH) return `"${table}${suffix}"`;
  const hash = createHash('sha256').update(table).digest('hex').slice(0, 8);
  return `"${table.slice(0, MAX_IDENTIFIER_LENGTH - suffix.length - hash.length - 1)}_${hash}${suffix}"`;
}

/**
 * Reads a time to live in ms as the store contract passes it: a positive
 * number, or `undefined` (also `null`) for an entry that never expires.
 */
export function ttlOf(ttlMs: number | null | undefined): number | null {
  if (ttlMs === undefined || ttlMs === null) return null;
  if (typeof ttlMs !== 'number' || !Number.isFinite(ttlMs) || ttlMs < 0) {
    throw new TypeError(`koa-session-store: a time to live must be a positive number of milliseconds or undefined, got ${describe(ttlMs)}`);
  }
  return Math.ceil(ttlMs);
}

/** Reads a sweep interval option: whole milliseconds, `0` for no sweep. */
export function intervalOf(store: string, option: string, value: unknown, fallback: number): number {
  if (value === undefined) return fallback;
  // setInterval clamps anything above 2^31-1 ms to 1 ms, which would sweep constantly.
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 0 || value > 2_147_483_647) {
    throw new TypeError(
      `koa-session-store: option ${option} of ${store} is invalid: ${describe(value)}; use whole milliseconds between 0 (off) and 2147483647`,
    );
  }
  return value;
}

/** A value named in an error message without echoing long or sensitive text. */
export function describe(value: unknown): string {
  if (value === null) return 'null';
  if (typeof value === 'string') return JSON.stringify(value.length > 40 ? `${value.slice(0, 40)}…` : value);
  if (typeof value === 'number' || typeof value === 'boolean') return String(value);
  return typeof value;
}

/**
 * The `"key":value` members a patch sets, checked to be JSON text. Keys are
 * quoted by JSON.stringify (so `__proto__` or lone surrogates are ordinary
 * keys); values are JSON text already.
 */
export function patchMembers(store: string, set: Readonly<Record<string, string>>): string[] {
  const members: string[] = [];
  for (const key of Object.keys(set)) {
    const value: unknown = set[key];
    if (typeof value !== 'string') {
      throw new TypeError(`koa-session-store: ${store}.patch needs each value of set as JSON text, got ${describe(value)} for key ${JSON.stringify(key)}`);
    }
    members.push(`${JSON.stringify(key)}:${value}`);
  }
  return members;
}
