// The MySQL (or MariaDB) server the MysqlStore suites need, found like the
// other services: in CI (CI=true) a missing server is a failure, never a skip.
// Pools made here remember their connections' thread ids, so a test can KILL
// exactly its own connections and no other test's.
import net from 'node:net';
import mysql from 'mysql2/promise';
import type { Pool, PoolOptions } from 'mysql2/promise';

export const MYSQL_URL = process.env.MYSQL_URL ?? 'mysql://root@127.0.0.1:3306/test';

function reachable(url: string): Promise<boolean> {
  const { hostname, port } = new URL(url);
  return new Promise((resolve) => {
    const socket = net.connect({ host: hostname, port: Number(port || 3306) });
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

/** `false` when MySQL answers, else the reason to skip (outside CI only). */
export async function mysqlSkip(): Promise<string | false> {
  if (await reachable(MYSQL_URL)) return false;
  const reason = `MySQL is not reachable at ${MYSQL_URL}`;
  if (process.env.CI) throw new Error(`${reason}: in CI the MySQL suites must run, never be skipped`);
  process.stderr.write(`\n*** SKIPPING MySQL suites: ${reason} (set MYSQL_URL) ***\n\n`);
  return reason;
}

/** A pool on MYSQL_URL and the thread ids of every connection it has opened. */
export interface TrackedPool {
  readonly pool: Pool;
  readonly threadIds: Set<number>;
}

export function trackedPool(options: Omit<PoolOptions, 'uri'> = {}): TrackedPool {
  const pool = mysql.createPool({ uri: MYSQL_URL, connectionLimit: 10, ...options });
  const threadIds = new Set<number>();
  pool.on('connection', (connection) => {
    threadIds.add(connection.threadId);
  });
  return { pool, threadIds };
}

/**
 * Kills the given connections from `admin`, a connection of the test's own,
 * and resolves to how many were still there to kill (one already gone is
 * ER_NO_SUCH_THREAD, 1094).
 */
export async function killThreads(admin: Pool, threadIds: Iterable<number>): Promise<number> {
  let killed = 0;
  for (const id of [...threadIds]) {
    try {
      await admin.query(`KILL CONNECTION ${Number(id)}`);
      killed += 1;
    } catch (error) {
      if ((error as { errno?: number }).errno !== 1094) throw error;
    }
  }
  return killed;
}
