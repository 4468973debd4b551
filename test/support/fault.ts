// The fault tests' load: a real Koa app whose one route increments a
// per-session counter, driven over real HTTP by one sequential loop per
// session at a bounded total rate, while the test takes the store's server
// away. The loop checks every response as it comes (2xx or 503 only, the same
// session id, no cleared cookie, no cookie at all on a 503) and keeps its own
// count of each session's successful increments; `checkFaultRun` then holds
// the run to the pass criteria and prints the figures.
//
// Exact counting across ambiguous failures: when a connection dies after the
// server applied a write but before its answer arrived, the request gets a 503
// although the increment landed. Nothing in the response can tell the two
// cases apart, so the client does what a careful real client does: it retries
// the same logical increment with the same operation token until it gets a
// 2xx, and the handler applies a token only once (the session remembers the
// last token it applied). Each session's stored counter must then equal the
// number of 2xx answers exactly. A retry that finds its token already applied
// is counted as an ambiguous 503 (a write that landed although its request
// failed) and reported, never hidden; and it is a violation unless one of the
// token's failed attempts was a write whose outcome nobody could know (the
// connection was lost or the time ran out while it was in flight). A write
// that failed any other way, or a failed load, must have written nothing.
import assert from 'node:assert/strict';
import http from 'node:http';
import type { TestContext } from 'node:test';
import type Koa from 'koa';
import { session, SessionStoreError } from '../../src/index.js';
import type { SessionStore } from '../../src/index.js';
import { listen, makeApp, sleep } from './http.js';

/** The session cookie's name (the middleware's default). */
export const COOKIE_NAME = 'koa:sess';
const SIG_NAME = `${COOKIE_NAME}.sig`;

/**
 * An app with `session({ store, storeTimeout })` whose route `/inc?op=<token>`
 * adds one to `ctx.session.count` (creating the session on first use) unless
 * the session already applied `token`, and answers `{ sid, count, replayed }`.
 *
 * A store failure (SessionStoreError) becomes a 503 whose body names the
 * failed operation and its causes, by an error middleware that, unlike Koa's
 * own handler, leaves any Set-Cookie header in place: a cookie the session
 * middleware set before failing would reach the client and be caught.
 */
export function faultApp(store: SessionStore, storeTimeout: number): Koa {
  const app = makeApp();
  app.use(async (ctx, next) => {
    try {
      await next();
    } catch (error) {
      if (!(error instanceof SessionStoreError)) throw error;
      ctx.status = 503;
      ctx.body = { error: 'store', operation: error.operation, causes: causeChain(error) };
    }
  });
  // A cookie maxAge makes every write re-send the cookie, so each answer shows which id it carries.
  app.use(session({ store, storeTimeout, cookie: { maxAge: 3_600_000 } }));
  app.use((ctx) => {
    if (ctx.path !== '/inc') {
      ctx.status = 404;
      return;
    }
    const op = String(ctx.query.op ?? '');
    const data = ctx.session;
    const replayed = op !== '' && data.op === op;
    if (!replayed) {
      data.count = (typeof data.count === 'number' ? data.count : 0) + 1;
      data.op = op;
    }
    ctx.body = { sid: ctx.sessionId, count: data.count, replayed };
  });
  return app;
}

/**
 * Serves {@link faultApp} on 127.0.0.1 and resolves to its URL. The server
 * keeps idle keep-alive connections open: with Node's 5 s default it closes
 * a connection the client may be reusing at that very moment (the client
 * then sees ECONNRESET), a race of the test harness, not of the session.
 */
export async function serveFaultApp(store: SessionStore, storeTimeout: number): Promise<string> {
  const { url, server } = await listen(faultApp(store, storeTimeout));
  server.keepAliveTimeout = 120_000;
  return url;
}

/** The messages of an error and its causes, outermost first (store errors name commands, never data). */
function causeChain(error: unknown): string[] {
  const messages: string[] = [];
  for (let current: unknown = error; current instanceof Error && messages.length < 5; current = current.cause) {
    messages.push(current.message);
  }
  return messages;
}

