// Two app processes on one PostgreSQL (issue 13; the scenario is in
// test/support/index-processes.ts): with both on pg, and with one on pg and
// one on postgres.js.
import { after, describe, it } from 'node:test';
import pg from 'pg';
import { twoProcesses } from '../support/index-processes.js';
import { DATABASE_URL, postgresSkip, runTag } from '../support/services.js';

const skip = await postgresSkip();
const tag = runTag();
const schemas: string[] = [];

after(async () => {
  if (skip || schemas.length === 0) return;
  const client = new pg.Client({ connectionString: DATABASE_URL });
  await client.connect();
  for (const schema of schemas) await client.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
  await client.end();
});

/** The scenario on two processes on drivers `driverA` and `driverB`, sharing the schema `name`. */
async function twoProcessesOn(name: string, driverA: string, driverB: string): Promise<void> {
  const schema = `kss_${tag}_${name}`;
  schemas.push(schema);
  const env = (driver: string) => ({ KSS_STORE: 'postgres', KSS_DATABASE_URL: DATABASE_URL, KSS_SCHEMA: schema, KSS_DRIVER: driver });
  const raw = new pg.Client({ connectionString: DATABASE_URL });
  await raw.connect();
  try {
    await twoProcesses(env(driverA), env(driverB), {
      indexedSids: async (user) =>
        (await raw.query<{ sid: string }>(`SELECT sid FROM "${schema}".sessions_users WHERE user_id = $1`, [user])).rows.map((row) => row.sid),
      sessionExists: async (sid) => ((await raw.query(`SELECT 1 FROM "${schema}".sessions WHERE sid = $1`, [sid])).rowCount ?? 0) > 0,
    });
  } finally {
    await raw.end();
  }
}

describe('two app processes sharing one PostgreSQL', { skip }, () => {
  it('see the same sessions of a user, and a revocation on either ends the session on the other (both on pg)', async () => {
    await twoProcessesOn('procs_pg', 'pg', 'pg');
  });

  it('do the same with one process on pg and the other on postgres.js', async () => {
    await twoProcessesOn('procs_mixed', 'pg', 'postgres.js');
  });
});
