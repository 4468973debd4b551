// The check of an index entry as stores receive it in indexSession, shared
// by the stores that keep entries as they come (Redis, SQLite); the SQL
// servers' stores convert theirs with storedEntry (sql-common.ts).
import type { IndexedSession } from '../store.js';

/** What is wrong with `entry` for `indexSession`, naming the member but never its value; undefined when it is fine. */
export function entryProblem(entry: IndexedSession): string | undefined {
  if (entry === null || typeof entry !== 'object') return `the entry must be an object, got ${entry === null ? 'null' : typeof entry}`;
  if (typeof entry.sid !== 'string') return `entry.sid must be a string, got ${typeof entry.sid}`;
  for (const name of ['createdAt', 'lastActiveAt'] as const) {
    if (!Number.isFinite(entry[name])) return `entry.${name} must be a finite number of milliseconds, got ${typeof entry[name]}`;
  }
  if (entry.expiresAt !== null && !Number.isFinite(entry.expiresAt)) {
    return `entry.expiresAt must be a finite number of milliseconds or null, got ${typeof entry.expiresAt}`;
  }
  if (typeof entry.userAgent !== 'string') return `entry.userAgent must be a string, got ${typeof entry.userAgent}`;
  return undefined;
}
