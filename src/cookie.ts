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
 * One `Set-Cookie` header value. Attribute spelling follows the `cookies`
 * package, plus Max-Age beside Expires for clients that prefer it.
 * `maxAge` undefined makes a browser-session cookie; 0 expires the cookie now.
 */
export function serializeCookie(
  name: string,
  value: string,
  options: ResolvedCookieOptions,
  maxAge: number | undefined,
  secure: boolean,
  now: number,
): string {
  let header = `${name}=${value}; path=${options.path}`;
  if (maxAge === 0) header += `; expires=${EXPIRED}`;
  else if (maxAge !== undefined) {
    header += `; max-age=${Math.floor(maxAge / 1000)}; expires=${new Date(now + maxAge).toUTCString()}`;
  }
  if (options.domain !== undefined) header += `; domain=${options.domain}`;
  if (options.priority !== undefined) header += `; priority=${options.priority}`;
  if (options.sameSite !== false) header += `; samesite=${options.sameSite}`;
  if (secure) header += '; secure';
  if (options.httpOnly) header += '; httponly';
  if (options.partitioned) header += '; partitioned';
  return header;
}

/**
 * Adds `headers` to the response's Set-Cookie list. With `overwrite`, earlier
 * entries for the same cookie names are dropped first, as `cookies` does.
 */
export function appendSetCookies(res: ServerResponse, headers: readonly string[], names: readonly string[], overwrite: boolean): void {
  const existing = res.getHeader('Set-Cookie');
  let list: string[];
  if (existing === undefined) list = [];
  else if (Array.isArray(existing)) list = existing.slice();
  else list = [String(existing)];
  if (overwrite && list.length > 0) {
    list = list.filter((entry) => !names.some((name) => entry.startsWith(`${name}=`)));
  }
  for (const header of headers) list.push(header);
  res.setHeader('Set-Cookie', list);
}
