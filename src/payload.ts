// What the session cookie's value holds, and the parsing of session JSON.
//
// Cookie store: the session as a JSON array, metadata apart from the data so
// no data key can be mistaken for metadata:
//   ["<id>",<creation ms>,<expiry ms or 0>,{...the data}]
// written as base64url of that text, or, when base64url would not fit in a
// cookie, as the text itself with only the characters a cookie value cannot
// carry percent-escaped (a third smaller). The data's JSON is recovered as
// text from between the metadata and the closing bracket, so change detection
// compares strings without a second JSON.stringify.
//
// Server stores: `<id>.<creation time>.<last write or touch>` (times in base36
// ms), never session data.
//
// Also read: 3.0's base64url object `{"_sid":…,"_ctime":…[,"_exp":…],…data}`
// and koa-session-store 2.0's raw JSON value `{"_sid":"…",…}`.

import { base36Time } from './base36-time.js';

const NOT_ID_CHARACTER = /[^A-Za-z0-9_-]/;
const MAX_ID_LENGTH = 128;

/**
 * What the middleware accepts as a session id (its own ids and the original's 15-character ones):
 * 1 to 128 of [A-Za-z0-9_-]. A search for a character outside the set runs in about half the time
 * of the anchored `/^[A-Za-z0-9_-]{1,128}$/`, and this runs on every request that reads a session.
 */
export function isSessionId(value: string): boolean {
  return value.length > 0 && value.length <= MAX_ID_LENGTH && !NOT_ID_CHARACTER.test(value);
}

const PAYLOAD_3_0_PREFIX = /^\{"_sid":"([A-Za-z0-9_-]{1,128})","_ctime":(\d{1,15})(?:,"_exp":(\d{1,15}))?([,}])/;
// What a cookie value may hold unescaped in the plain form: printable ASCII but for
// space, '%' (the escape), ';' (ends the cookie) and DEL; `"`, `,` and `\` stay, as
// browsers and the `cookies` package keep them (2.0 wrote them too).
const PLAIN_UNSAFE = /[^\u0021-\u0024\u0026-\u003a\u003c-\u007e]+/g;
const PLAIN_UNSAFE_TEST = /[^\u0021-\u0024\u0026-\u003a\u003c-\u007e]/;

/** What a session cookie said, once verified and decoded. */
export interface CookieContents {
  readonly sid: string;
  /** Creation time in ms; undefined for cookies from 2.0. */
  readonly ctime: number | undefined;
  /** Cookie store: when the payload stops being valid. Server store: unused. */
  readonly exp: number | undefined;
  /** Server store: when the entry's life was last reset by a write or touch. */
  readonly touched: number | undefined;
  /** Cookie store: the session data's JSON text. Server store: undefined. */
  readonly json: string | undefined;
}

/** The cookie-store text of a session: metadata, then the data's JSON. `exp` undefined is written as 0 (never). */
export function payloadText(sid: string, ctime: number, exp: number | undefined, json: string): string {
  return `["${sid}",${ctime},${exp ?? 0},${json}]`;
}

/** The cookie-store value in its usual form: base64url, safe for any cookie parser. */
export function encodeCookiePayload(sid: string, ctime: number, exp: number | undefined, json: string): string {
  return Buffer.from(payloadText(sid, ctime, exp, json), 'utf8').toString('base64url');
}

/**
 * The cookie-store value in its compact form, for a session too big for base64url
 * in one cookie: the text itself, percent-escaping what a cookie value cannot hold.
 */
export function encodePlainCookiePayload(sid: string, ctime: number, exp: number | undefined, json: string): string {
  const text = payloadText(sid, ctime, exp, json);
  return PLAIN_UNSAFE_TEST.test(text) ? text.replace(PLAIN_UNSAFE, encodeURIComponent) : text;
}

export function encodeIdValue(sid: string, ctime: number, touched: number): string {
  const created = base36Time(ctime);
  // A new session was created when it was last touched: one conversion serves both.
  return `${sid}.${created}.${touched === ctime ? created : base36Time(touched)}`;
}

/**
 * Decodes a cookie-store value; undefined for anything this middleware (or 2.0) did not write.
 * `authenticated`: see {@link decodePayloadText}.
 */
export function decodeCookiePayload(value: string, authenticated = false): CookieContents | undefined {
  const first = value.charCodeAt(0);
  if (first === 91 /* [ */) return decodePlain(value, authenticated);
  if (first === 123 /* { */) return decodeLegacy(value, true);
  // No check that the value is all base64url characters (it cost more than the decoding): a signed
  // value is authenticated before it gets here, an unsigned one may say anything anyway, and what the
  // lenient decoder makes of other characters must still pass the payload's shape below.
  const text = Buffer.from(value, 'base64url').toString('utf8');
  return text.charCodeAt(0) === 91 /* [ */ ? decodePayloadText(text, authenticated) : decodePayload30(text);
}

