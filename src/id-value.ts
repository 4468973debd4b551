// The server stores' cookie value: `<id>.<creation time>.<last write or touch>`,
// times in base36 ms, never session data.
import type { Carried } from './carriers/carrier.js';
import { decodeLegacy, isSessionId, MAX_ID_LENGTH } from './payload.js';

/** The cookie value of a session kept in a server store. */
export function encodeIdValue(sid: string, ctime: number, touched: number): string {
  return `${sid}.${ctime.toString(36)}.${touched.toString(36)}`;
}

/**
 * An `id.ctime.touched` value, checked, whose two times are worked out only when
 * asked for. Most requests never ask (a read, or a write without `rolling`,
 * `maxAge`, `maxLifetime` or `indexBy`), and the numbers cost more than the
 * rest of reading the value: a loop over each time's digits, and a heap number
 * for each time every time one is stored, since they exceed V8's small integers.
 */
export class IdValue implements Carried {
  readonly sid: string;
  readonly value: string;
  readonly reissue: boolean;
  readonly exp = undefined;
  readonly json = undefined;
  /** Where the dot before the creation time is; the one before the last write is `#lastDot`. */
  readonly #dot: number;
  readonly #lastDot: number;

  constructor(value: string, sid: string, dot: number, lastDot: number, reissue: boolean) {
    this.sid = sid;
    this.value = value;
    this.reissue = reissue;
    this.#dot = dot;
    this.#lastDot = lastDot;
  }

  get ctime(): number {
    return base36(this.value, this.#dot + 1, this.#lastDot);
  }

  get touched(): number {
    return base36(this.value, this.#lastDot + 1, this.value.length);
  }

  /** The same value, with `reissue` as given. */
  reissued(reissue: boolean): IdValue {
    return reissue === this.reissue ? this : new IdValue(this.value, this.sid, this.#dot, this.#lastDot, reissue);
  }
}

/**
 * Decodes a server-store value; undefined for anything this middleware (or 2.0) did not write.
 * The times of `id.ctime.touched` are checked here and read when asked for (see {@link IdValue}),
 * by a loop rather than a regular expression or `parseInt` (which V8 runs in C++).
 * `authenticated`: see {@link decodePayloadText}; it applies to `id.ctime.touched` only, the
 * form only this middleware writes (a bare id, or 2.0's JSON, is always checked in full).
 * `reissue`: the value was made with an older key (see {@link Carried.reissue}).
 */
export function decodeIdValue(value: string, authenticated = false, reissue = false): Carried | undefined {
  if (value.charCodeAt(0) === 123 /* { */) {
    const legacy = decodeLegacy(value, false);
    return legacy === undefined ? undefined : { sid: legacy.sid, ctime: undefined, exp: undefined, touched: undefined, json: undefined, value, reissue };
  }
  // The two times are short, so their dots are found from the end, a few characters each:
  // two searches of the whole value (indexOf) cost more than the rest of the decoding.
  const lastDot = dotBefore(value, value.length);
  const dot = lastDot > 0 ? dotBefore(value, lastDot) : -1;
  if (dot > 0) {
    const sid = value.slice(0, dot);
    // The id is what precedes the last two dots. Unauthenticated, it must be an id (no dot);
    // authenticated, it is one this middleware issued, so only its length is checked.
    if ((authenticated ? dot <= MAX_ID_LENGTH : isSessionId(sid)) && isBase36(value, dot + 1, lastDot) && isBase36(value, lastDot + 1, value.length)) {
      return new IdValue(value, sid, dot, lastDot, reissue);
    }
  }
  // A bare id, as a store-backed app might have been handed by another tool: accepted, no metadata.
  if (isSessionId(value)) return { sid: value, ctime: undefined, exp: undefined, touched: undefined, json: undefined, value, reissue };
  return undefined;
}

/** Where the '.' before `end` is, looking back only as far as a base36 time and its dot reach (12 characters); -1 when not there. */
function dotBefore(text: string, end: number): number {
  const stop = end > 12 ? end - 12 : 0;
  for (let i = end - 1; i >= stop; i--) if (text.charCodeAt(i) === 46 /* . */) return i;
  return -1;
}

/** Whether `text[start, end)` is 1 to 11 base36 digits (digits and lowercase letters). */
function isBase36(text: string, start: number, end: number): boolean {
  if (end <= start || end - start > 11) return false;
  for (let i = start; i < end; i++) {
    const code = text.charCodeAt(i);
    if (!((code >= 48 && code <= 57) || (code >= 97 && code <= 122))) return false;
  }
  return true;
}

/** The number the base36 digits `text[start, end)` spell (checked by {@link isBase36}). */
function base36(text: string, start: number, end: number): number {
  let number = 0;
  for (let i = start; i < end; i++) {
    const code = text.charCodeAt(i);
    number = number * 36 + (code <= 57 ? code - 48 : code - 87);
  }
  return number;
}
