import type { Carried } from './carriers/carrier.js';

/** Verified cookies per generation: a middleware remembers the last 1,000 to 2,000 (see VerifiedCookies). */
const GENERATION_SIZE = 1000;
/** Longer values (large cookie-store payloads) are verified every time rather than held in memory. */
const MAX_VALUE_LENGTH = 1024;
/**
 * While fewer than one lookup in this many hits, only one verified cookie in this many is
 * admitted. Admitting costs more than the lookup (an entry, a Map insertion, and strings the
 * garbage collector then copies while they live): about 4,000 instructions per request with
 * 10,000 users taking turns, where no cookie comes back before it has been dropped.
 */
const SAMPLING = 16;
/**
 * While fewer than one lookup in this many hits, only one request in {@link SAMPLING} looks.
 * A lookup that misses costs hashing the signature and two Map probes, about 600 instructions;
 * a hit saves the HMAC and the decoding, about 15,000: looking pays from about one hit in 25.
 * (With 10,000 users taking turns, about one lookup in 20 hits: a sampled generation spans
 * every user, and the one in 16 it admitted come back while it still holds them. With 100,000
 * none does; with 10,000 users of Zipf-like popularity, seven in 10 do.)
 */
const LOOKING = 32;

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
 * signature's bytes. The value is then compared in full.
 *
 * Two generations bound it: new entries go to the young map; when that is
 * full it becomes the old one and the previous old one is dropped whole. A
 * hit in the old generation moves back to the young one, so a cookie in use
 * stays. With many more active users than entries (most requests miss), a
 * miss then costs two lookups and one insertion, where evicting the oldest
 * entry one by one cost an iterator, a delete and the Map's tombstones.
 *
 * It adapts to what it is worth: a generation in which fewer than one lookup
 * in {@link SAMPLING} hit (many users, each coming back only after thousands
 * of others) makes the next one admit only every {@link SAMPLING}th verified
 * cookie; one in which fewer than one in {@link LOOKING} hit makes it also look
 * on only every {@link SAMPLING}th request (the hit rate of those lookups still
 * tells when cookies come back). A cookie sent often (a busy user, a poller)
 * is still admitted within a few of its requests, and then hits whenever a
 * request looks; once hits are common again, every cookie is admitted and
 * every request looks again.
 */
export class VerifiedCookies {
  #young = new Map<string, VerifiedCookie>();
  #old = new Map<string, VerifiedCookie>();
  /** Lookups and hits since the young generation began: its hit rate decides the next one's admission. */
  #lookups = 0;
  #hits = 0;
  #sampling = false;
  /** Fewer than one lookup in {@link LOOKING} hit in the last generation: only one request in {@link SAMPLING} looks. */
  #rarelyLooking = false;
  /** Verified cookies passed over since the last one admitted while sampling. */
  #passedOver = 0;
  /** Requests that did not look since the last one that did, while rarely looking. */
  #notLooked = 0;

  /**
   * The cookie as it verified before, or undefined (the caller verifies it). While lookups
   * rarely hit, only every {@link SAMPLING}th call looks; the others answer undefined at once.
   */
  lookup(signature: string, value: string): VerifiedCookie | undefined {
    if (this.#rarelyLooking && ++this.#notLooked < SAMPLING) return undefined;
    this.#notLooked = 0;
    this.#lookups++;
    let entry = this.#young.get(signature);
    if (entry === undefined) {
      entry = this.#old.get(signature);
      if (entry === undefined || entry.value !== value) return undefined;
      this.#hits++;
      this.#add(signature, entry);
      return entry;
    }
    if (entry.value !== value) return undefined;
    this.#hits++;
    return entry;
  }

  remember(signature: string, value: string, key: string | Buffer, contents: Carried): void {
    if (value.length > MAX_VALUE_LENGTH) return;
    if (this.#sampling && ++this.#passedOver < SAMPLING) return;
    this.#passedOver = 0;
    this.#add(signature, { value, key, contents });
  }

  /** How many cookies are held (both generations); for tests. */
  get size(): number {
    return this.#young.size + this.#old.size;
  }

  #add(signature: string, entry: VerifiedCookie): void {
    if (this.#young.size >= GENERATION_SIZE) {
      this.#sampling = this.#hits * SAMPLING < this.#lookups;
      this.#rarelyLooking = this.#hits * LOOKING < this.#lookups;
      this.#lookups = 0;
      this.#hits = 0;
      this.#old = this.#young;
      this.#young = new Map();
    }
    this.#young.set(signature, entry);
  }
}
