import type { Carried } from './carriers/carrier.js';

/** Verified cookies per generation: a middleware remembers the last 1,000 to 2,000 (see VerifiedCookies). */
const GENERATION_SIZE = 1000;
/** Longer values (large cookie-store payloads) are verified every time rather than held in memory. */
const MAX_VALUE_LENGTH = 1024;
/**
 * Slots of the filter that admits a cookie on its second verification (see VerifiedCookies):
 * a cookie verified again before about this many others were is admitted.
 */
const SEEN_SLOTS = 1024;
/** log2 of {@link SEEN_SLOTS}: a hash's top bits pick its slot (its lowest bit is always set). */
const SEEN_BITS = 10;
/** While fewer than one lookup in this many hits, only one request in {@link LOOK_EVERY} looks. */
const LOOKING = 32;
/** Lookups whose hit rate decides whether the next as many look on every request or on one in {@link LOOK_EVERY}. */
const LOOKUP_WINDOW = 1000;
/**
 * How often a request looks while lookups rarely hit. A lookup that misses costs hashing the
 * signature and two Map probes, about 600 instructions; a hit saves the HMAC and the decoding,
 * about 15,000: looking pays from about one hit in 25.
 */
const LOOK_EVERY = 16;

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
 * A cookie is admitted when it verifies a second time while a small filter
 * still remembers the first (a table of {@link SEEN_SLOTS} hashes of
 * signatures: no strings kept, nothing allocated). An entry costs more than
 * its instructions show: it keeps its strings (and the request's Cookie header
 * they are cut from) alive through garbage collections, and with 10,000 users
 * taking turns, admitting even one cookie in 16 made every read 1.5 to 2 µs
 * slower (measured against admitting none, the same run), for 5 % of requests
 * hitting. Now a cookie that does not come back soon is never admitted, and one
 * that does (a busy user, a poller, a page's burst of requests) is admitted at
 * its second request.
 *
 * Looking adapts too: {@link LOOKUP_WINDOW} lookups of which fewer than one
 * in {@link LOOKING} hit make the next ones happen on only every
 * {@link LOOK_EVERY}th request (the hit rate of those lookups still tells when
 * cookies come back); once hits are common again, every request looks.
 */
export class VerifiedCookies {
  #young = new Map<string, VerifiedCookie>();
  #old = new Map<string, VerifiedCookie>();
  /** Hashes of signatures verified once, by slot: a second verification while its hash is still here admits the cookie. */
  readonly #seen = new Int32Array(SEEN_SLOTS);
  /** Lookups and hits in the current window of {@link LOOKUP_WINDOW} lookups: its hit rate decides whether the next looks on every request. */
  #lookups = 0;
  #hits = 0;
  /** Fewer than one lookup in {@link LOOKING} hit in the last window: only one request in {@link LOOK_EVERY} looks. */
  #rarelyLooking = false;
  /** Requests that did not look since the last one that did, while rarely looking. */
  #notLooked = 0;

  /**
   * The cookie as it verified before, or undefined (the caller verifies it). While lookups
   * rarely hit, only every {@link LOOK_EVERY}th call looks; the others answer undefined at once.
   */
  lookup(signature: string, value: string): VerifiedCookie | undefined {
    if (this.#rarelyLooking && ++this.#notLooked < LOOK_EVERY) return undefined;
    this.#notLooked = 0;
    if (++this.#lookups >= LOOKUP_WINDOW) {
      this.#rarelyLooking = this.#hits * LOOKING < this.#lookups;
      this.#lookups = 0;
      this.#hits = 0;
    }
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

  /** Called with a cookie that just verified: admits it when it verified recently before (see the class). */
  remember(signature: string, value: string, key: string | Buffer, contents: Carried): void {
    if (value.length > MAX_VALUE_LENGTH) return;
    const hash = hashOf(signature);
    const slot = hash >>> (32 - SEEN_BITS);
    if (this.#seen[slot] !== hash) {
      this.#seen[slot] = hash;
      return;
    }
    this.#seen[slot] = 0;
    this.#add(signature, { value, key, contents });
  }

  /** How many cookies are held (both generations); for tests. */
  get size(): number {
    return this.#young.size + this.#old.size;
  }

  #add(signature: string, entry: VerifiedCookie): void {
    if (this.#young.size >= GENERATION_SIZE) {
      this.#old = this.#young;
      this.#young = new Map();
    }
    this.#young.set(signature, entry);
  }
}

/** How many leading characters of a signature are hashed: 36 bits of a base64url HMAC, more than the hash keeps. */
const HASHED_CHARACTERS = 6;

/**
 * A 32-bit hash of a signature, never 0 (the filter's empty slot). Only a cookie that verified is
 * hashed, so a client choosing signatures cannot steer it; a collision only admits a cookie early
 * or late, never makes a lookup answer for another cookie (that takes the exact signature and value).
 * A signature is an HMAC, as random as its characters go, so its first few are hashed, not all 27:
 * each character read from the slice of the Cookie header a signature is costs some 30 instructions.
 */
function hashOf(signature: string): number {
  const end = Math.min(signature.length, HASHED_CHARACTERS);
  let hash = 0x811c9dc5;
  for (let i = 0; i < end; i++) hash = Math.imul(hash ^ signature.charCodeAt(i), 0x01000193);
  return hash | 1;
}
