// The failover test's scenario and load (issue 10): the fault tests' counter
// app (`faultApp`) on a RedisStore over a Redis Cluster with replicas, driven
// over real HTTP by one sequential loop per session, while a master crashes
// and the Cluster promotes its replica.
//
// Unlike the fault tests' load, this one expects that a write answered 2xx may
// be lost: Redis replicates asynchronously, and a master that dies before its
// replica has a write takes the write along. So a count that comes back lower
// than the client expects is recorded, not a broken rule. As there, each
// logical increment carries an operation token that the app applies only once,
// and a client retries a token after a 503 until it is answered 2xx, so the
// counter stored for a session equals its 2xx answers exactly unless
// acknowledged writes were lost: the difference is the number lost.
import assert from 'node:assert/strict';
import http from 'node:http';
import type { TestContext } from 'node:test';
import { Cluster } from 'ioredis';
import { RedisStore } from '../../src/stores/redis.js';
import type { RedisStoreOptions } from '../../src/stores/redis.js';
import { COOKIE_NAME, serveFaultApp } from './fault.js';
import { sleep } from './http.js';
import { acknowledgingReplicas, clusterNodes, rawCommand, replicationInfo, startRedisCluster, waitFor } from './redis-server.js';
import type { RedisCluster, RedisServer } from './redis-server.js';

export interface FailoverSample {
  readonly session: number;
  /** ms since the load started. */
  readonly sentAt: number;
  readonly doneAt: number;
  /** 0 for a socket error. */
  readonly status: number;
  /** For a 503: the failed operation and its innermost cause. */
  readonly failure?: string;
}

export interface FailoverSession {
  readonly index: number;
  /** The id the first 2xx answer named; every later answer must name the same. */
  sid: string | undefined;
  /** 2xx answers: the increments the client was told succeeded. */
  acked: number;
  /** How far below the client's expectation the latest 2xx count was: the acknowledged increments lost so far. */
  behind: number;
  /** Status of the last answer (0: socket error). */
  lastStatus: number;
  cookies: Map<string, string>;
}

export interface FailoverLoad {
  /** ms since the load started. */
  now(): number;
  /** Resolves at `ms` since the load started. */
  until(ms: number): Promise<void>;
  /** Tells the loops to stop at `ms` since the load started (each after its next 2xx, or 10 s later at most). */
  stopAt(ms: number): void;
  /** Whether every session has been created (answered once with its id). */
  everySessionCreated(): boolean;
  /** Resolves when every loop has stopped. */
  readonly done: Promise<FailoverResult>;
}

export interface FailoverResult {
  readonly samples: FailoverSample[];
  readonly sessions: FailoverSession[];
  /** Other statuses, socket errors, another session id, a cleared cookie, a 503 that set a cookie. */
  readonly violations: string[];
}

const SESSIONS = 50;
const RATE = 175;
/** The middleware's storeTimeout. */
export const FAILOVER_STORE_TIMEOUT = 2000;
/** When the replica starts lagging, ms after the load starts (every session exists by then). */
const FAULT_AT = 2000;
/** Load after the Cluster is whole again, to see that service resumed. */
const TAIL_MS = 2500;
/** `cluster-node-timeout`: a master silent this long is failed over, so the test is quick. */
const NODE_TIMEOUT_MS = 1000;

export interface FailoverRun {
  readonly result: FailoverResult;
  /** The acknowledged increments the store no longer has, per session index. */
  readonly lost: Map<number, number>;
  /** Sessions whose key is gone. */
  readonly missing: number[];
  readonly stored: Map<number, number | undefined>;
  /** ms since the load started. */
  readonly lagAt: number;
  readonly crashAt: number;
  readonly promotedAt: number;
  readonly replicaBackAt: number;
}

function countOf(json: string | null): number | undefined {
  if (json === null) return undefined;
  const { count } = JSON.parse(json) as { count?: unknown };
  return typeof count === 'number' ? count : undefined;
}

export interface FailoverOptions {
  /** RedisStore's option under test; undefined leaves it off. */
  waitForReplicas: RedisStoreOptions['waitForReplicas'];
  /** How far behind its master the replica is made to fall before the crash; 0 for no lag. */
  lagMs: number;
}

/**
 * Starts a Cluster of 3 masters with a replica each, the counter app on a
 * RedisStore over an ioredis Cluster client, and the load; makes one
 * master's replica lag `lagMs` (`CLIENT PAUSE WRITE` on it holds back the
 * replication stream it receives), crashes that master with SIGKILL, waits
 * until the replica is promoted, restarts the old master, which follows the
 * new one, and lets the load run on for a while. Then reads every session's
 * stored counter. Everything is stopped after the test `t`.
 */