export interface LoadOptions {
  /** Base URL of the app, e.g. `http://127.0.0.1:1234`. */
  url: string;
  /** Number of sessions, each with its own sequential loop. @default 50 */
  sessions?: number;
  /** Total requests per second over all sessions. @default 175 */
  rate?: number;
  /** How long the loops run, in ms. @default 20000 */
  durationMs?: number;
  /** After `durationMs`, how long a session whose last answer was not 2xx keeps trying. @default 10000 */
  graceMs?: number;
  /** A request with no answer after this long counts as a socket error. @default 10000 */
  requestTimeoutMs?: number;
}

/** One request as the client saw it; times in ms since the load started. */
export interface Sample {
  readonly session: number;
  readonly sentAt: number;
  readonly doneAt: number;
  /** HTTP status, or 0 for a socket error or timeout. */
  readonly status: number;
  /** The 2xx answer found its operation already applied: the previous request's 503 had written. */
  readonly replayed: boolean;
  /** For a 503: the failed store operation and the innermost cause, for the figures. */
  readonly failure?: string;
}

export interface SessionState {
  readonly index: number;
  /** The id the first 2xx answer named. */
  sid: string | undefined;
  /** 2xx answers received: the increments the client knows succeeded. */
  acked: number;
  /** Status of the last answer (0: socket error). */
  lastStatus: number;
  /** `name=value` pairs to send back. */
  cookies: Map<string, string>;
  /** The failures of the current operation token's attempts (operation and causes), cleared by a 2xx. */
  failures: { operation: string; causes: string[] }[];
}

export interface LoadRun {
  /** ms since the load started. */
  now(): number;
  /** Resolves at `ms` since the load started. */
  until(ms: number): Promise<void>;
  /** Resolves when every loop has stopped. */
  readonly done: Promise<LoadResult>;
}

export interface LoadResult {
  readonly samples: Sample[];
  readonly sessions: SessionState[];
  /** Everything that broke a rule while the load ran: other statuses, socket errors, a foreign id, a cleared cookie. */
  readonly violations: string[];
  /** When the loops were told to stop (ms since start). */
  readonly endedAt: number;
}

