import { createHmac, createSecretKey, timingSafeEqual, type KeyObject } from 'node:crypto';

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
  return hmac(keys[0] as string | Buffer, data);
}

// Importing a secret as a KeyObject once saves a key setup on every HMAC. Keys
// are looked up by value, so mutating or replacing app.keys just works.
const keyObjects = new Map<string, KeyObject>();

function hmac(key: string | Buffer, data: string): string {
  let secret: string | Buffer | KeyObject = key;
  if (typeof key === 'string') {
    secret = keyObjects.get(key) ?? createKeyObject(key);
  }
  return createHmac('sha1', secret).update(data).digest('base64url');
}

function createKeyObject(key: string): KeyObject {
  const secret = createSecretKey(Buffer.from(key, 'utf8'));
  // Apps have a handful of keys; the bound only guards against keys made per request.
  if (keyObjects.size >= 64) keyObjects.clear();
  keyObjects.set(key, secret);
  return secret;
}

/**
 * Index in `keys` of the key that made `signature` for `data`, or -1.
 * One HMAC per key tried (the `cookies` package spends three per check), and
 * a constant-time comparison of equal-length buffers.
 */
export function verify(data: string, signature: string, keys: AppKeys): number {
  if (isKeygrip(keys)) return keys.index(data, signature);
  // A SHA-1 signature is always 27 characters; anything else cannot match.
  if (signature.length !== 27) return -1;
  const given = Buffer.from(signature, 'latin1');
  for (let i = 0; i < keys.length; i++) {
    const expected = Buffer.from(hmac(keys[i] as string | Buffer, data), 'latin1');
    if (timingSafeEqual(given, expected)) return i;
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
