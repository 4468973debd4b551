// The few Redis commands RedisStore needs, over whichever client the user
// passed in. Clients are told apart by duck typing, never by importing them:
// both ioredis and redis (node-redis) are optional peers.
import { createHash } from 'node:crypto';
import type { Cluster, Redis } from 'ioredis';

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

/** Every client RedisStore accepts. */
export type RedisClient = Redis | Cluster | NodeRedisClient | NodeRedisCluster;

/** Sends one command whose keys all hash to `key`'s slot. */
export type RunCommand = (key: string, args: string[]) => Promise<unknown>;

interface IoredisLike {
  call(command: string, args: string[]): Promise<unknown>;
  pipeline?(): IoredisPipeline;
  isCluster?: boolean;
  options?: { enableAutoPipelining?: boolean };
}

interface IoredisPipeline {
  call(command: string, args: string[]): unknown;
  exec(): Promise<Array<[Error | null, unknown]> | null>;
}

/** Returns a command runner for `client`, or undefined when `client` is no client we know. */
export function commandRunner(client: unknown): RunCommand | undefined {
  if (client === null || typeof client !== 'object') return undefined;
  const candidate = client as Record<string, unknown>;
  if (typeof candidate.call === 'function') {
    // ioredis, single node or Cluster: Cluster routes by the command's declared keys.
    const ioredis = client as IoredisLike;
    const direct: RunCommand = (_key, [command, ...args]) => ioredis.call(command as string, args);
    // A Cluster pipeline must stay within one slot, and a client that pipelines by itself needs no help.
    if (typeof ioredis.pipeline === 'function' && ioredis.isCluster !== true && ioredis.options?.enableAutoPipelining !== true) {
      return batchingRunner(direct, ioredis.pipeline.bind(ioredis));
    }
    return direct;
  }
  if (typeof candidate.sendCommand === 'function') {
    if (typeof candidate.getSlotMaster === 'function') {
      // node-redis cluster needs the first key to pick the shard.
      const cluster = client as NodeRedisCluster;
      return (key, args) => cluster.sendCommand(key, false, args);
    }
    const single = client as NodeRedisClient;
    return (_key, args) => single.sendCommand(args);
  }
  return undefined;
}

interface QueuedCommand {
  readonly key: string;
  readonly args: string[];
  readonly resolve: (value: unknown) => void;
  readonly reject: (error: unknown) => void;
}

/**
 * Sends the commands issued during one turn of the event loop together, as
 * one ioredis pipeline: one socket write instead of one per command. Under
 * load, requests from many connections arrive in one turn, and a write is a
 * system call that costs more than the rest of a session lookup. The batch
 * goes out in `setImmediate`, right after the turn's I/O callbacks, so a
 * command waits for no timer; a turn with a single command sends it as it is.
 */
function batchingRunner(direct: RunCommand, pipeline: () => IoredisPipeline): RunCommand {
  let queue: QueuedCommand[] = [];
  const send = (batch: QueuedCommand[]): void => {
    if (batch.length === 1) {
      const only = batch[0] as QueuedCommand;
      direct(only.key, only.args).then(only.resolve, only.reject);
      return;
    }
    const commands = pipeline();
    for (const { args } of batch) commands.call(args[0] as string, args.slice(1));
    commands.exec().then(
      (results) => {
        batch.forEach((command, i) => {
          const result = results?.[i];
          if (result === undefined) command.reject(new Error('the Redis pipeline returned no reply for this command'));
          else if (result[0] !== null) command.reject(result[0]);
          else command.resolve(result[1]);
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
  return (key, args) =>
    new Promise((resolve, reject) => {
      if (queue.length === 0) setImmediate(flush);
      queue.push({ key, args, resolve, reject });
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
 * Runs `lua` on the single key `key`. Each Cluster node caches scripts on its
 * own, and a restart or SCRIPT FLUSH empties the cache, so NOSCRIPT is an
 * ordinary answer here and is retried once with EVAL, unless the caller has
 * given up meanwhile (`abandoned()`): a write nobody waits for any more must
 * not land later than writes that came after it.
 */
export async function evalScript(run: RunCommand, lua: Script, key: string, argv: string[], abandoned: () => boolean): Promise<unknown> {
  try {
    return await run(key, ['EVALSHA', lua.sha, '1', key, ...argv]);
  } catch (error) {
    if (!(error instanceof Error) || !error.message.startsWith('NOSCRIPT') || abandoned()) throw error;
    return run(key, ['EVAL', lua.source, '1', key, ...argv]);
  }
}
