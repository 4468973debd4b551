// The few Redis commands RedisStore needs, over whichever client the user
// passed in. Clients are told apart by duck typing, never by importing them:
// both ioredis and redis (node-redis) are optional peers.
import { createHash } from 'node:crypto';

/**
 * A node-redis (the `redis` package, v4+) client from `createClient()`, connected by the caller.
 * Only the method RedisStore calls is listed, so the `redis` package's types are not needed.
 */
export interface NodeRedisClient {
  sendCommand(args: string[]): Promise<unknown>;
}

/** A node-redis (v4+) cluster from `createCluster()`, connected by the caller. */
export interface NodeRedisCluster {
  sendCommand(firstKey: string | undefined, isReadonly: boolean | undefined, args: string[]): Promise<unknown>;
  getSlotMaster(slot: number): unknown;
}

/**
 * An ioredis (v5 or v6) `Redis` or `Cluster`. Only what RedisStore uses is listed, so a
 * node-redis user needs no ioredis types, and any ioredis major with this shape fits.
 */
export interface IoredisClient {
  call(command: string, args: string[]): Promise<unknown>;
  pipeline?(): IoredisPipeline;
  refreshSlotsCache?(callback?: () => void): void;
  readonly isCluster?: boolean;
  readonly options?: { readonly enableAutoPipelining?: boolean | undefined };
}

/** What RedisStore uses of an ioredis pipeline. */
export interface IoredisPipeline {
  call(command: string, args: string[]): unknown;
  exec(): Promise<Array<[Error | null, unknown]> | null>;
}

/** Every client RedisStore accepts. */
export type RedisClient = IoredisClient | NodeRedisClient | NodeRedisCluster;

/**
 * Sends one command whose keys all hash to `key`'s slot. `abandoned()`, when
 * given, tells whether the caller has stopped waiting, so a runner that would
 * send the command again (after a Cluster redirect) sends nothing late.
 */
export type RunCommand = (key: string, args: string[], abandoned?: () => boolean) => Promise<unknown>;

/** `WAIT replicas timeout` after each write, on the connection that took the write. */
export interface ReplicaWait {
  /** How many replicas must have the write. */
  readonly replicas: number;
  /** How long, in whole milliseconds, Redis waits for them. */
  readonly timeout: number;
}

/**
 * Fewer replicas than asked for acknowledged a write within the WAIT timeout.
 * The master has applied the write; only its surviving a failover is in doubt.
 */
export class ReplicaWaitError extends Error {
  constructor(
    readonly acknowledged: number,
    readonly wait: ReplicaWait,
  ) {
    super(`WAIT ${wait.replicas} ${wait.timeout} answered ${acknowledged}`);
    this.name = 'ReplicaWaitError';
  }
}

/** How RedisStore talks to one client. */
export interface CommandRunners {
  /** For reads. */
  readonly read: RunCommand;
  /** For writes: each one followed by WAIT on its connection when the runners were made with a {@link ReplicaWait}. */
  readonly write: RunCommand;
  /** Whether the client is a Cluster client, so one command may name keys of one slot only. */
  readonly cluster: boolean;
}


/**
 * Whether writes through `client` can be followed by a WAIT that is sure to
 * reach the connection that took the write. A node-redis cluster sends each
 * command by itself and follows a MOVED redirect for each one separately, so
 * a write could be redirected to a new master while its WAIT is answered by
 * the old one: it cannot.
 */
export function canWaitForReplicas(client: unknown): boolean {
  if (client === null || typeof client !== 'object') return false;
  const candidate = client as Record<string, unknown>;
  if (typeof candidate.call === 'function') return typeof candidate.pipeline === 'function';
  return typeof candidate.sendCommand === 'function' && typeof candidate.getSlotMaster !== 'function';
}

/**
 * Returns the command runners for `client`, or undefined when `client` is no
 * client we know. With `wait`, which needs {@link canWaitForReplicas}, every
 * write is followed by `WAIT` on the same connection, and rejects with a
 * {@link ReplicaWaitError} when too few replicas acknowledge it.
 */
