// Sealing: authenticated encryption of a cookie value with XChaCha20-Poly1305
// (libsodium, through the optional peer `sodium-native`).
//
// A sealed value is base64url of
//   version (1 byte, 0x01) | key id (4 bytes) | nonce (24 bytes) | ciphertext | tag (16 bytes)
// The version and key id come first, so opening picks its key at once and a
// later format can be read beside this one. The header and the cookie's name
// are the associated data: a value sealed for one cookie name does not open as
// another, and no bit of the header can be changed unnoticed.
//
// Why XChaCha20-Poly1305 and not AES-256-GCM from node:crypto: sealing with
// createCipheriv costs several times an HMAC-SHA1 (6-22 µs against 1.5-3 µs
// measured here), sodium's call about as much as the HMAC; and its 192-bit
// random nonces have no practical limit on seals per key, where AES-GCM's
// 96-bit random nonces should stop near 2^32.
import { hkdfSync } from 'node:crypto';
import { nativeRequire } from './native-require.cjs';

const VERSION = 0x01;
const HEADER = 5;
const NONCE = 24;
const TAG = 16;
const KEY = 32;
const SALT = Buffer.from('koa-session-store sealed cookie', 'utf8');
const INFO = Buffer.from('v1 key and key id', 'utf8');

/** The part of sodium-native's API the sealed cookie uses. */
interface Sodium {
  crypto_aead_xchacha20poly1305_ietf_encrypt(c: Buffer, m: Buffer, ad: Buffer | null, nsec: null, npub: Buffer, k: Buffer): number;
  crypto_aead_xchacha20poly1305_ietf_decrypt(m: Buffer, nsec: null, c: Buffer, ad: Buffer | null, npub: Buffer, k: Buffer): number;
  randombytes_buf(buffer: Buffer): void;
}

let sodium: Sodium | undefined;

/** Loads sodium-native now, so a missing package fails `session()` rather than a request. */
export function loadSodium(): Sodium {
  if (sodium !== undefined) return sodium;
  try {
    sodium = nativeRequire('sodium-native') as Sodium;
  } catch (error) {
    throw new Error(
      'koa-session-store: encrypt: true needs the sodium-native package (XChaCha20-Poly1305 from libsodium, prebuilt for every platform); install it with `npm install sodium-native`',
      { cause: error },
    );
  }
  return sodium;
}

/** One secret's derived sealing key and its id. */
export interface SealKey {
  readonly id: number;
  readonly key: Buffer;
}

/** HKDF-SHA256 of the secret: 32 bytes of key and a 4-byte id that names it in sealed values. */
export function deriveSealKey(secret: string | Buffer): SealKey {
  const material = Buffer.from(hkdfSync('sha256', typeof secret === 'string' ? Buffer.from(secret, 'utf8') : secret, SALT, INFO, KEY + 4));
  return { id: material.readUInt32BE(KEY), key: material.subarray(0, KEY) };
}

/**
 * Why `secret` cannot seal sessions, or undefined when it can. At least 32 bytes of entropy:
 * a Buffer of 32 bytes or more; a string of hex digits needs 64 characters, one of base64
 * characters 43, any other string 32; a string of one repeated character is refused outright.
 */
export function weakSecretReason(secret: unknown): string | undefined {
  if (Buffer.isBuffer(secret)) return secret.length >= 32 ? undefined : `a Buffer of ${secret.length} bytes (at least 32 random bytes are needed)`;
  if (typeof secret !== 'string') return `a ${typeof secret} (secrets are strings or Buffers)`;
  const needed = /^[0-9a-fA-F]*$/.test(secret) ? 64 : /^[A-Za-z0-9+/_=-]*$/.test(secret) ? 43 : 32;
  if (secret.length < needed) {
    return `a string of ${secret.length} characters (${needed === 64 ? 'hex needs 64' : needed === 43 ? 'base64 needs 43' : 'at least 32 are needed'} for 32 bytes of entropy)`;
  }
  if (/^(.)\1*$/s.test(secret)) return 'one character repeated';
  return undefined;
}

/** What opening a sealed value found. */
export interface Opened {
  readonly text: string;
  /** Index of the key that opened it in the key list: 0 is the newest. */
  readonly keyIndex: number;
}

