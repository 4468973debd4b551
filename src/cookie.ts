import type { ServerResponse } from 'node:http';
import type { ResolvedCookieOptions } from './options.js';

/** The most a browser keeps for one cookie (RFC 6265 section 6.1 asks for at least 4096 bytes). */
export const COOKIE_SIZE_LIMIT = 4096;

const EXPIRED = 'Thu, 01 Jan 1970 00:00:00 GMT';

/**
 * Builds a matcher for one cookie name, once per middleware: the same rule as
 * the `cookies` package (`(?:^|;) *name=([^;]*)`), so both read the same value.
 */
export function cookieMatcher(name: string): RegExp {
  return new RegExp(`(?:^|;) *${name.replace(/[-[\]{}()*+?.,\\^$|#\s]/g, '\\$&')}=([^;]*)`);
}

/** The raw value of the cookie `matcher` was built for, or undefined. */
export function readCookie(header: string | undefined, matcher: RegExp): string | undefined {
  if (header === undefined) return undefined;
  const match = matcher.exec(header);
  return match === null ? undefined : match[1];
}

/**
 * The attribute part of a `Set-Cookie` header (everything after `name=value`),
 * built once and shared by the session cookie and its signature. Spelling
 * follows the `cookies` package, plus Max-Age beside Expires for clients that
 * prefer it. `maxAge` undefined makes a browser-session cookie; 0 expires it now.
 */
export function cookieAttributes(options: ResolvedCookieOptions, maxAge: number | undefined, secure: boolean, now: number): string {
  let attributes = `; path=${options.path}`;
  if (maxAge === 0) attributes += `; expires=${EXPIRED}`;
  else if (maxAge !== undefined) {
    attributes += `; max-age=${Math.floor(maxAge / 1000)}; expires=${new Date(now + maxAge).toUTCString()}`;
  }
  if (options.domain !== undefined) attributes += `; domain=${options.domain}`;
  if (options.priority !== undefined) attributes += `; priority=${options.priority}`;
  if (options.sameSite !== false) attributes += `; samesite=${options.sameSite}`;
  if (secure) attributes += '; secure';
  if (options.httpOnly) attributes += '; httponly';
  if (options.partitioned) attributes += '; partitioned';
  return attributes;
}

/**
 * Adds `headers` to the response's Set-Cookie list. With `overwrite`, earlier
 * entries for the same cookie names are dropped first, as `cookies` does.
 */
export function appendSetCookies(res: ServerResponse, headers: readonly string[], names: readonly string[], overwrite: boolean): void {
  const existing = res.getHeader('Set-Cookie');
  if (existing === undefined) {
    res.setHeader('Set-Cookie', headers as string[]);
    return;
  }
  let list = Array.isArray(existing) ? existing.slice() : [String(existing)];
  if (overwrite) list = list.filter((entry) => !names.some((name) => entry.startsWith(`${name}=`)));
  for (const header of headers) list.push(header);
  res.setHeader('Set-Cookie', list);
}