function decodePlain(value: string, authenticated: boolean): CookieContents | undefined {
  if (!value.includes('%')) return decodePayloadText(value, authenticated);
  let text: string;
  try {
    text = decodeURIComponent(value);
  } catch {
    return undefined;
  }
  return decodePayloadText(text, authenticated);
}

/**
 * Decodes the cookie-store text `["id",created,expires,{data}]`; undefined for anything else.
 * Taken apart with indexOf and digit loops rather than a regular expression with captures,
 * which cost about twice as much on every request that reads a cookie session.
 *
 * `authenticated`: the text was signed or sealed with the app's keys under this cookie's
 * name, so only this middleware wrote it, and the id is one it issued (its own, or a
 * `genid()` result checked when it was issued). The id's length is still checked, its
 * characters not: that search is about a third of what reading a session id costs, and it
 * guards what a client could have written, an unsigned cookie.
 */
export function decodePayloadText(text: string, authenticated = false): CookieContents | undefined {
  if (text.charCodeAt(0) !== 91 /* [ */ || text.charCodeAt(1) !== 34 /* " */ || !text.endsWith('}]')) return undefined;
  const idEnd = text.indexOf('"', 2);
  if (idEnd < 0 || text.charCodeAt(idEnd + 1) !== 44 /* , */) return undefined;
  const sid = text.slice(2, idEnd);
  if (authenticated ? sid.length === 0 || sid.length > MAX_ID_LENGTH : !isSessionId(sid)) return undefined;
  const ctimeEnd = text.indexOf(',', idEnd + 2);
  const ctime = decimal(text, idEnd + 2, ctimeEnd);
  if (ctime < 0) return undefined;
  const expEnd = text.indexOf(',', ctimeEnd + 1);
  const exp = decimal(text, ctimeEnd + 1, expEnd);
  if (exp < 0 || text.charCodeAt(expEnd + 1) !== 123 /* { */) return undefined;
  return { sid, ctime, exp: exp === 0 ? undefined : exp, touched: undefined, json: text.slice(expEnd + 1, -1) };
}

/** The number `text[start, end)` spells in decimal (1 to 15 digits, so exact); -1 for anything else. */
function decimal(text: string, start: number, end: number): number {
  if (end <= start || end - start > 15) return -1;
  let number = 0;
  for (let i = start; i < end; i++) {
    const digit = text.charCodeAt(i) - 48;
    if (digit < 0 || digit > 9) return -1;
    number = number * 10 + digit;
  }
  return number;
}

/** 3.0 wrote the metadata as the first keys of the data's own object. */
function decodePayload30(text: string): CookieContents | undefined {
  const match = PAYLOAD_3_0_PREFIX.exec(text);
  if (match === null) return undefined;
  const json = match[4] === '}' ? '{}' : `{${text.slice(match[0].length)}`;
  if (json.charCodeAt(json.length - 1) !== 125 /* } */) return undefined;
  return {
    sid: match[1] as string,
    ctime: Number(match[2]),
    exp: match[3] === undefined ? undefined : Number(match[3]),
    touched: undefined,
    json,
  };
}

/**
 * Decodes a server-store value; undefined for anything this middleware (or 2.0) did not write.
 * The times of `id.ctime.touched` are read by a loop rather than a regular expression with
 * captures and `parseInt` (which V8 runs in C++): this runs on every request that reads a session.
 * `authenticated`: see {@link decodePayloadText}; it applies to `id.ctime.touched` only, the
 * form only this middleware writes (a bare id, or 2.0's JSON, is always checked in full).
 */
export function decodeIdValue(value: string, authenticated = false): CookieContents | undefined {
  if (value.charCodeAt(0) === 123 /* { */) return decodeLegacy(value, false);
  const usual = usualTimes(value, authenticated);
  if (usual !== undefined) return usual;
  // The two times are short, so their dots are found from the end, a few characters each:
  // two searches of the whole value (indexOf) cost more than the rest of the decoding.
  const lastDot = dotBefore(value, value.length);
  const dot = lastDot > 0 ? dotBefore(value, lastDot) : -1;
  if (dot > 0) {
    const sid = value.slice(0, dot);
    // The id is what precedes the last two dots. Unauthenticated, it must be an id (no dot);
    // authenticated, it is one this middleware issued, so only its length is checked.
    if (authenticated ? dot <= MAX_ID_LENGTH : isSessionId(sid)) {
      const ctime = base36(value, dot + 1, lastDot);
      const touched = base36(value, lastDot + 1, value.length);
      if (ctime >= 0 && touched >= 0) return { sid, ctime, exp: undefined, touched, json: undefined };
    }
  }
  // A bare id, as a store-backed app might have been handed by another tool: accepted, no metadata.
  if (isSessionId(value)) return { sid: value, ctime: undefined, exp: undefined, touched: undefined, json: undefined };
  return undefined;
}

/** Digits of a time in milliseconds in base36 from mid-1972 to 2059: the times this middleware writes. */
const USUAL_TIME_DIGITS = 8;

