import type { Carried } from './carriers/carrier.js';

/** How many verified cookies a middleware remembers. */
const MAX_ENTRIES = 2000;
/** Longer values (large cookie-store payloads) are verified every time rather than held in memory. */
const MAX_VALUE_LENGTH = 1024;

interface VerifiedCookie {
  /** The exact cookie value the signature verified for. */
  readonly value: string;
  /** The secret that verified it: a hit only counts while that secret is still in app.keys. */
  readonly key: string | Buffer;
  readonly contents: Carried;
}

/**
 * Signed cookies that already verified, by their exact signature and value,
 * with their decoded contents.
 *
 * A browser sends the same session cookie on every request until the session
 * changes, and the HMAC is the dearest part of reading it (a few microseconds,
 * more with caches cold after the kernel's network work). A hit needs the exact
 * signature and value that verified before, so it accepts nothing the HMAC
 * would refuse. Entries are found by signature alone: hashing its 27
 * characters costs less than hashing the value, and the hash uses V8's
 * per-process random seed, so its timing says nothing about a forged
 * signature's bytes. The value is then compared in full. Entries leave in
 * insertion order once the bound is reached.
 */
export class VerifiedCookies {
  readonly #entries = new Map<string, VerifiedCookie>();

  lookup(signature: string, value: string): VerifiedCookie | undefined {
    const entry = this.#entries.get(signature);
    return entry !== undefined && entry.value === value ? entry : undefined;
  }

  remember(signature: string, value: string, key: string | Buffer, contents: Carried): void {
    if (value.length > MAX_VALUE_LENGTH) return;
    if (this.#entries.size >= MAX_ENTRIES && !this.#entries.has(signature)) {
      const oldest = this.#entries.keys().next();
      if (oldest.done !== true) this.#entries.delete(oldest.value);
    }
    this.#entries.set(signature, { value, key, contents });
  }
}