export function commandRunners(client: unknown, wait?: ReplicaWait): CommandRunners | undefined {
  if (client === null || typeof client !== 'object') return undefined;
  const candidate = client as Record<string, unknown>;
  if (typeof candidate.call === 'function') {
    // ioredis, single node or Cluster: Cluster routes by the command's declared keys.
    const ioredis = client as IoredisClient;
    const direct: RunCommand = (_key, [command, ...args]) => ioredis.call(command as string, args);
    const pipeline = typeof ioredis.pipeline === 'function' ? ioredis.pipeline.bind(ioredis) : undefined;
    // A Cluster pipeline must stay within one slot, and a client that pipelines by itself needs no help.
    const cluster = ioredis.isCluster === true;
    if (pipeline && !cluster && ioredis.options?.enableAutoPipelining !== true) {
      const batched = batchingRunner(direct, pipeline, wait);
      return { read: (key, args) => batched(key, args, false), write: (key, args) => batched(key, args, wait !== undefined), cluster };
    }
    if (!wait || !pipeline) return { read: direct, write: direct, cluster };
    if (cluster) return { read: direct, write: clusterWaitingWrite(ioredis, pipeline, wait), cluster };
    return { read: direct, write: (_key, args) => writeAndWait(pipeline, args, wait), cluster };
  }
  if (typeof candidate.sendCommand === 'function') {
    if (typeof candidate.getSlotMaster === 'function') {
      // node-redis cluster needs the first key to pick the shard.
      const cluster = client as NodeRedisCluster;
      const run: RunCommand = (key, args) => cluster.sendCommand(key, false, args);
      return { read: run, write: run, cluster: true };
    }
    const single = client as NodeRedisClient;
    const run: RunCommand = (_key, args) => single.sendCommand(args);
    if (!wait) return { read: run, write: run, cluster: false };
    return {
      read: run,
      cluster: false,
      write: async (_key, args) => {
        // Both are queued in this same turn, so node-redis writes them to its socket together, in order;
        // when the socket is lost it fails the commands it had written and sends only unwritten ones again.
        // The one gap: a socket too full to take the WAIT right after the write, lost after the write's answer.
        const written = single.sendCommand(args);
        const waited = single.sendCommand(['WAIT', ...waitArguments(wait)]);
        // The WAIT must not be left rejected and unobserved when the write fails first.
        waited.catch(() => undefined);
        const reply = await written;
        checkAcknowledged(await waited, wait);
        return reply;
      },
    };
  }
  return undefined;
}

function waitArguments(wait: ReplicaWait): string[] {
  return [String(wait.replicas), String(wait.timeout)];
}

/** Throws a {@link ReplicaWaitError} unless WAIT's answer counts enough replicas. */
function checkAcknowledged(answer: unknown, wait: ReplicaWait): void {
  const acknowledged = Number(answer);
  if (!(acknowledged >= wait.replicas)) throw new ReplicaWaitError(Number.isFinite(acknowledged) ? acknowledged : 0, wait);
}

/**
 * Sends a write and `WAIT` as one pipeline: one socket write to one
 * connection, so WAIT counts the replicas that have this write. If the
 * connection is lost with only the write answered, ioredis rejects the WAIT
 * instead of sending it again on a new connection (where it would count
 * replicas of nothing and answer at once).
 */
async function writeAndWait(pipeline: () => IoredisPipeline, [command, ...args]: string[], wait: ReplicaWait): Promise<unknown> {
  const commands = pipeline();
  commands.call(command as string, args);
  commands.call('WAIT', waitArguments(wait));
  const [written, waited] = (await commands.exec()) ?? [];
  if (written === undefined || waited === undefined) throw new Error('the Redis pipeline returned no reply for this command');
  if (written[0]) throw written[0];
  if (waited[0]) throw waited[0];
  checkAcknowledged(waited[1], wait);
  return written[1];
}

/** Cluster errors that mean the command was not run: the slot is elsewhere or has no master yet. */
const NOT_RUN = /^(MOVED|TRYAGAIN|CLUSTERDOWN) /;
/** As many tries as ioredis' own `maxRedirections`, each after `retryDelayOnClusterDown`. */
const CLUSTER_TRIES = 16;
const CLUSTER_RETRY_DELAY_MS = 100;

/**
 * {@link writeAndWait} on an ioredis Cluster. The pipeline's keyed write picks
 * the node and the keyless WAIT goes along to it. ioredis sends a pipeline
 * again by itself only when every command in it failed alike, so when the
 * write is redirected but WAIT, which Redis runs whatever the slot, answers,
 * it is this runner that refreshes the slot map and tries again. That is
 * safe because a redirected write was not run. An ASK (a slot half-way
 * through a resharding) is not followed: that write fails.
 */
function clusterWaitingWrite(cluster: IoredisClient, pipeline: () => IoredisPipeline, wait: ReplicaWait): RunCommand {
  return async (_key, args, abandoned) => {
    for (let attempt = 1; ; attempt += 1) {
      try {
        return await writeAndWait(pipeline, args, wait);
      } catch (error) {
        if (!(error instanceof Error) || !NOT_RUN.test(error.message) || attempt >= CLUSTER_TRIES || abandoned?.() === true) throw error;
        await new Promise<void>((resolve) => {
          if (typeof cluster.refreshSlotsCache === 'function') cluster.refreshSlotsCache(() => resolve());
          else resolve();
        });
        // A first MOVED is a slot map that is merely stale; anything else may need the Cluster to settle.
        if (attempt > 1 || !error.message.startsWith('MOVED')) await new Promise((resolve) => setTimeout(resolve, CLUSTER_RETRY_DELAY_MS));
        if (abandoned?.() === true) throw error;
      }
    }
  };
}

