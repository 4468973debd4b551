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
  return `"${derivedName(table, '_expires_at')}"`;
}

/**
 * `<table><suffix>`, unquoted, for a valid table name: the name of an object
 * that belongs to the table (an index, the users' index table). A name too
 * long for the limit keeps a prefix and gets a hash of the whole table name,
 * so two long names sharing a prefix never share a derived name.
 */
export function derivedName(table: string, suffix: string): string {
  if (table.length + suffix.length <= MAX_IDENTIFIER_LENGTH) return `${table}${suffix}`;
  const hash = createHash('sha256').update(table).digest('hex').slice(0, 8);
  return `${table.slice(0, MAX_IDENTIFIER_LENGTH - suffix.length - hash.length - 1)}_${hash}${suffix}`;
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

// ---- the users' index of sessions (option indexBy) ----------------------------

/** The longest user id the SQL stores index, in UTF-8 bytes of its stored text: with the session id, a key MySQL's InnoDB can hold. */
export const MAX_USER_ID_BYTES = 512;

/** `%`, U+0000 (PostgreSQL's text refuses it) and lone surrogates (UTF-8 cannot carry them; drivers send U+FFFD). */
// eslint-disable-next-line no-control-regex -- U+0000 is exactly what must not reach the server
const UNSTORABLE = /[%\u0000]|[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/g;
const ESCAPE = /%(?:u([0-9A-F]{4})|([0-9A-F]{2}))/g;

/**
 * A JavaScript string as text every SQL column holds unchanged: `%`, U+0000
 * and lone surrogates become `%` and the UTF-16 code unit in hex (`%25`,
 * `%00`, `%uD800`); everything else, so nearly every real user id, is kept as
 * it is, and stays readable and searchable in SQL. No two strings get the
 * same text, so two user ids never share rows. {@link fromStorableText} undoes it.
 */
export function storableText(text: string): string {
  return text.replace(UNSTORABLE, (char) => {
    const unit = char.charCodeAt(0).toString(16).toUpperCase();
    return unit.length === 4 ? `%u${unit}` : `%${unit.padStart(2, '0')}`;
  });
}

/** The string {@link storableText} was given. */
export function fromStorableText(text: string): string {
  return text.replace(ESCAPE, (_match, unit: string | undefined, byte: string | undefined) => String.fromCharCode(parseInt(unit ?? byte ?? '', 16)));
}

/**
 * A user id as the index tables store it ({@link storableText}), or a
 * TypeError that names the store and method but not the id.
 */
export function storedUserId(store: string, method: string, userId: unknown): string {
  if (typeof userId !== 'string' || userId === '') {
    throw new TypeError(`koa-session-store: ${store}.${method} needs a user id as a non-empty string, got ${userId === '' ? 'an empty string' : typeof userId}`);
  }
  const stored = storableText(userId);
  if (Buffer.byteLength(stored) > MAX_USER_ID_BYTES) {
    throw new TypeError(
      `koa-session-store: ${store}.${method} got a user id of ${userId.length} characters; the index holds user ids of at most ${MAX_USER_ID_BYTES} bytes as UTF-8 (a % counts three)`,
    );
  }
  return stored;
}

/** An index entry's times and user agent as the index tables store them: whole milliseconds, storable text. */
export interface StoredEntry {
  readonly sid: string;
  readonly createdAt: number;
  readonly lastActiveAt: number;
  readonly expiresAt: number | null;
  readonly userAgent: string;
}

/**
 * `entry` (an IndexedSession) checked and made storable: times rounded to
 * whole milliseconds, the user agent as {@link storableText}. A TypeError
 * names the member that is wrong, never its value.
 */
export function storedEntry(store: string, entry: unknown): StoredEntry {
  const fail = (problem: string): never => {
    throw new TypeError(`koa-session-store: ${store}.indexSession: ${problem}`);
  };
  if (entry === null || typeof entry !== 'object') return fail(`the entry must be an object, got ${entry === null ? 'null' : typeof entry}`);
  const { sid, createdAt, lastActiveAt, expiresAt, userAgent } = entry as Record<string, unknown>;
  if (typeof sid !== 'string') return fail(`entry.sid must be a string, got ${typeof sid}`);
  const millis = (name: string, value: unknown): number => {
    const rounded = typeof value === 'number' ? Math.round(value) : NaN;
    return Number.isSafeInteger(rounded) ? rounded : fail(`entry.${name} must be a number of milliseconds since the epoch, got ${typeof value}`);
  };
  const times = {
    createdAt: millis('createdAt', createdAt),
    lastActiveAt: millis('lastActiveAt', lastActiveAt),
    expiresAt: expiresAt === null ? null : millis('expiresAt', expiresAt),
  };
  if (typeof userAgent !== 'string') return fail(`entry.userAgent must be a string, got ${typeof userAgent}`);
  return { sid, ...times, userAgent: storableText(userAgent) };
}

/**
 * A time read back from a BIGINT column, whatever the driver made of it (a
 * number, a string, a BigInt); null stays null.
 */
export function millisRead(value: unknown): number | null {
  if (value === null || value === undefined) return null;
  return Number(value as number | string | bigint);
}
