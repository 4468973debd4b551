// How SqliteStore keeps the users' index of sessions (option indexBy): user
// ids and user agents as text SQLite keeps exactly, and rows back as entries.
import type { IndexedSession } from '../store.js';

/**
 * What TEXT cannot carry exactly: a lone surrogate, which both drivers send
 * to SQLite as U+FFFD (so "\ud800" and "\ud801" would be one text), and
 * U+0000, at which node:sqlite before Node 24 cuts the text it reads back.
 */
// eslint-disable-next-line no-control-regex -- U+0000 is one of the characters looked for
const INEXACT = /\u0000|[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;

/**
 * `value` as SQLite keeps it exactly: the string itself as TEXT (any real
 * user id or user agent, readable and comparable in SQL as it is), or, when
 * it holds a lone surrogate or U+0000, a BLOB of its JSON, which spells those
 * as escapes. SQLite never finds a BLOB equal to a TEXT, so an escaped id can
 * never meet a TEXT one that happens to read like its JSON.
 */
export function exactText(value: string): string | Uint8Array {
  return INEXACT.test(value) ? Buffer.from(JSON.stringify(value), 'utf8') : value;
}

/** The string `exactText` made, from the TEXT or BLOB read back (a Buffer from better-sqlite3, a Uint8Array from node:sqlite). */
export function textOf(value: unknown): string | undefined {
  if (typeof value === 'string') return value;
  if (!(value instanceof Uint8Array)) return undefined;
  try {
    const parsed: unknown = JSON.parse(Buffer.from(value.buffer, value.byteOffset, value.byteLength).toString('utf8'));
    return typeof parsed === 'string' ? parsed : undefined;
  } catch {
    return undefined;
  }
}

/** A row of the users' index as an entry; undefined for a row the store did not write (a column of another type). */
export function entryOf(row: Record<string, unknown>): IndexedSession | undefined {
  const { sid, created_at: createdAt, last_active_at: lastActiveAt, expires_at: expiresAt } = row;
  const userAgent = textOf(row.user_agent);
  if (typeof sid !== 'string' || typeof createdAt !== 'number' || typeof lastActiveAt !== 'number' || userAgent === undefined) return undefined;
  if (expiresAt !== null && typeof expiresAt !== 'number') return undefined;
  return { sid, createdAt, lastActiveAt, expiresAt, userAgent };
}
