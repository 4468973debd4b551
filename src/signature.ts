import { hmacKey, hmacSha1, hmacSha1Matches, SIGNATURE_LENGTH, type HmacKey } from './hmac-sha1.js';

/** What Koa accepts as `app.keys`: an array of secrets, or a Keygrip-like object. */
export type AppKeys = ReadonlyArray<string | Buffer> | KeygripLike;

interface KeygripLike {
  sign(data: string): string;
  index(data: string, digest: string): number;
}

/**
 * The signature the `cookies` package (through `keygrip`) puts in `name.sig`:
 * HMAC-SHA1 of `name=value`, base64 without padding and with the URL-safe
 * alphabet, which is exactly Node's `base64url` digest. Keeping the format
 * means cookies signed by koa-session-store 2.0 keep verifying.
 */
export function sign(data: string, keys: AppKeys): string {
  if (isKeygrip(keys)) return keys.sign(data);
  return hmacSha1(padsOf(keys[0] as string | Buffer), data);
}

// A string secret's pads are hashed once (see hmac-sha1.ts). Keys are looked up by value, so
// mutating or replacing app.keys just works; a Buffer's are hashed on every use, since it may
// be changed in place.
const stringKeys = new Map<string, HmacKey>();
// The key of the last call, which is nearly always the key of the next: no Map lookup then.
let lastKey: string | undefined;
let lastPads: HmacKey | undefined;

function padsOf(key: string | Buffer): HmacKey {
  if (typeof key !== 'string') return hmacKey(key);
  if (key === lastKey) return lastPads as HmacKey;
  let pads = stringKeys.get(key);
  if (pads === undefined) {
    // Apps have a handful of keys; the bound only guards against keys made per request.
    if (stringKeys.size >= 64) stringKeys.clear();
    stringKeys.set(key, (pads = hmacKey(key)));
  }
  lastKey = key;
  lastPads = pads;
  return pads;
}

/**
 * Index in `keys` of the key that made `signature` for `data`, or -1.
 * One HMAC per key tried (the `cookies` package spends three per check), and
 * a comparison of every character whatever differs.
 */
export function verify(data: string, signature: string, keys: AppKeys): number {
  if (isKeygrip(keys)) return keys.index(data, signature);
  // A SHA-1 signature is always 27 characters; anything else cannot match.
  if (signature.length !== SIGNATURE_LENGTH) return -1;
  for (let i = 0; i < keys.length; i++) {
    if (hmacSha1Matches(padsOf(keys[i] as string | Buffer), data, signature)) return i;
  }
  return -1;
}

/** Index in `keys` of a secret equal to `key` (Buffers compared by content), or -1. */
export function indexOfKey(keys: ReadonlyArray<string | Buffer>, key: string | Buffer): number {
  if (typeof key === 'string') return keys.indexOf(key);
  for (let i = 0; i < keys.length; i++) {
    const candidate = keys[i];
    if (Buffer.isBuffer(candidate) && candidate.equals(key)) return i;
  }
  return -1;
}

/** True when `keys` can sign: a non-empty array or a Keygrip. */
export function hasKeys(keys: unknown): keys is AppKeys {
  if (Array.isArray(keys)) return keys.length > 0;
  return isKeygrip(keys);
}

function isKeygrip(keys: unknown): keys is KeygripLike {
  return !Array.isArray(keys) && typeof keys === 'object' && keys !== null && typeof (keys as KeygripLike).index === 'function';
}