/**
 * {@link decodeIdValue} of an `id.ctime.touched` whose times have the usual 8 digits, so its
 * dots are 9 and 18 characters from the end. Each character is read once, where looking back
 * for the dots reads the times twice; a read costs some 30 instructions on the slice of the
 * Cookie header the value is. Both times parsing means neither holds a dot, so these are the
 * last two dots, as the general way finds them. Undefined when the value is not of that shape:
 * the caller then decodes it the general way.
 */
function usualTimes(value: string, authenticated: boolean): CookieContents | undefined {
  const lastDot = value.length - USUAL_TIME_DIGITS - 1;
  const dot = lastDot - USUAL_TIME_DIGITS - 1;
  if (dot <= 0 || dot > MAX_ID_LENGTH || value.charCodeAt(lastDot) !== 46 /* . */ || value.charCodeAt(dot) !== 46) return undefined;
  const touched = base36(value, lastDot + 1, value.length);
  if (touched < 0) return undefined;
  const ctime = base36(value, dot + 1, lastDot);
  if (ctime < 0) return undefined;
  const sid = value.slice(0, dot);
  // As in the general way: unauthenticated, the id must be one (no dot); authenticated, only its length is checked.
  if (!authenticated && !isSessionId(sid)) return undefined;
  return { sid, ctime, exp: undefined, touched, json: undefined };
}

/** Where the '.' before `end` is, looking back only as far as a base36 time and its dot reach (12 characters); -1 when not there. */
function dotBefore(text: string, end: number): number {
  const stop = end > 12 ? end - 12 : 0;
  for (let i = end - 1; i >= stop; i--) if (text.charCodeAt(i) === 46 /* . */) return i;
  return -1;
}

/** The number `text[start, end)` spells in base36 (digits and lowercase letters, 1 to 11 of them); -1 for anything else. */
function base36(text: string, start: number, end: number): number {
  if (end <= start || end - start > 11) return -1;
  let number = 0;
  for (let i = start; i < end; i++) {
    const code = text.charCodeAt(i);
    let digit: number;
    if (code >= 48 && code <= 57) digit = code - 48;
    else if (code >= 97 && code <= 122) digit = code - 87;
    else return -1;
    number = number * 36 + digit;
  }
  return number;
}

/** koa-session-store 2.0 wrote `JSON.stringify({ _sid, ...data })` as the raw cookie value. */
function decodeLegacy(value: string, withData: boolean): CookieContents | undefined {
  const parsed = parseSessionJson(value);
  if (parsed === undefined) return undefined;
  const sid = parsed._sid;
  if (typeof sid !== 'string' || !isSessionId(sid)) return undefined;
  delete parsed._sid;
  return { sid, ctime: undefined, exp: undefined, touched: undefined, json: withData ? JSON.stringify(parsed) : undefined };
}

/** A parsed session: a plain object whose own keys are the data. */
export type SessionRecord = Record<string, unknown>;

// JSON.parse makes `__proto__` an own property (no pollution by itself), but
// code that later copies the session with Object.assign or a spread would
// replace that object's prototype. Such keys are dropped while parsing; the
// reviver only runs when the text could hold one (directly or \u-escaped).
function dropProtoKeys(this: unknown, key: string, value: unknown): unknown {
  return key === '__proto__' ? undefined : value;
}

/**
 * How deeply session JSON may nest. V8's JSON.stringify recurses and overflows
 * the stack a few thousand levels down, so text nested deeper than this would
 * parse but then fail every write; no real session comes near it.
 */
export const MAX_NESTING = 256;

/** Parses session JSON; undefined unless it is a JSON object nested at most {@link MAX_NESTING} deep. Never throws. */
export function parseSessionJson(text: string): SessionRecord | undefined {
  if (nestsDeeperThan(text, MAX_NESTING)) return undefined;
  let value: unknown;
  try {
    value = text.includes('__proto__') || text.includes('\\u') ? JSON.parse(text, dropProtoKeys) : JSON.parse(text);
  } catch {
    return undefined;
  }
  if (value === null || typeof value !== 'object' || Array.isArray(value)) return undefined;
  return value as SessionRecord;
}

/**
 * True when JSON text opens more than `limit` objects or arrays inside each
 * other. Text shorter than twice the limit cannot, so common sessions skip
 * the scan. Brackets inside strings do not count.
 */
export function nestsDeeperThan(text: string, limit: number): boolean {
  if (text.length <= limit * 2) return false;
  let depth = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const code = text.charCodeAt(i);
    if (inString) {
      if (code === 92 /* backslash: skip the escaped character */) i++;
      else if (code === 34 /* " */) inString = false;
    } else if (code === 34) inString = true;
    else if (code === 123 /* { */ || code === 91 /* [ */) {
      if (++depth > limit) return true;
    } else if (code === 125 /* } */ || code === 93 /* ] */) depth--;
  }
  return false;
}

/** True for the values `ctx.session` may hold: objects whose prototype is Object.prototype or null. */
export function isPlainObject(value: unknown): value is SessionRecord {
  if (value === null || typeof value !== 'object') return false;
  const proto: unknown = Object.getPrototypeOf(value);
  return proto === Object.prototype || proto === null;
}
