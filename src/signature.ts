import { createHmac, timingSafeEqual } from 'node:crypto';

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
  return createHmac('sha1', keys[0] as string | Buffer).update(data).digest('base64url');
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
    const expected = createHmac('sha1', keys[i] as string | Buffer).update(data).digest();
    const expectedText = Buffer.from(expected.toString('base64url'), 'latin1');
    if (timingSafeEqual(given, expectedText)) return i;
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
