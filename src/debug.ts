import { debuglog, format } from 'node:util';

const NAMESPACE = 'koa-session-store';

/**
 * True when the `DEBUG` variable, in the `debug` package's syntax (Koa and its
 * middleware use it), names this package: a comma- or space-separated list of
 * names with `*` wildcards, where a name starting with `-` excludes.
 */
export function debugEnabledBy(value: string | undefined, namespace = NAMESPACE): boolean {
  if (value === undefined || value === '') return false;
  let enabled = false;
  for (const pattern of value.split(/[\s,]+/)) {
    if (pattern === '') continue;
    const excluded = pattern.startsWith('-');
    const name = excluded ? pattern.slice(1) : pattern;
    const matcher = new RegExp(`^${name.replace(/[.+?^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*')}$`);
    if (!matcher.test(namespace)) continue;
    if (excluded) return false;
    enabled = true;
  }
  return enabled;
}

const fromNodeDebug = debuglog(NAMESPACE);
const fromDebug = debugEnabledBy(process.env.DEBUG);

/**
 * Debug output, enabled with `DEBUG=koa-session-store` (the `debug` package's
 * convention) or `NODE_DEBUG=koa-session-store`. Messages name events and
 * lengths at most: never session data, ids, cookie values or keys.
 */
export const debug: (message: string, ...args: unknown[]) => void = fromDebug
  ? (message, ...args) => {
      process.stderr.write(`${new Date().toISOString()} ${NAMESPACE} ${format(message, ...args)}\n`);
    }
  : fromNodeDebug;

const warned = new Set<string>();

/** Emits a process warning once per process for each `code`. */
export function warnOnce(code: string, message: string): void {
  if (warned.has(code)) return;
  warned.add(code);
  process.emitWarning(message, { code, type: 'KoaSessionStoreWarning' });
}
