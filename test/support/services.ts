// Finds the real services the store suites need. In CI (CI=true) a missing
// service is a failure, never a skip; on a developer's machine the suite is
// skipped and says so loudly, once per service.
import net from 'node:net';

export const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
export const DATABASE_URL = process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test';

function reachable(url: string, defaultPort: number): Promise<boolean> {
  const { hostname, port } = new URL(url);
  return new Promise((resolve) => {
    const socket = net.connect({ host: hostname, port: Number(port || defaultPort) });
    socket.setTimeout(2000);
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('timeout', () => {
      socket.destroy();
      resolve(false);
    });
    socket.once('error', () => resolve(false));
  });
}

async function skipReason(name: string, url: string, defaultPort: number): Promise<string | false> {
  if (await reachable(url, defaultPort)) return false;
  const reason = `${name} is not reachable at ${url}`;
  if (process.env.CI) throw new Error(`${reason}: in CI the ${name} suites must run, never be skipped`);
  process.stderr.write(`\n*** SKIPPING ${name} suites: ${reason} (set ${name === 'Redis' ? 'REDIS_URL' : 'DATABASE_URL'}) ***\n\n`);
  return reason;
}

/** `false` when Redis answers, else the reason to skip (outside CI only). */
export function redisSkip(): Promise<string | false> {
  return skipReason('Redis', REDIS_URL, 6379);
}

/** `false` when PostgreSQL answers, else the reason to skip (outside CI only). */
export function postgresSkip(): Promise<string | false> {
  return skipReason('PostgreSQL', DATABASE_URL, 5432);
}

/** A prefix unique to this test run, so parallel runs never share keys, tables or schemas. */
export function runTag(): string {
  return `t${process.pid}_${Date.now().toString(36)}`;
}