export async function runFailover(t: TestContext, { waitForReplicas, lagMs }: FailoverOptions): Promise<FailoverRun> {
  const cluster: RedisCluster = await startRedisCluster(3, { replicas: 1, nodeTimeoutMs: NODE_TIMEOUT_MS });
  t.after(() => cluster.stop());
  const client = new Cluster(cluster.nodes);
  t.after(() => client.disconnect());
  const prefix = 'koa:sess:failover:';
  const store = new RedisStore({ client, prefix, ...(waitForReplicas ? { waitForReplicas } : {}) });
  const url = await serveFaultApp(store, FAILOVER_STORE_TIMEOUT);

  // The victim: a master, and the replica that will take its place.
  const topology = await clusterNodes(cluster.nodes[0]?.port ?? 0);
  const byPort = new Map(cluster.servers.map((server) => [server.port, server]));
  const replicaNode = topology.find((node) => node.flags.includes('slave') && node.masterId !== undefined);
  const victimNode = topology.find((node) => node.id === replicaNode?.masterId);
  const victim = byPort.get(victimNode?.port ?? 0) as RedisServer;
  const replica = byPort.get(replicaNode?.port ?? 0) as RedisServer;
  assert.ok(victim && replica, 'the Cluster has a master with a replica');
  const others = cluster.servers.filter((server) => server !== victim);

  const load = startFailoverLoad(url, SESSIONS, RATE);
  await load.until(FAULT_AT);
  // On a slow machine a session's first request can come late: a session created while the replica lags
  // would be lost with its creation, a new id afterwards that the option under test does not cause.
  await waitFor('every session to be created', async () => load.everySessionCreated());
  // And the replica has every write so far, so only writes made while it lags can be lost.
  const written = Number((await replicationInfo(victim.port)).get('master_repl_offset'));
  await waitFor("the replica to have the master's writes so far", async () => {
    const acknowledged = /(?:^|,)offset=(\d+)/.exec((await replicationInfo(victim.port)).get('slave0') ?? '')?.[1];
    return Number(acknowledged) >= written;
  });
  const lagAt = load.now();
  if (lagMs > 0) {
    // Long enough to outlast the crash; lifted as soon as the replica has seen its master go.
    await rawCommand(replica.port, 'CLIENT PAUSE 10000 WRITE');
    await sleep(lagMs);
  }
  const crashAt = load.now();
  await victim.crash();
  await waitFor('the replica to see its master gone', async () => (await replicationInfo(replica.port)).get('master_link_status') === 'down');
  // The replica drops the replication stream it had not applied when the link went down: that is the lag lost.
  if (lagMs > 0) await rawCommand(replica.port, 'CLIENT UNPAUSE');
  await waitFor('the replica to be promoted and the Cluster to be ok', async () => {
    if ((await replicationInfo(replica.port)).get('role') !== 'master') return false;
    for (const server of others) {
      if (!(await rawCommand(server.port, 'CLUSTER INFO')).includes('cluster_state:ok')) return false;
    }
    return true;
  });
  const promotedAt = load.now();
  // The crashed master comes back with its nodes.conf, learns it was replaced, and follows the new master.
  await victim.restart();
  await waitFor('the old master to be back as a replica in sync', async () => {
    const info = await replicationInfo(victim.port);
    if (info.get('role') !== 'slave' || info.get('master_link_status') !== 'up' || info.get('master_port') !== String(replica.port)) return false;
    // WAIT counts it from here on.
    return (await acknowledgingReplicas(replica.port, 1)) === 1;
  });
  const replicaBackAt = load.now();
  load.stopAt(replicaBackAt + TAIL_MS);
  const result = await load.done;

  const stored = new Map<number, number | undefined>();
  const lost = new Map<number, number>();
  const missing: number[] = [];
  for (const state of result.sessions) {
    if (state.sid === undefined) continue;
    const count = countOf(await client.get(prefix + state.sid));
    stored.set(state.index, count);
    if (count === undefined) missing.push(state.index);
    else if (count !== state.acked) lost.set(state.index, state.acked - count);
  }
  return { result, lost, missing, stored, lagAt, crashAt, promotedAt, replicaBackAt };
}

const GRACE_MS = 10_000;
const REQUEST_TIMEOUT_MS = 10_000;