/** Starts the load; the test schedules its fault with `run.until(…)` and then awaits `run.done`. */
export function startLoad(options: LoadOptions): LoadRun {
  const sessions = options.sessions ?? 50;
  const rate = options.rate ?? 175;
  const durationMs = options.durationMs ?? 20_000;
  const graceMs = options.graceMs ?? 10_000;
  const requestTimeoutMs = options.requestTimeoutMs ?? 10_000;
  const interval = (sessions / rate) * 1000;
  const t0 = performance.now();
  const now = (): number => performance.now() - t0;
  const agent = new http.Agent({ keepAlive: true, maxSockets: sessions });
  const samples: Sample[] = [];
  const violations: string[] = [];
  const states: SessionState[] = [];

  const loop = async (index: number): Promise<void> => {
    const state: SessionState = { index, sid: undefined, acked: 0, lastStatus: 0, cookies: new Map(), failures: [] };
    states.push(state);
    let nextAt = (index * interval) / sessions;
    for (;;) {
      const at = now();
      if (at >= durationMs && (state.lastStatus === 200 || at >= durationMs + graceMs)) break;
      if (nextAt > at) await sleep(nextAt - at);
      nextAt = Math.max(nextAt + interval, now());
      await oneRequest(state);
    }
  };

  const oneRequest = async (state: SessionState): Promise<void> => {
    // The token names the logical increment, so retries after a 503 repeat it until one is answered 2xx.
    const op = `${state.index}-${state.acked}`;
    const cookie = [...state.cookies].map(([name, value]) => `${name}=${value}`).join('; ');
    const sentAt = now();
    const answer = await get(agent, `${options.url}/inc?op=${op}`, cookie, requestTimeoutMs);
    const doneAt = now();
    const where = `session ${state.index} at ${Math.round(sentAt)} ms`;
    state.lastStatus = answer.status;
    if (answer.status === 0) {
      violations.push(`${where}: socket error (${answer.error ?? 'unknown'})`);
      samples.push({ session: state.index, sentAt, doneAt, status: 0, replayed: false });
      state.failures.push({ operation: 'request', causes: [answer.error ?? 'socket error'] });
      return;
    }
    const body = parseJson(answer.body);
    if (answer.status === 503) {
      if (answer.setCookie.length > 0) violations.push(`${where}: a 503 carried Set-Cookie ${answer.setCookie.map(cookieName).join(', ')}`);
      const { operation, causes } = (body ?? {}) as { operation?: unknown; causes?: unknown };
      const failure = { operation: String(operation), causes: Array.isArray(causes) ? causes.map(String) : [] };
      state.failures.push(failure);
      samples.push({ session: state.index, sentAt, doneAt, status: 503, replayed: false, failure: describeFailure(failure) });
      return;
    }
    if (answer.status !== 200) {
      violations.push(`${where}: status ${answer.status} (${answer.body.slice(0, 200)})`);
      samples.push({ session: state.index, sentAt, doneAt, status: answer.status, replayed: false });
      return;
    }
    const { sid, count, replayed } = (body ?? {}) as { sid?: unknown; count?: unknown; replayed?: unknown };
    if (typeof sid !== 'string' || typeof count !== 'number') {
      violations.push(`${where}: 200 with an unexpected body ${answer.body.slice(0, 200)}`);
      return;
    }
    if (state.sid === undefined) state.sid = sid;
    else if (sid !== state.sid) violations.push(`${where}: answered for another session id`);
    // Counts are checked as they come, so a lost or doubled write shows where it happened.
    if (count !== state.acked + 1) violations.push(`${where}: count ${count}, expected ${state.acked + 1}`);
    if (replayed === true && !state.failures.some(outcomeUnknown)) {
      const seen = state.failures.map((failure) => `${failure.operation}: ${failure.causes.at(-1) ?? ''}`).join('; ');
      violations.push(`${where}: its operation had already been applied, yet no earlier attempt was a write of unknown outcome (${seen || 'none failed'})`);
    }
    state.failures = [];
    for (const problem of cookieProblems(answer.setCookie, state.sid)) violations.push(`${where}: ${problem}`);
    for (const header of answer.setCookie) {
      const pair = header.split(';')[0] as string;
      const eq = pair.indexOf('=');
      state.cookies.set(pair.slice(0, eq), pair.slice(eq + 1));
    }
    state.acked += 1;
    samples.push({ session: state.index, sentAt, doneAt, status: 200, replayed: replayed === true });
  };

  const done = Promise.all(Array.from({ length: sessions }, (_, index) => loop(index))).then(
    (): LoadResult => {
      agent.destroy();
      states.sort((a, b) => a.index - b.index);
      return { samples, sessions: states, violations, endedAt: durationMs };
    },
    (error: unknown) => {
      agent.destroy();
      throw error;
    },
  );
  return { now, until: (ms) => sleep(Math.max(0, ms - now())), done };
}

/** What is wrong with a 2xx answer's session cookies: a cleared or expired one, or one naming another id. */
function cookieProblems(setCookie: string[], sid: string | undefined): string[] {
  const problems: string[] = [];
  for (const header of setCookie) {
    const name = cookieName(header);
    if (name !== COOKIE_NAME && name !== SIG_NAME) continue;
    const pair = header.split(';')[0] as string;
    const value = pair.slice(pair.indexOf('=') + 1);
    const attributes = header.toLowerCase();
    const expires = /;\s*expires=([^;]+)/.exec(attributes)?.[1];
    if (value === '' || /;\s*max-age=(0|-)/.test(attributes) || (expires !== undefined && Date.parse(expires) <= Date.now())) {
      problems.push(`cookie ${name} cleared or expired`);
    }
    // A server-store cookie reads `<sid>.<ctime>.<touched>`.
    if (name === COOKIE_NAME && value !== '' && value.split('.')[0] !== sid) problems.push('cookie names another session id');
  }
  return problems;
}

