import type { ResolvedOptions } from '../options.js';
import { SessionCookie } from '../session-cookie.js';
import type { SessionCarrier } from './carrier.js';
import { SealedCookieCarrier } from './sealed-cookie.js';
import { ServerStoreCarrier } from './server-store.js';
import { SignedCookieCarrier } from './signed-cookie.js';

/** The carrier the options ask for: a server store, a sealed cookie, or (the default) a signed cookie. */
export function carrierFor(options: ResolvedOptions, warned: Set<string>): SessionCarrier {
  const cookie = new SessionCookie(options, warned);
  if (options.store !== undefined) return new ServerStoreCarrier(options, options.store, cookie);
  if (options.encrypt) return new SealedCookieCarrier(options, cookie);
  return new SignedCookieCarrier(options, cookie);
}
