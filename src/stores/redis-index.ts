// How RedisStore keeps a user's index (option indexBy): the key of a user's
// hash, an entry as the text the index script reads, and a HGETALL answer
// back as entries.
import type { IndexedSession } from '../store.js';

/**
 * `{`, `}` and `%`, and lone surrogates, which both clients send as U+FFFD
 * (so "\ud800" and "\ud801" would share a key): each becomes `%` and its
 * UTF-16 code unit in hex (`%u` and four digits for a surrogate), which no
 * other character turns into, so two user ids never share a key.
 */
const ESCAPED = /[%{}]|[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/g;

function escapeUserId(userId: string): string {
  return userId.replace(ESCAPED, (char) => {
    const unit = char.charCodeAt(0).toString(16).toUpperCase();
    return unit.length === 4 ? `%u${unit}` : `%${unit}`;
  });
}

/**
 * The key of `userId`'s hash: `prefix + 'user:' + userId`, with braces escaped.
 * A Cluster puts a key in the slot of its first `{…}`; the user id is data
 * (often an e-mail address), so it must not pick the slot: unescaped, every
 * user named `{x}…` would share one shard. Escaped, the slot comes from the
 * prefix's hash tag if it has one (then it is the sessions' slot too), else
 * from the whole key, which spreads users over the shards.
 *
 * Session ids the middleware makes are `[A-Za-z0-9_-]`, never holding the `:`
 * of `user:`, so no session key can ever be a user's key.
 */
export function userKey(prefix: string, userId: string): string {
  return `${prefix}user:${escapeUserId(userId)}`;
}

/**
 * An entry as the index script's two arguments: the members it replaces on an
 * upsert (`expiresAt` first, read by the script to expire entries) and those it
 * keeps. Together they are the entry's JSON, without the id, which is the field.
 */
export function entryParts(entry: IndexedSession): [head: string, tail: string] {
  const head = `{"expiresAt":${JSON.stringify(entry.expiresAt)},"lastActiveAt":${JSON.stringify(entry.lastActiveAt)},`;
  const tail = `"createdAt":${JSON.stringify(entry.createdAt)},"userAgent":${JSON.stringify(entry.userAgent)}}`;
  return [head, tail];
}

/**
 * The entries of a HGETALL answer: a flat array of fields and values (RESP2),
 * or a Map or object (a client speaking RESP3). A field whose value is not an
 * entry (written by something else) is left out rather than failing the list.
 */
export function indexedEntries(reply: unknown): IndexedSession[] {
  const pairs: Array<[unknown, unknown]> = [];
  if (Array.isArray(reply)) {
    for (let i = 0; i + 1 < reply.length; i += 2) pairs.push([reply[i], reply[i + 1]]);
  } else if (reply instanceof Map) {
    pairs.push(...reply);
  } else if (reply !== null && typeof reply === 'object') {
    pairs.push(...Object.entries(reply));
  }
  const entries: IndexedSession[] = [];
  for (const [field, value] of pairs) {
    const entry = readEntry(text(field), text(value));
    if (entry !== undefined) entries.push(entry);
  }
  return entries;
}

function text(value: unknown): string | undefined {
  if (typeof value === 'string') return value;
  return Buffer.isBuffer(value) ? value.toString('utf8') : undefined;
}

function readEntry(sid: string | undefined, json: string | undefined): IndexedSession | undefined {
  if (sid === undefined || json === undefined) return undefined;
  let parsed: unknown;
  try {
    parsed = JSON.parse(json);
  } catch {
    return undefined;
  }
  if (parsed === null || typeof parsed !== 'object') return undefined;
  const { createdAt, lastActiveAt, expiresAt, userAgent } = parsed as Record<string, unknown>;
  if (typeof createdAt !== 'number' || typeof lastActiveAt !== 'number' || typeof userAgent !== 'string') return undefined;
  if (expiresAt !== null && typeof expiresAt !== 'number') return undefined;
  return { sid, createdAt, lastActiveAt, expiresAt, userAgent };
}