interface QueuedCommand {
  readonly key: string;
  readonly args: string[];
  /** Settled only once the batch's WAIT has answered. */
  readonly wait: boolean;
  readonly resolve: (value: unknown) => void;
  readonly reject: (error: unknown) => void;
}

/**
 * Sends the commands issued during one turn of the event loop together, as
 * one ioredis pipeline: one socket write instead of one per command. Under
 * load, requests from many connections arrive in one turn, and a write is a
 * system call that costs more than the rest of a session lookup. The batch
 * goes out in `setImmediate`, right after the turn's I/O callbacks, so a
 * command waits for no timer; a turn with a single command that needs no
 * WAIT sends it as it is.
 *
 * With `wait`, a batch holding writes ends with one `WAIT`: everything before
 * it went over this one connection, so its answer covers every write of the
 * batch, and the batch pays for one round trip to the replicas, not one per
 * write. Its reads are answered with the batch too: they could not be much
 * sooner, as Redis holds every later command of a connection blocked in WAIT.
 */
function batchingRunner(
  direct: RunCommand,
  pipeline: () => IoredisPipeline,
  wait: ReplicaWait | undefined,
): (key: string, args: string[], waits: boolean) => Promise<unknown> {
  let queue: QueuedCommand[] = [];
  const send = (batch: QueuedCommand[]): void => {
    const waiting = wait !== undefined && batch.some((command) => command.wait);
    if (batch.length === 1 && !waiting) {
      const only = batch[0] as QueuedCommand;
      direct(only.key, only.args).then(only.resolve, only.reject);
      return;
    }
    const commands = pipeline();
    for (const { args } of batch) commands.call(args[0] as string, args.slice(1));
    if (waiting) commands.call('WAIT', waitArguments(wait));
    commands.exec().then(
      (results) => {
        const waited = waiting ? results?.[batch.length] : undefined;
        batch.forEach((command, i) => {
          const result = results?.[i];
          if (result === undefined) command.reject(new Error('the Redis pipeline returned no reply for this command'));
          else if (result[0] !== null) command.reject(result[0]);
          else if (!(wait !== undefined && command.wait)) command.resolve(result[1]);
          else if (waited === undefined) command.reject(new Error('the Redis pipeline returned no reply for WAIT'));
          else if (waited[0] !== null) command.reject(waited[0]);
          else {
            try {
              checkAcknowledged(waited[1], wait);
              command.resolve(result[1]);
            } catch (error) {
              command.reject(error);
            }
          }
        });
      },
      (error: unknown) => {
        for (const command of batch) command.reject(error);
      },
    );
  };
  const flush = (): void => {
    const batch = queue;
    queue = [];
    try {
      send(batch);
    } catch (error) {
      // Thrown inside setImmediate it would crash the process; each waiting request gets it instead.
      for (const command of batch) command.reject(error);
    }
  };
  return (key, args, waits) =>
    new Promise((resolve, reject) => {
      if (queue.length === 0) setImmediate(flush);
      queue.push({ key, args, wait: waits, resolve, reject });
    });
}

/** A Lua script with its SHA1, run by EVALSHA and sent whole only when the server lacks it. */
export interface Script {
  readonly source: string;
  readonly sha: string;
}

export function script(source: string): Script {
  return { source, sha: createHash('sha1').update(source).digest('hex') };
}

/**
 * Runs `lua` on `keys`, which must share a slot on a Cluster (the first one
 * picks the node). Each Cluster node caches scripts on its own, and a restart
 * or SCRIPT FLUSH empties the cache, so NOSCRIPT is an ordinary answer here
 * and is retried once with EVAL, unless the caller has given up meanwhile
 * (`abandoned()`): a write nobody waits for any more must not land later than
 * writes that came after it.
 */
export async function evalScript(
  run: RunCommand,
  lua: Script,
  keys: readonly [string, ...string[]],
  argv: string[],
  abandoned: () => boolean,
): Promise<unknown> {
  const [key] = keys;
  const rest = [String(keys.length), ...keys, ...argv];
  try {
    return await run(key, ['EVALSHA', lua.sha, ...rest], abandoned);
  } catch (error) {
    if (!(error instanceof Error) || !error.message.startsWith('NOSCRIPT') || abandoned()) throw error;
    return run(key, ['EVAL', lua.source, ...rest], abandoned);
  }
}