function cookieName(header: string): string {
  return header.slice(0, header.indexOf('='));
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return undefined;
  }
}

function describeFailure(failure: { operation: string; causes: string[] }): string {
  return `${failure.operation}: ${(failure.causes.at(-1) ?? '').slice(0, 120)}`;
}

/**
 * Causes after which a write may or may not have been applied: the command
 * may have reached the server before the connection was lost (ioredis rejects
 * the commands it had sent with "Connection is closed" or, after its retries,
 * MaxRetriesPerRequestError; pg reports the terminated backend; mysql2 a
 * connection the server closed, MariaDB one it killed), or the time
 * ran out while it was in flight. A refused connection, a command ioredis
 * never sent (offline queue off) or an error reply from the server prove that
 * nothing was written, so they are not listed.
 */
const UNKNOWN_OUTCOME =
  /max retries per request|Connection is closed|did not answer|timeout|terminating connection|Connection terminated|Connection lost|Connection was killed|ECONNRESET|EPIPE|socket hang up/i;

/** Whether a failed attempt was a write that may have landed. */
function outcomeUnknown(failure: { operation: string; causes: string[] }): boolean {
  return ['save', 'patch'].includes(failure.operation) && failure.causes.some((cause) => UNKNOWN_OUTCOME.test(cause));
}

interface Answer {
  status: number;
  body: string;
  setCookie: string[];
  error?: string;
}

/** One GET over a keep-alive connection; socket errors and timeouts resolve to status 0. */
function get(agent: http.Agent, url: string, cookie: string, timeoutMs: number): Promise<Answer> {
  return new Promise((resolve) => {
    const request = http.get(url, { agent, headers: cookie === '' ? {} : { cookie } }, (response) => {
      const chunks: Buffer[] = [];
      response.on('data', (chunk: Buffer) => chunks.push(chunk));
      response.on('end', () =>
        resolve({
          status: response.statusCode ?? 0,
          body: Buffer.concat(chunks).toString('utf8'),
          setCookie: response.headers['set-cookie'] ?? [],
        }),
      );
      response.on('error', (error) => resolve({ status: 0, body: '', setCookie: [], error: error.message }));
    });
    request.setTimeout(timeoutMs, () => request.destroy(new Error(`no answer within ${timeoutMs} ms`)));
    request.on('error', (error) => resolve({ status: 0, body: '', setCookie: [], error: error.message }));
  });
}

/** The headline figures of a checked run. */
export interface FaultFigures {
  readonly requests: number;
  readonly ok: number;
  readonly failed: number;
  /** 503s whose write had landed (found applied by the retry). */
  readonly ambiguous: number;
}

export interface Outage {
  /** When the server was taken away (ms since the load started). */
  readonly start: number;
  /** When it was back (ms since the load started). */
  readonly end: number;
  /** The middleware's storeTimeout. */
  readonly storeTimeout: number;
  /** The longest reconnect delay of the store's client (0 when it connects on demand). */
  readonly backoffMs: number;
  /** Slack for a loaded, shared machine. */
  readonly marginMs: number;
}

/**
 * Holds a finished run to the pass criteria, after printing its figures:
 * only 2xx and 503, 503s only inside the outage window, no rule broken while
 * it ran, recovery by itself, and every session's stored counter (read with
 * `readCounts`, a raw client of the server) equal to its count of 2xx answers.
 */
