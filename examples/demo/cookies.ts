// What the browser is told in Set-Cookie, shown the way a client can read it:
// the signed cookie store's value is base64url of plain JSON (decoded here), a
// sealed value is opaque, a server store's cookie carries only the id. The id
// itself never reaches the page: it is the key to the session.
import { createHash } from 'node:crypto';

/** A short, stable, non-secret name for a session id, computed by the demo: the page never shows the id itself. */
export function displayHandle(sid: string): string {
  return createHash('sha256').update(`koa-session-store demo\u0000${sid}`).digest('base64url').slice(0, 12);
}

export interface ShownCookie {
  readonly name: string;
  /** The value as a client can read it, ids masked. */
  readonly value: string;
  /** What the value is, in a few words. */
  readonly note: string;
  readonly attributes: string;
  /** The Expires attribute, when there is one. */
  readonly expires: string | undefined;
  readonly removed: boolean;
}

const HIDDEN_ID = '‹session id: not shown›';

function maskId(value: string, sid: string | undefined): string {
  return sid === undefined || sid === '' ? value : value.split(sid).join(HIDDEN_ID);
}

/** Decodes the cookie store's payload (`["<id>",created,expires,{data}]`, base64url or percent-escaped). */
function decodeSigned(value: string): string | undefined {
  try {
    const text = value.startsWith('[') ? decodeURIComponent(value) : Buffer.from(value, 'base64url').toString('utf8');
    return text.startsWith('[') ? text : undefined;
  } catch {
    return undefined;
  }
}

export type CookieKind = 'signed' | 'sealed' | 'server';

/** Describes one Set-Cookie header line of the session middleware for the page. */
export function showSetCookie(line: string, kind: CookieKind, sid: string | undefined): ShownCookie {
  const [pair = '', ...rest] = line.split(';');
  const equals = pair.indexOf('=');
  const name = pair.slice(0, equals).trim();
  const raw = pair.slice(equals + 1).trim();
  const attributes = rest.map((part) => part.trim()).join('; ');
  const expires = rest.map((part) => part.trim()).find((part) => /^expires=/i.test(part))?.slice('expires='.length);
  const removed = raw === '' || (expires !== undefined && Date.parse(expires) < Date.now());
  if (removed) return { name, value: '', note: 'removed: an empty value that expired in 1970', attributes, expires, removed };
  if (name.endsWith('.sig')) {
    return { name, value: raw, note: 'HMAC of the cookie above with app.keys[0]: a changed value no longer matches it', attributes, expires, removed };
  }
  if (kind === 'sealed') {
    const shown = raw.length > 64 ? `${raw.slice(0, 64)}…` : raw;
    return { name, value: shown, note: `sealed, ${raw.length} characters: key id up front, then nonce and ciphertext; the browser can read nothing of it`, attributes, expires, removed };
  }
  if (kind === 'signed') {
    const text = decodeSigned(raw);
    if (text !== undefined) {
      return { name, value: maskId(text, sid), note: `base64url of this JSON, ${raw.length} characters: [id, created, expires, data], readable by anyone holding the cookie`, attributes, expires, removed };
    }
  }
  // A server store's cookie: `<id>.<created>.<last written>`, times in base36 ms.
  const parts = raw.split('.');
  const shown = parts.length === 3 ? `${HIDDEN_ID}.${parts[1]}.${parts[2]}` : maskId(raw, sid);
  return { name, value: shown, note: 'only the session id (and when it was created and last written): the data stays on the server', attributes, expires, removed };
}