// Scratch space reused by every seal and open of the process: Node is single-threaded and
// neither call yields, so one buffer each saves an allocation per request.
const SCRATCH = 8192;
const sealed = Buffer.allocUnsafe(SCRATCH);
const plain = Buffer.allocUnsafe(SCRATCH);
// Nonces come from one libsodium call per 128 seals rather than one per seal.
const NONCE_POOL = NONCE * 128;
const nonces = Buffer.allocUnsafe(NONCE_POOL);
let nonceOffset = NONCE_POOL;

/** Seals and opens values for one cookie name with a list of keys, newest first. */
export class Sealer {
  readonly #sodium: Sodium;
  readonly #keys: readonly SealKey[];
  /** Key id to its index in #keys. */
  readonly #byId = new Map<number, number>();
  /** Per key: the associated data, header then cookie name. */
  readonly #associated: Buffer[];

  constructor(keys: readonly SealKey[], cookieName: string) {
    this.#sodium = loadSodium();
    this.#keys = keys;
    const name = Buffer.from(cookieName, 'utf8');
    this.#associated = keys.map((key, index) => {
      // The first key with an id wins; two secrets with one 32-bit id are as likely as guessing one.
      if (!this.#byId.has(key.id)) this.#byId.set(key.id, index);
      const associated = Buffer.alloc(HEADER + name.length);
      associated[0] = VERSION;
      associated.writeUInt32BE(key.id, 1);
      name.copy(associated, HEADER);
      return associated;
    });
  }

  /** How many keys open values: more than one while a rotation is under way. */
  get keyCount(): number {
    return this.#keys.length;
  }

  /** Seals `text` with the newest key and a fresh random nonce; base64url. */
  seal(text: string): string {
    const key = this.#keys[0] as SealKey;
    const associated = this.#associated[0] as Buffer;
    // UTF-8 takes at most 3 bytes per UTF-16 unit: text that surely fits the scratch buffer is written
    // straight into it, and the write says how long it was (measuring it first costs a pass over it).
    let message = plain;
    let length: number;
    if (text.length * 3 <= SCRATCH) length = plain.write(text, 0, 'utf8');
    else {
      length = Buffer.byteLength(text, 'utf8');
      if (length > SCRATCH) message = Buffer.allocUnsafe(length);
      message.write(text, 0, 'utf8');
    }
    const total = HEADER + NONCE + length + TAG;
    const out = total <= SCRATCH ? sealed : Buffer.allocUnsafe(total);
    associated.copy(out, 0, 0, HEADER);
    if (nonceOffset === NONCE_POOL) {
      this.#sodium.randombytes_buf(nonces);
      nonceOffset = 0;
    }
    // Each nonce of the pool is taken once: the offset only moves forward until the pool is drawn again.
    // (Nonces are not secret, they travel in the cookie, so the used ones need no wiping.)
    nonces.copy(out, HEADER, nonceOffset, nonceOffset + NONCE);
    nonceOffset += NONCE;
    this.#sodium.crypto_aead_xchacha20poly1305_ietf_encrypt(
      out.subarray(HEADER + NONCE, total),
      message.subarray(0, length),
      associated,
      null,
      out.subarray(HEADER, HEADER + NONCE),
      key.key,
    );
    return out.toString('base64url', 0, total);
  }

  /** Opens a sealed value; undefined when it is not one, names no listed key, or fails authentication. */
  open(value: string): Opened | undefined {
    // base64url of at least a header, a nonce and a tag; anything shorter cannot be sealed.
    if (value.length < 60 || value.length > SCRATCH || value.charCodeAt(0) !== 65 /* 'A': first 6 bits of 0x01 */) return undefined;
    const size = sealed.write(value, 0, 'base64url');
    if (size < HEADER + NONCE + TAG || sealed[0] !== VERSION) return undefined;
    // Strict base64url: what decodes must encode back to the same text, so no two values open alike.
    if (Math.ceil((size * 4) / 3) !== value.length) return undefined;
    const keyIndex = this.#byId.get(sealed.readUInt32BE(1));
    if (keyIndex === undefined) return undefined;
    const length = size - HEADER - NONCE - TAG;
    try {
      this.#sodium.crypto_aead_xchacha20poly1305_ietf_decrypt(
        plain.subarray(0, length),
        null,
        sealed.subarray(HEADER + NONCE, size),
        this.#associated[keyIndex] as Buffer,
        sealed.subarray(HEADER, HEADER + NONCE),
        (this.#keys[keyIndex] as SealKey).key,
      );
    } catch {
      return undefined;
    }
    return { text: plain.toString('utf8', 0, length), keyIndex };
  }
}
