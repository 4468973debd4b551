import { debuglog } from 'node:util';

/**
 * Debug output, enabled with `NODE_DEBUG=koa-session-store`. Messages name
 * events and ids' lengths at most: never session data, cookie values or keys.
 */
export const debug = debuglog('koa-session-store');

const warned = new Set<string>();

/** Emits a process warning once per process for each `code`. */
export function warnOnce(code: string, message: string): void {
  if (warned.has(code)) return;
  warned.add(code);
  process.emitWarning(message, { code, type: 'KoaSessionStoreWarning' });
}
