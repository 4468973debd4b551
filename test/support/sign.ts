import { createHmac } from 'node:crypto';

/** A `name=value; name.sig=…` Cookie header signed the way `cookies`/keygrip sign, for forging test cookies. */
export function signedCookie(name: string, value: string, key = 'k1'): string {
  const signature = createHmac('sha1', key).update(`${name}=${value}`).digest('base64url');
  return `${name}=${value}; ${name}.sig=${signature}`;
}

/** A cookie-store value as this package writes it, from any payload text. */
export function payloadValue(text: string): string {
  return Buffer.from(text, 'utf8').toString('base64url');
}
