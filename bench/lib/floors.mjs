// The floor references: not session libraries, but bare Koa plus only the work
// a session of a given format cannot avoid, written as directly as Node allows.
// A contender's requests/s over its floor's says how much of the possible
// speed it reaches on the machine at hand. Each floor makes cookies of the
// same format and size as the contender it bounds, so it also mints the
// cookies it is measured with (and the signed one mints bare Koa's).
//
//   signed  cookie store: ["id",ctime,exp,{data}] base64url + name.sig HMAC-SHA1
//   sealed  cookie store with encrypt: true: one XChaCha20-Poly1305 value
//   store   a server store: signed `id.ctime.touched` cookie, data in a Map
//
// Per workload (the handler's part is in app.mjs's bare handler):
//   new    signed: uuid, payload, one HMAC, two Set-Cookie; sealed: uuid, payload,
//          one seal, one Set-Cookie; store: uuid, JSON, Map.set, one base36 time, one HMAC,
//          two Set-Cookie
//   read   signed: find both cookies, one HMAC verify, base64url + JSON decode;
//          sealed: find the cookie, one open, JSON parse; store: find both
//          cookies, one HMAC verify, split the id, Map.get, JSON parse
//   write  the read, then: signed/sealed as new but keeping id and ctime; store:
//          JSON.stringify and Map.set (no Set-Cookie: the id cookie does not change)
//   none   bare Koa (nothing is due; no floor server runs)
// A cookie that fails any check answers 409, counted as failed.
// Every HMAC-SHA1 is computed as the middleware computes it (src/hmac-sha1.ts, from
// the build under test), so the floors' signatures cost what the middleware's do.
import { hkdfSync, randomUUID } from 'node:crypto';
import { createRequire } from 'node:module';
import { loadEntry } from './package.mjs';

const require = createRequire(import.meta.url);

const NAME = 'koa:sess';
const SIG = 'koa:sess.sig';
const ATTRIBUTES = '; path=/; samesite=lax; httponly';
const DAY = 86_400_000;

// The searched-for prefixes as literals: flat strings. One joined per call (`; ${prefix}`) is a
// rope, and indexOf with a rope as its pattern flattens it through the runtime every time.
const VALUE_PREFIX = { at: 'koa:sess=', after: '; koa:sess=' };
const SIG_PREFIX = { at: 'koa:sess.sig=', after: '; koa:sess.sig=' };

/** The value of cookie `prefix` (VALUE_PREFIX or SIG_PREFIX) in `header`: the first at the start or after '; '. */
function findCookie(header, prefix) {
  if (header === undefined) return undefined;
  let at = header.startsWith(prefix.at) ? 0 : header.indexOf(prefix.after);
  if (at < 0) return undefined;
  if (at > 0) at += 2;
  const start = at + prefix.at.length;
  const end = header.indexOf(';', start);
  return end < 0 ? header.slice(start) : header.slice(start, end);
}

function rejected(ctx) {
  ctx.status = 409;
}

/**
 * HMAC-SHA1 of `koa:sess=value` with the first app key, as the `cookies` package signs,
 * computed the way this package computes it (src/hmac-sha1.ts, from the build under test),
 * so a floor's HMAC costs what the middleware's does: the cheapest way known here.
 */
async function signer(app) {
  const { hmacKey, hmacSha1, hmacSha1Matches } = await loadEntry('hmac-sha1');
  const key = hmacKey(app.keys[0]);
  const sign = (value) => hmacSha1(key, `${NAME}=${value}`);
  const verified = (value, signature) => signature !== undefined && hmacSha1Matches(key, `${NAME}=${value}`, signature);
  return { sign, verified };
}

/**
 * A time in base36 as the middleware writes it into a server store's id cookie (src/base36-time.ts,
 * from the build under test: a table of digit pairs, cheaper than Number#toString(36)).
 */
async function base36() {
  const entry = await loadEntry('base36-time');
  return entry?.base36Time ?? ((time) => time.toString(36));
}

let counter = 1;
// Minted sessions carry a user number, as the sessions app.mjs makes through a contender do.
let users = 0;

// ---- signed cookie ----------------------------------------------------------------

