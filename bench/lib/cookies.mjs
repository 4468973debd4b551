/**
 * Builds a Cookie request header from Set-Cookie response lines, keeping the
 * cookies that carry a value (an emptied cookie is a deletion). Values may end
 * in '=' (base64 padding), so only the part after the first '=' is checked.
 */
export function cookieHeader(setCookieLines) {
  const pairs = [];
  for (const line of setCookieLines ?? []) {
    const pair = line.split(';', 1)[0].trim();
    const eq = pair.indexOf('=');
    if (eq > 0 && eq < pair.length - 1) pairs.push(pair);
  }
  return pairs.join('; ');
}
