// Applying a patch to a session's JSON text in JavaScript, for stores whose
// database cannot do it without losing keys (SQLite decodes `\ud800` to bytes
// that are not UTF-8, so a key it writes back is no longer the key it read).
import type { SessionPatch } from '../store.js';

const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const OPEN_BRACE = 0x7b;
const CLOSE_BRACE = 0x7d;
const OPEN_BRACKET = 0x5b;
const COLON = 0x3a;
const COMMA = 0x2c;
/** The characters that end a value or change its nesting; everything else inside a value is skipped. */
const STRUCTURAL = /["{}[\],]/g;

/**
 * The patched object as JSON text: every top-level member not named by `patch`
 * keeps its exact text (its key as spelled, its value as written: `1.50` stays
 * `1.50`, `"\ud800"` stays that escape), then the members `patch.set` adds.
 *
 * Keys are compared decoded, as JavaScript strings, so a key spelled with
 * escapes (`"\u0041"`) is the key `A`, and keys that a database would decode
 * alike (`"\ud800"` and `"\ud801"`) stay two keys. Throws a TypeError, and
 * returns nothing to write, when the stored text is not a JSON object or a
 * value in `set` is not JSON text; the messages never quote session data.
 */
export function patchJsonText(store: string, json: string, patch: SessionPatch): string {
  const set = patch.set;
  const setKeys = Object.keys(set);
  const drop = new Set<string>(patch.unset);
  const added: string[] = [];
  for (const key of setKeys) {
    const value: unknown = set[key];
    if (typeof value !== 'string' || !isJson(value)) {
      throw new TypeError(
        `koa-session-store: ${store}.patch needs each value of set as JSON text, got ${typeof value === 'string' ? 'text that is not JSON' : typeof value}; nothing was written`,
      );
    }
    drop.add(key);
    added.push(`${JSON.stringify(key)}:${value}`);
  }
  const kept = keptMembers(store, json, drop);
  if (kept.length > 0) added.unshift(...kept);
  return `{${added.join(',')}}`;
}

/**
 * The `key:value` texts of the top-level members of `json` whose decoded key
 * is not in `drop`. Only the top level is checked; a value is kept as it is.
 */
function keptMembers(store: string, json: string, drop: ReadonlySet<string>): string[] {
  const fail = (why: string): TypeError =>
    new TypeError(`koa-session-store: ${store}.patch found a stored session that is not a JSON object (${why}); it was left as it is`);
  const kept: string[] = [];
  let i = skipSpace(json, 0);
  if (json.charCodeAt(i) !== OPEN_BRACE) throw fail('it does not start with {');
  i = skipSpace(json, i + 1);
  if (json.charCodeAt(i) !== CLOSE_BRACE) {
    for (;;) {
      if (json.charCodeAt(i) !== QUOTE) throw fail('a key is not a string');
      const keyEnd = stringEnd(json, i) + 1;
      if (keyEnd === 0) throw fail('a key is not terminated');
      const keyText = json.slice(i, keyEnd);
      const key = decodeKey(keyText);
      if (key === undefined) throw fail('a key is not a valid JSON string');
      i = skipSpace(json, keyEnd);
      if (json.charCodeAt(i) !== COLON) throw fail('a key is not followed by :');
      const valueStart = skipSpace(json, i + 1);
      // valueEndOf stops only at the , or } that ends this member.
      i = valueEndOf(json, valueStart);
      if (i === -1) throw fail('a value is not terminated');
      const valueEnd = trimEnd(json, valueStart, i);
      if (valueEnd === valueStart) throw fail('a value is missing');
      if (!drop.has(key)) kept.push(`${keyText}:${json.slice(valueStart, valueEnd)}`);
      if (json.charCodeAt(i) === CLOSE_BRACE) break;
      i = skipSpace(json, i + 1);
    }
  }
  if (skipSpace(json, i + 1) !== json.length) throw fail('text follows the object');
  return kept;
}

function decodeKey(text: string): string | undefined {
  // Most keys have no escape: their text between the quotes is the key.
  if (text.indexOf('\\') === -1) return text.slice(1, -1);
  try {
    return JSON.parse(text) as string;
  } catch {
    return undefined;
  }
}

/** Index of the quote that closes the string opening at `start`, or -1. */
function stringEnd(json: string, start: number): number {
  let from = start + 1;
  for (;;) {
    const quote = json.indexOf('"', from);
    if (quote === -1) return -1;
    // A quote is escaped when an odd number of backslashes precede it.
    let backslashes = 0;
    while (json.charCodeAt(quote - 1 - backslashes) === BACKSLASH) backslashes += 1;
    if (backslashes % 2 === 0) return quote;
    from = quote + 1;
  }
}

/**
 * Index of the top-level `,` or `}` that ends the value starting at `start`
 * (strings are jumped over whole, so brackets and commas in them do not
 * count), or -1 when the text ends first or the brackets do not balance.
 */
function valueEndOf(json: string, start: number): number {
  let depth = 0;
  STRUCTURAL.lastIndex = start;
  for (;;) {
    const match = STRUCTURAL.exec(json);
    if (match === null) return -1;
    const at = match.index;
    const c = json.charCodeAt(at);
    if (c === QUOTE) {
      const end = stringEnd(json, at);
      if (end === -1) return -1;
      STRUCTURAL.lastIndex = end + 1;
    } else if (c === OPEN_BRACE || c === OPEN_BRACKET) {
      depth += 1;
    } else if (depth > 0) {
      if (c !== COMMA) depth -= 1;
    } else if (c === COMMA || c === CLOSE_BRACE) {
      return at;
    } else {
      return -1; // a ] closing nothing
    }
  }
}

function skipSpace(json: string, from: number): number {
  let i = from;
  for (;;) {
    const c = json.charCodeAt(i);
    if (c !== 0x20 && c !== 0x0a && c !== 0x0d && c !== 0x09) return i;
    i += 1;
  }
}

/** Index just after the last non-whitespace character of `json` in [start, end). */
function trimEnd(json: string, start: number, end: number): number {
  let last = end;
  while (last > start) {
    const c = json.charCodeAt(last - 1);
    if (c !== 0x20 && c !== 0x0a && c !== 0x0d && c !== 0x09) break;
    last -= 1;
  }
  return last;
}

function isJson(text: string): boolean {
  try {
    JSON.parse(text);
    return true;
  } catch {
    return false;
  }
}