/** Starts `sessions` loops against `url` + `/inc` at `rate` requests per second in all. */
export function startFailoverLoad(url: string, sessions: number, rate: number): FailoverLoad {
  const interval = (sessions / rate) * 1000;
  const t0 = performance.now();
  const now = (): number => performance.now() - t0;
  let stopAt = Infinity;
  const agent = new http.Agent({ keepAlive: true, maxSockets: sessions });
  const samples: FailoverSample[] = [];
  const violations: string[] = [];
  const states: FailoverSession[] = [];

  const oneRequest = async (state: FailoverSession): Promise<void> => {
    // The token names the logical increment, so retries after a 503 repeat it until one is answered 2xx.
    const op = `${state.index}-${state.acked}`;
    const cookie = [...state.cookies].map(([name, value]) => `${name}=${value}`).join('; ');
    const sentAt = now();
    const answer = await get(agent, `${url}/inc?op=${op}`, cookie);
    const doneAt = now();
    const where = `session ${state.index} at ${Math.round(sentAt)} ms`;
    state.lastStatus = answer.status;
    if (answer.status === 503) {
      if (answer.setCookie.length > 0) violations.push(`${where}: a 503 set a cookie`);
      const { operation, causes } = (parseJson(answer.body) ?? {}) as { operation?: unknown; causes?: unknown };
      const cause = Array.isArray(causes) ? String(causes.at(-1) ?? '') : '';
      samples.push({ session: state.index, sentAt, doneAt, status: 503, failure: `${String(operation)}: ${cause.slice(0, 140)}` });
      return;
    }
    samples.push({ session: state.index, sentAt, doneAt, status: answer.status });
    if (answer.status !== 200) {
      violations.push(`${where}: status ${answer.status} ${answer.error ?? answer.body.slice(0, 200)}`);
      return;
    }
    const { sid, count } = (parseJson(answer.body) ?? {}) as { sid?: unknown; count?: unknown };
    if (typeof sid !== 'string' || typeof count !== 'number') {
      violations.push(`${where}: 200 with an unexpected body ${answer.body.slice(0, 200)}`);
      return;
    }
    if (state.sid === undefined) state.sid = sid;
    else if (sid !== state.sid) violations.push(`${where}: answered for another session id`);
    state.acked += 1;
    state.behind = state.acked - count;
    for (const header of answer.setCookie) {
      const pair = header.split(';')[0] as string;
      const name = pair.slice(0, pair.indexOf('='));
      const value = pair.slice(pair.indexOf('=') + 1);
      if (name === COOKIE_NAME && (value === '' || value.split('.')[0] !== state.sid)) {
        violations.push(`${where}: the session cookie was cleared or names another id`);
      }
      state.cookies.set(name, value);
    }
  };

  const loop = async (index: number): Promise<void> => {
    const state: FailoverSession = { index, sid: undefined, acked: 0, behind: 0, lastStatus: 0, cookies: new Map() };
    states.push(state);
    let nextAt = (index * interval) / sessions;
    for (;;) {
      const at = now();
      if (at >= stopAt && (state.lastStatus === 200 || at >= stopAt + GRACE_MS)) break;
      if (nextAt > at) await sleep(nextAt - at);
      nextAt = Math.max(nextAt + interval, now());
      await oneRequest(state);
    }
  };

  const done = Promise.all(Array.from({ length: sessions }, (_, index) => loop(index))).finally(() => agent.destroy()).then(
    (): FailoverResult => ({ samples, sessions: states.sort((a, b) => a.index - b.index), violations }),
  );
  return {
    now,
    until: (ms) => sleep(Math.max(0, ms - now())),
    stopAt: (ms) => {
      stopAt = ms;
    },
    everySessionCreated: () => states.length === sessions && states.every((state) => state.sid !== undefined),
    done,
  };
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return undefined;
  }
}

interface Answer {
  status: number;
  body: string;
  setCookie: string[];
  error?: string;
}

/** One GET over a keep-alive connection; socket errors and timeouts resolve to status 0. */
function get(agent: http.Agent, url: string, cookie: string): Promise<Answer> {
  return new Promise((resolve) => {
    const request = http.get(url, { agent, headers: cookie === '' ? {} : { cookie } }, (response) => {
      const chunks: Buffer[] = [];
      response.on('data', (chunk: Buffer) => chunks.push(chunk));
      response.on('end', () =>
        resolve({ status: response.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8'), setCookie: response.headers['set-cookie'] ?? [] }),
      );
      response.on('error', (error) => resolve({ status: 0, body: '', setCookie: [], error: error.message }));
    });
    request.setTimeout(REQUEST_TIMEOUT_MS, () => request.destroy(new Error(`no answer within ${REQUEST_TIMEOUT_MS} ms`)));
    request.on('error', (error) => resolve({ status: 0, body: '', setCookie: [], error: error.message }));
  });
}
