// A store's error becomes the `cause` of the 503 the middleware raises, and
// applications log it whole (`util.inspect`, pino's err serializer, Sentry).
// Drivers hang the failed command on their errors (ioredis `command.args`
// holds the key, so the session id, and the session's JSON; pg's `detail`
// quotes row values), so before an error leaves the middleware everything but
// what says *what* failed is taken off it, and the session id and the data the
// call carried are cut out of its message and stack.

/** Own properties that say what failed and never carry a command's arguments or a row's values. */
const KEPT = new Set<PropertyKey>([
  'name',
  'message',
  'stack',
  'cause',
  'code',
  'errno',
  'syscall',
  'address',
  'port',
  'severity',
  'routine',
  'schema',
  'table',
  'column',
  'constraint',
  'dataType',
  'file',
  'line',
]);

/** Shorter strings are too common in messages to cut out, and too short to be a session's data worth hiding. */
const MIN_SECRET_LENGTH = 6;
const MAX_CHAIN = 8;
const REDACTED = '[redacted]';

/**
 * The strings a store call carried that must not reach a log: the session id
 * (always) and every string of 6 characters or more among the other arguments
 * (the session's JSON, a patch's keys, values, base and result).
 */
export function secretsOf(args: readonly unknown[]): string[] {
  const secrets: string[] = [];
  const [sid, ...rest] = args;
  if (typeof sid === 'string' && sid !== '') secrets.push(sid);
  const collect = (value: unknown, depth: number): void => {
    if (typeof value === 'string') {
      if (value.length >= MIN_SECRET_LENGTH) secrets.push(value);
    } else if (value !== null && typeof value === 'object' && depth < 3) {
      for (const [key, inner] of Object.entries(value)) {
        collect(key, depth + 1);
        collect(inner, depth + 1);
      }
    }
  };
  for (const value of rest) collect(value, 0);
  // Longest first, so a key that contains the id is cut out whole.
  return secrets.sort((a, b) => b.length - a.length);
}

/**
 * Takes off `error` (and each error in its `cause` chain) every own property
 * but those in {@link KEPT}, and cuts `secrets` out of messages and stacks.
 * The error object itself is kept, so `error.cause === storeError` still holds
 * and its class and code still tell what failed. Non-error causes (a rejected
 * string, a plain object) become an Error with the redacted text.
 */
export function redactError(error: unknown, secrets: readonly string[]): unknown {
  return redactOne(error, secrets, new Set(), 0);
}

function redactOne(error: unknown, secrets: readonly string[], seen: Set<object>, depth: number): unknown {
  if (typeof error === 'string') return new Error(cut(error, secrets));
  if (error === null || (typeof error !== 'object' && typeof error !== 'function')) return error;
  if (!(error instanceof Error)) return new Error(`a ${describe(error)} was thrown; its content is not shown`);
  if (seen.has(error) || depth >= MAX_CHAIN) return error;
  seen.add(error);
  for (const key of Reflect.ownKeys(error)) {
    if (!KEPT.has(key)) {
      dropProperty(error, key);
      continue;
    }
    const value: unknown = (error as unknown as Record<PropertyKey, unknown>)[key];
    if (key === 'cause') setProperty(error, key, redactOne(value, secrets, seen, depth + 1));
    else if (typeof value === 'string') {
      const text = cut(value, secrets);
      if (text !== value) setProperty(error, key, text);
    } else if (value !== null && typeof value === 'object') dropProperty(error, key);
  }
  return error;
}

function cut(text: string, secrets: readonly string[]): string {
  let result = text;
  for (const secret of secrets) if (result.includes(secret)) result = result.split(secret).join(REDACTED);
  return result;
}

function dropProperty(target: object, key: PropertyKey): void {
  if (!Reflect.deleteProperty(target, key)) setProperty(target, key, undefined);
}

function setProperty(target: object, key: PropertyKey, value: unknown): void {
  if (!Reflect.set(target, key, value)) {
    Reflect.defineProperty(target, key, { value, writable: true, configurable: true, enumerable: false });
  }
}

function describe(value: object): string {
  return Array.isArray(value) ? 'array' : typeof value === 'function' ? 'function' : 'non-Error object';
}