/** The signed cookie store's floor. Resolves to { middleware, mintCookie }. */
export async function signedFloor(app, handler) {
  const { sign, verified } = await signer(app);
  const payload = (sid, ctime, now, data) => Buffer.from(`["${sid}",${ctime},${now + DAY},${JSON.stringify(data)}]`).toString('base64url');
  const setCookies = (ctx, value) => ctx.res.setHeader('Set-Cookie', [`${NAME}=${value}${ATTRIBUTES}`, `${SIG}=${sign(value)}${ATTRIBUTES}`]);
  function load(ctx) {
    const header = ctx.req.headers.cookie;
    const value = findCookie(header, VALUE_PREFIX);
    if (value === undefined || !verified(value, findCookie(header, SIG_PREFIX))) return undefined;
    const parsed = JSON.parse(Buffer.from(value, 'base64url').toString('utf8'));
    return parsed[2] > Date.now() ? parsed : undefined;
  }
  const mintCookie = () => {
    const now = Date.now();
    const value = payload(randomUUID(), now, now, { n: 1, user: ++users });
    return `${NAME}=${value}; ${SIG}=${sign(value)}`;
  };
  const middlewares = {
    async new(ctx, next) {
      await next();
      const now = Date.now();
      setCookies(ctx, payload(randomUUID(), now, now, { n: 1 }));
    },
    async read(ctx, next) {
      const session = load(ctx);
      if (session?.[3].n !== 1) rejected(ctx);
      await next();
    },
    async write(ctx, next) {
      const session = load(ctx);
      if (session === undefined) rejected(ctx);
      await next();
      if (session === undefined) return;
      const [sid, ctime, , data] = session;
      data.n = ++counter;
      setCookies(ctx, payload(sid, ctime, Date.now(), data));
    },
  };
  return { middleware: middlewares[handler] ?? null, mintCookie };
}

// ---- sealed cookie ----------------------------------------------------------------

const HEADER = 5;
const NONCE = 24;
const TAG = 16;

/** The sealed cookie store's floor (needs sodium-native). Returns { middleware, mintCookie }. */
export function sealedFloor(app, handler) {
  const sodium = require('sodium-native');
  const material = Buffer.from(hkdfSync('sha256', Buffer.from(app.keys[0]), Buffer.from('bench floor'), Buffer.from('key'), 36));
  const key = material.subarray(0, 32);
  const associated = Buffer.concat([Buffer.from([1]), material.subarray(32), Buffer.from(NAME)]);
  const out = Buffer.alloc(8192);
  const plain = Buffer.alloc(8192);
  // Nonces drawn 128 at a time, as the sealed cookie store does.
  const nonces = Buffer.alloc(NONCE * 128);
  let nonceAt = nonces.length;

  function seal(text) {
    const length = plain.write(text, 0, 'utf8');
    const total = HEADER + NONCE + length + TAG;
    associated.copy(out, 0, 0, HEADER);
    if (nonceAt === nonces.length) {
      sodium.randombytes_buf(nonces);
      nonceAt = 0;
    }
    nonces.copy(out, HEADER, nonceAt, nonceAt + NONCE);
    nonceAt += NONCE;
    sodium.crypto_aead_xchacha20poly1305_ietf_encrypt(
      out.subarray(HEADER + NONCE, total),
      plain.subarray(0, length),
      associated,
      null,
      out.subarray(HEADER, HEADER + NONCE),
      key,
    );
    return out.toString('base64url', 0, total);
  }
  function open(value) {
    const size = out.write(value, 0, 'base64url');
    if (size < HEADER + NONCE + TAG) return undefined;
    const length = size - HEADER - NONCE - TAG;
    try {
      sodium.crypto_aead_xchacha20poly1305_ietf_decrypt(plain.subarray(0, length), null, out.subarray(HEADER + NONCE, size), associated, out.subarray(HEADER, HEADER + NONCE), key);
    } catch {
      return undefined;
    }
    return plain.toString('utf8', 0, length);
  }
  const payload = (sid, ctime, now, data) => seal(`["${sid}",${ctime},${now + DAY},${JSON.stringify(data)}]`);
  const setCookie = (ctx, value) => ctx.res.setHeader('Set-Cookie', `${NAME}=${value}${ATTRIBUTES}`);
  function load(ctx) {
    const value = findCookie(ctx.req.headers.cookie, VALUE_PREFIX);
    const text = value === undefined ? undefined : open(value);
    if (text === undefined) return undefined;
    const parsed = JSON.parse(text);
    return parsed[2] > Date.now() ? parsed : undefined;
  }
  const mintCookie = () => {
    const now = Date.now();
    return `${NAME}=${payload(randomUUID(), now, now, { n: 1, user: ++users })}`;
  };
  const middlewares = {
    async new(ctx, next) {
      await next();
      const now = Date.now();
      setCookie(ctx, payload(randomUUID(), now, now, { n: 1 }));
    },
    async read(ctx, next) {
      if (load(ctx)?.[3].n !== 1) rejected(ctx);
      await next();
    },
    async write(ctx, next) {
      const session = load(ctx);
      if (session === undefined) rejected(ctx);
      await next();
      if (session === undefined) return;
      const [sid, ctime, , data] = session;
      data.n = ++counter;
      setCookie(ctx, payload(sid, ctime, Date.now(), data));
    },
  };
  return { middleware: middlewares[handler] ?? null, mintCookie };
}

