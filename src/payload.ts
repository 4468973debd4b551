// What the session cookie's value holds, and the parsing of session JSON.
//
// Cookie store: base64url of the session JSON with its metadata first:
//   {"_sid":"<id>","_ctime":<ms>[,"_exp":<ms>], ...the data's own keys}
// The data's JSON is recovered as text from behind that prefix, so change
// detection compares strings without a second JSON.stringify, and a data key
// that happens to be called `_sid` stays ordinary data.
//
// Server stores: `<id>.<creation time>.<last write or touch>` (times in base36
// ms), never session data.
//
// Both also accept koa-session-store 2.0's raw JSON value `{"_sid":"…",…}`.

/** What the middleware accepts as a session id: its own ids and the original's 15-character ones. */
export const SESSION_ID = /^[A-Za-z0-9_-]{1,128}$/;

const BASE64URL = /^[A-Za-z0-9_-]+$/;
const PAYLOAD_PREFIX = /^\{"_sid":"([A-Za-z0-9_-]{1,128})","_ctime":(\d{1,15})(?:,"_exp":(\d{1,15}))?([,}])/;
const ID_VALUE = /^([A-Za-z0-9_-]{1,128})\.([0-9a-z]{1,11})\.([0-9a-z]{1,11})$/;

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

export function encodeCookiePayload(sid: string, ctime: number, exp: number | undefined, json: string): string {
  let text = `{"_sid":"${sid}","_ctime":${ctime}`;
  if (exp !== undefined) text += `,"_exp":${exp}`;
  text += json === '{}' ? '}' : `,${json.slice(1)}`;
  return Buffer.from(text, 'utf8').toString('base64url');
}

export function encodeIdValue(sid: string, ctime: number, touched: number): string {
  return `${sid}.${ctime.toString(36)}.${touched.toString(36)}`;
}

/** Decodes a cookie-store value; undefined for anything this middleware (or 2.0) did not write. */
export function decodeCookiePayload(value: string): CookieContents | undefined {
  if (value.charCodeAt(0) === 123 /* { */) return decodeLegacy(value, true);
  if (!BASE64URL.test(value)) return undefined;
  const text = Buffer.from(value, 'base64url').toString('utf8');
  const match = PAYLOAD_PREFIX.exec(text);
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

/** Decodes a server-store value; undefined for anything this middleware (or 2.0) did not write. */
export function decodeIdValue(value: string): CookieContents | undefined {
  if (value.charCodeAt(0) === 123 /* { */) return decodeLegacy(value, false);
  const match = ID_VALUE.exec(value);
  if (match !== null) {
    return {
      sid: match[1] as string,
      ctime: parseInt(match[2] as string, 36),
      exp: undefined,
      touched: parseInt(match[3] as string, 36),
      json: undefined,
    };
  }
  // A bare id, as a store-backed app might have been handed by another tool: accepted, no metadata.
  if (SESSION_ID.test(value)) return { sid: value, ctime: undefined, exp: undefined, touched: undefined, json: undefined };
  return undefined;
}

/** koa-session-store 2.0 wrote `JSON.stringify({ _sid, ...data })` as the raw cookie value. */
function decodeLegacy(value: string, withData: boolean): CookieContents | undefined {
  const parsed = parseSessionJson(value);
  if (parsed === undefined) return undefined;
  const sid = parsed._sid;
  if (typeof sid !== 'string' || !SESSION_ID.test(sid)) return undefined;
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

/** Parses session JSON; undefined unless it is a JSON object. Never throws. */
export function parseSessionJson(text: string): SessionRecord | undefined {
  let value: unknown;
  try {
    value = text.includes('__proto__') || text.includes('\\u') ? JSON.parse(text, dropProtoKeys) : JSON.parse(text);
  } catch {
    return undefined;
  }
  if (value === null || typeof value !== 'object' || Array.isArray(value)) return undefined;
  return value as SessionRecord;
}

/** True for the values `ctx.session` may hold: objects whose prototype is Object.prototype or null. */
export function isPlainObject(value: unknown): value is SessionRecord {
  if (value === null || typeof value !== 'object') return false;
  const proto: unknown = Object.getPrototypeOf(value);
  return proto === Object.prototype || proto === null;
}
