// Failover on the distributed store (issue 10). A Redis Cluster of 3 masters
// with one replica each, a RedisStore on an ioredis Cluster client, and 50
// sessions of counters driven over real HTTP; then one master crashes
// (SIGKILL) and the Cluster promotes its replica. Every request must get a 2xx
// or a 503, the 503s only around the outage, every client keeps its session
// id, and service resumes by itself.
//
// Redis replicates asynchronously, so a write the crashed master acknowledged
// may never have reached the replica that takes over. On one machine the
// replica is microseconds behind, so a crash would almost never show that;
// here the replica is made to lag: `CLIENT PAUSE WRITE` on it, 300 ms before
// the crash, holds back the replication stream it receives, as a busy or
// distant replica would. Without waitForReplicas the acknowledged writes lost
// are counted and printed (not asserted); with waitForReplicas: { replicas: 1 }
// none may be lost.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { TestContext } from 'node:test';
import { FAILOVER_STORE_TIMEOUT, runFailover } from './support/failover.js';
import type { FailoverRun } from './support/failover.js';

/** How far behind its master the replica is when the master crashes. */
const LAG_MS = 300;
/** Slack for the 503 window beyond storeTimeout: the machine is shared and slow at times. */
const MARGIN_MS = 2500;

/**
 * Prints the run's figures and holds it to what both runs must meet: 2xx or
 * 503 only, 503s only between the lag and `outageEnd` (plus storeTimeout and
 * slack), no session id changed or key gone, and service resumed by itself.
 */
function checkRun(t: TestContext, run: FailoverRun, outageEnd: number): void {
  const { samples, sessions, violations } = run.result;
  const windowEnd = outageEnd + FAILOVER_STORE_TIMEOUT + MARGIN_MS;
  const failed = samples.filter((sample) => sample.status === 503);
  const outOfWindow = failed.filter((sample) => sample.doneAt < run.lagAt || sample.sentAt > windowEnd);
  const ok = samples.filter((sample) => sample.status === 200);
  const lastFailure = Math.max(...failed.map((sample) => sample.doneAt));
  const causes = new Map<string, number>();
  for (const sample of failed) causes.set(sample.failure ?? '?', (causes.get(sample.failure ?? '?') ?? 0) + 1);
  const lostTotal = [...run.lost.values()].reduce((sum, n) => sum + n, 0);
  const ms = (value: number): string => (Number.isFinite(value) ? `${Math.round(value)} ms` : 'none');
  const lines = [
    `requests ${samples.length} over ${sessions.length} sessions: 2xx ${ok.length}, 503 ${failed.length}, other ${samples.length - ok.length - failed.length}`,
    `replica lagging from ${ms(run.lagAt)}, master crashed at ${ms(run.crashAt)}, replica promoted ${ms(run.promotedAt - run.crashAt)} later, old master back as its replica ${ms(run.replicaBackAt - run.crashAt)} after the crash`,
    `503s answered from ${ms(Math.min(...failed.map((sample) => sample.doneAt)) - run.crashAt)} to ${ms(lastFailure - run.crashAt)} after the crash; allowed until ${ms(windowEnd - run.crashAt)}`,
    `acknowledged increments lost: ${lostTotal} in ${run.lost.size} session(s)${run.lost.size > 0 ? ` (${[...run.lost].map(([index, n]) => `#${index}: ${n}`).join(', ')})` : ''}`,
    `clients that saw their counter go back: ${sessions.filter((state) => state.behind > 0).length}`,
    ...[...causes].map(([cause, n]) => `503 cause x${n}: ${cause}`),
  ];
  for (const line of lines) t.diagnostic(line);

  assert.deepEqual(violations.slice(0, 20), [], `${violations.length} rule(s) broken while the load ran`);
  assert.deepEqual(
    outOfWindow.slice(0, 10).map((sample) => `session ${sample.session} sent ${ms(sample.sentAt)}, answered ${ms(sample.doneAt)}: ${sample.failure ?? ''}`),
    [],
    `${outOfWindow.length} 503(s) outside the outage window`,
  );
  assert.deepEqual(run.missing, [], 'sessions whose key is gone');
  // Service resumed: every session got a 2xx for a request sent after the outage, and its last answer was one.
  const resumed = new Set(ok.filter((sample) => sample.sentAt > outageEnd).map((sample) => sample.session));
  assert.deepEqual(
    sessions.filter((state) => !resumed.has(state.index) || state.lastStatus !== 200).map((state) => state.index),
    [],
    'sessions without a 2xx after the outage',
  );
}

test('a master crashing under a lagging replica: the replica takes over, clients keep their ids, and the acknowledged writes lost are counted', { timeout: 90_000 }, async (t) => {
  const run = await runFailover(t, { waitForReplicas: undefined, lagMs: LAG_MS });
  // Without waitForReplicas a write is answered once the master has it, so only the crash-to-promotion gap fails.
  checkRun(t, run, run.promotedAt);
  const lost = [...run.lost.values()].reduce((sum, n) => sum + n, 0);
  t.diagnostic(`without waitForReplicas: ${lost} acknowledged increment(s) lost (recorded, not asserted)`);
});

test('with waitForReplicas: { replicas: 1 } the same failover loses no acknowledged write', { timeout: 90_000 }, async (t) => {
  const run = await runFailover(t, { waitForReplicas: { replicas: 1, timeout: 300 }, lagMs: LAG_MS });
  // Writes also fail while the replica lags and while the new master has no replica yet.
  checkRun(t, run, run.replicaBackAt);
  assert.deepEqual([...run.lost].map(([index, n]) => `session ${index}: ${n} lost (stored ${String(run.stored.get(index))})`), [], 'acknowledged increments lost');
});