// ---- server store -----------------------------------------------------------------

/** A server store's floor: a signed id cookie and the data's JSON in a Map. Resolves to { middleware, mintCookie }. */
export async function storeFloor(app, handler) {
  const { sign, verified } = await signer(app);
  const base36Time = await base36();
  const entries = new Map();
  const setCookies = (ctx, value) => ctx.res.setHeader('Set-Cookie', [`${NAME}=${value}${ATTRIBUTES}`, `${SIG}=${sign(value)}${ATTRIBUTES}`]);
  function create(data) {
    const sid = randomUUID();
    const now = base36Time(Date.now());
    entries.set(sid, JSON.stringify(data));
    return `${sid}.${now}.${now}`;
  }
  function load(ctx) {
    const header = ctx.req.headers.cookie;
    const value = findCookie(header, VALUE_PREFIX);
    if (value === undefined || !verified(value, findCookie(header, SIG_PREFIX))) return undefined;
    const sid = value.slice(0, value.indexOf('.'));
    const json = entries.get(sid);
    return json === undefined ? undefined : { sid, data: JSON.parse(json) };
  }
  const mintCookie = () => {
    const value = create({ n: 1, user: ++users });
    return `${NAME}=${value}; ${SIG}=${sign(value)}`;
  };
  const middlewares = {
    async new(ctx, next) {
      await next();
      setCookies(ctx, create({ n: 1 }));
    },
    async read(ctx, next) {
      if (load(ctx)?.data.n !== 1) rejected(ctx);
      await next();
    },
    async write(ctx, next) {
      const session = load(ctx);
      if (session === undefined) rejected(ctx);
      await next();
      if (session === undefined) return;
      session.data.n = ++counter;
      entries.set(session.sid, JSON.stringify(session.data));
    },
  };
  return { middleware: middlewares[handler] ?? null, mintCookie, store: entries };
}

// ---- Redis ------------------------------------------------------------------------

/**
 * RedisStore's floor: the store floor's signed id cookie with the data's JSON
 * in Redis instead of a Map: one GET (read), one SET with PX (new, write), on
 * an ioredis client with auto-pipelining, as directly as ioredis allows.
 * Resolves to { middleware, mintCookie, close }.
 */
export async function redisFloor(app, handler, client, prefix) {
  const { sign, verified } = await signer(app);
  const base36Time = await base36();
  const setCookies = (ctx, value) => ctx.res.setHeader('Set-Cookie', [`${NAME}=${value}${ATTRIBUTES}`, `${SIG}=${sign(value)}${ATTRIBUTES}`]);
  async function create(data) {
    const sid = randomUUID();
    const now = base36Time(Date.now());
    await client.set(prefix + sid, JSON.stringify(data), 'PX', DAY);
    return `${sid}.${now}.${now}`;
  }
  async function load(ctx) {
    const header = ctx.req.headers.cookie;
    const value = findCookie(header, VALUE_PREFIX);
    if (value === undefined || !verified(value, findCookie(header, SIG_PREFIX))) return undefined;
    const sid = value.slice(0, value.indexOf('.'));
    const json = await client.get(prefix + sid);
    return json === null ? undefined : { sid, data: JSON.parse(json) };
  }
  const mintCookie = async () => {
    const value = await create({ n: 1, user: ++users });
    return `${NAME}=${value}; ${SIG}=${sign(value)}`;
  };
  const middlewares = {
    async new(ctx, next) {
      await next();
      setCookies(ctx, await create({ n: 1 }));
    },
    async read(ctx, next) {
      if ((await load(ctx))?.data.n !== 1) rejected(ctx);
      await next();
    },
    async write(ctx, next) {
      const session = await load(ctx);
      if (session === undefined) rejected(ctx);
      await next();
      if (session === undefined) return;
      session.data.n = ++counter;
      await client.set(prefix + session.sid, JSON.stringify(session.data), 'PX', DAY);
    },
  };
  return { middleware: middlewares[handler] ?? null, mintCookie, close: () => client.quit() };
}