export async function checkFaultRun(
  t: TestContext,
  result: LoadResult,
  outage: Outage,
  readCounts: (sids: string[]) => Promise<Map<string, number | undefined>>,
): Promise<FaultFigures> {
  const { samples, sessions, violations } = result;
  const windowEnd = outage.end + outage.storeTimeout + outage.backoffMs + outage.marginMs;
  const failed = samples.filter((sample) => sample.status === 503);
  // A 503 is the outage's when its answer came after the server went and its request left before the window closed.
  const outOfWindow = failed.filter((sample) => sample.doneAt < outage.start || sample.sentAt > windowEnd);
  const ok = samples.filter((sample) => sample.status === 200);
  const replays = ok.filter((sample) => sample.replayed);
  // The recovery check looks at the last 3 s (the last quarter of a shorter run).
  const tailMs = Math.min(3000, result.endedAt / 4);
  const tailFrom = result.endedAt - tailMs;
  const tail = samples.filter((sample) => sample.sentAt >= tailFrom && sample.sentAt < result.endedAt);
  const tailOk = tail.filter((sample) => sample.status === 200).length;
  const lastFailure = failed.reduce((latest, sample) => Math.max(latest, sample.doneAt), -Infinity);
  const firstFailure = failed.reduce((earliest, sample) => Math.min(earliest, sample.doneAt), Infinity);
  // When service resumed: the first success of a request sent after the first failure.
  const resumed = ok.filter((sample) => sample.sentAt > firstFailure).reduce((earliest, sample) => Math.min(earliest, sample.doneAt), Infinity);
  const causes = new Map<string, number>();
  for (const sample of failed) causes.set(sample.failure ?? '?', (causes.get(sample.failure ?? '?') ?? 0) + 1);

  const sids = sessions.flatMap((state) => (state.sid === undefined ? [] : [state.sid]));
  const stored = await readCounts(sids);
  const mismatches: string[] = [];
  for (const state of sessions) {
    if (state.sid === undefined) {
      mismatches.push(`session ${state.index} never got a 2xx answer`);
      continue;
    }
    const count = stored.get(state.sid);
    if (count !== state.acked) mismatches.push(`session ${state.index}: stored count ${String(count)}, 2xx answers ${state.acked}`);
  }

  const ms = (value: number): string => (Number.isFinite(value) ? `${Math.round(value)} ms` : 'none');
  const figures = [
    `requests ${samples.length} over ${sessions.length} sessions in ${(result.endedAt / 1000).toFixed(0)} s (+ grace)`,
    `2xx ${ok.length}, 503 ${failed.length}, other ${samples.length - ok.length - failed.length}`,
    `outage from ${ms(outage.start)} to ${ms(outage.end)} after load start (${ms(outage.end - outage.start)}); 503 allowed until ${ms(windowEnd)}`,
    `first 503 answered ${ms(firstFailure - outage.start)} after the outage began; last 503 answered ${ms(lastFailure - outage.end)} after the server was back`,
    `service resumed (first 2xx to a request sent after the first 503) ${ms(resumed - outage.end)} after the server was back`,
    `recovery time (server back until last 503): ${failed.length === 0 ? 'no 503 at all' : ms(Math.max(0, lastFailure - outage.end))}`,
    `ambiguous 503s (write landed, answer lost; settled by the retry's token): ${replays.length}`,
    `last ${ms(tailMs)} of load: ${tailOk}/${tail.length} 2xx`,
    `sessions checked against the store: ${sids.length}, mismatches ${mismatches.length}`,
    ...[...causes].map(([cause, n]) => `503 cause x${n}: ${cause}`),
  ];
  for (const line of figures) t.diagnostic(line);

  assert.deepEqual(violations.slice(0, 20), [], `${violations.length} rule(s) broken while the load ran`);
  assert.deepEqual(
    outOfWindow.slice(0, 10).map((sample) => `session ${sample.session} sent ${ms(sample.sentAt)}, answered ${ms(sample.doneAt)}: ${sample.failure ?? ''}`),
    [],
    `${outOfWindow.length} 503(s) outside the outage window`,
  );
  assert.deepEqual(mismatches.slice(0, 20), [], `${mismatches.length} session(s) whose stored counter differs from the 2xx answers`);
  assert.ok(tail.length > 0 && tailOk / tail.length >= 0.9, `only ${tailOk}/${tail.length} requests of the last ${ms(tailMs)} were 2xx`);
  const notRecovered = sessions.filter((state) => state.lastStatus !== 200).map((state) => state.index);
  assert.deepEqual(notRecovered, [], 'sessions whose final request was not 2xx');
  return { requests: samples.length, ok: ok.length, failed: failed.length, ambiguous: replays.length };
}
