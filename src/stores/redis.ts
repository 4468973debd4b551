import type { IndexedSession, SessionPatch, SessionStore } from '../store.js';
import { withDeadline } from '../deadline.js';
import { INDEX_SCRIPT } from './redis-index.lua.js';
import { entryProblem } from './index-entry.js';
import { entryParts, indexedEntries, userKey } from './redis-index.js';
import { PATCH_SCRIPT } from './redis-patch.lua.js';
import { ReplicaWaitError, canWaitForReplicas, commandRunners, evalScript, script } from './redis-client.js';
import type { CommandRunners, RedisClient, ReplicaWait, RunCommand } from './redis-client.js';

export type { IoredisClient, IoredisPipeline, NodeRedisClient, NodeRedisCluster, RedisClient } from './redis-client.js';

/** Options of {@link RedisStore}. */
export interface RedisStoreOptions {
  /**
   * A connected Redis client: an ioredis `Redis` or `Cluster`, or a node-redis
   * (`redis` v4+) client from `createClient()` or `createCluster()` after `await client.connect()`.
   * The store only borrows it: `close()` never quits it, the application does.
   */
  client: RedisClient;
  /**
   * Prepended to the session id to make the Redis key; each session is the one key `prefix + sid`.
   * To keep every session of an app on one Cluster shard (rarely wanted), use a hash tag such as `'{sess}:'`.
   * @default 'koa:sess:'
   */
  prefix?: string;
  /**
   * How long, in milliseconds, each operation may wait for Redis before it rejects,
   * so an unreachable Redis fails the request instead of hanging it (ioredis and
   * node-redis queue commands while they reconnect). `0` turns the limit off.
   *
   * The limit ends the wait, not the command: one already sent may still be
   * applied when Redis answers again, exactly as with the clients' own timeouts.
   * @default 2000
   */
  commandTimeout?: number;
  /**
   * Makes every write (`save`, `patch`, `touch`, `remove`, and with the
   * `indexBy` option `indexSession` and `unindexSession`) wait until at least
   * `replicas` replicas have it, with Redis `WAIT replicas timeout` sent after
   * it on the same connection. When fewer acknowledge it within `timeout`, the
   * call rejects, and the request gets a 503, instead of reporting success
   * for a write that a failover could lose.
   *
   * Redis replicates asynchronously: without this, a master that crashes
   * before its replica has its last writes takes them along, and the replica
   * promoted in its place answers with older sessions. With it, a write
   * answered 2xx is on `replicas` replicas, so unless all of them fail too,
   * the one promoted has it. The price: each write waits for the replicas'
   * acknowledgement (one extra round trip from the master), and a shard with
   * fewer than `replicas` replicas reachable answers every write with a 503
   * after `timeout`. While WAIT blocks, the connection it was sent on waits
   * too. A failed call does not mean nothing was written: the master applied
   * the write, only its replication is in doubt.
   *
   * Works with an ioredis `Redis` or `Cluster` and a node-redis client; not
   * with a node-redis cluster, which could send the WAIT to another node than
   * the write after a redirect.
   * @default undefined (writes are answered as soon as the master has them)
   */
  waitForReplicas?: {
    /** How many replicas must acknowledge each write; an integer >= 1. */
    replicas: number;
    /**
     * How long Redis waits for them, in milliseconds; below `commandTimeout` (unless that is 0).
     * @default 500
     */
    timeout?: number;
  };
}

const DEFAULTS = { prefix: 'koa:sess:', commandTimeout: 2000, replicaTimeout: 500 } as const;

/** Most characters of `base` plus `result` sent with a patch; larger sessions send only the changed keys. */
const WHOLE_TEXT_LIMIT = 16_384;

const PATCH = script(PATCH_SCRIPT);
const INDEX = script(INDEX_SCRIPT);

/**
 * Keeps each session in Redis as the exact JSON string, at the single key
 * `prefix + sid`, with its time to live set by `PX` (`touch` uses `PEXPIRE`).
 * One key per session means it works unchanged on Redis Cluster, and `patch`
 * is one server-side script on that key, so concurrent requests of one session
 * keep each other's writes there too.
 *
 * With the `indexBy` option, each user's sessions are one hash at
 * `prefix + 'user:' + userId` (braces and `%` in the id escaped as `%7B`,
 * `%7D`, `%25`; field: session id, value: the entry's JSON), which expires
 * with the last of its entries.
 *
 * Install `ioredis` (or `redis`) yourself; this package does not depend on either.
 *
 * @example
 * ```ts
 * import Redis from 'ioredis';
 * import { RedisStore } from 'koa-session-store/redis';
 *
 * const store = new RedisStore({ client: new Redis('redis://127.0.0.1:6379') });
 * ```
 *
 * @example Redis Cluster through ioredis
 * ```ts
 * import { Cluster } from 'ioredis';
 *
 * const client = new Cluster([{ host: '10.0.0.1', port: 6379 }, { host: '10.0.0.2', port: 6379 }]);
 * const store = new RedisStore({ client });
 * ```
 *
 * @example node-redis
 * ```ts
 * import { createClient } from 'redis';
 *
 * const client = createClient({ url: 'redis://127.0.0.1:6379' });
 * await client.connect();
 * const store = new RedisStore({ client });
 * ```
 *
 * `close()` does not quit the client you passed in (the store opened nothing);
 * quit it yourself when the application shuts down.
 */
export class RedisStore implements SessionStore {
  /** The key prefix in use. */
  readonly prefix: string;
  private readonly send: RunCommand;
  private readonly write: RunCommand;
  private readonly commandTimeout: number;
  /** Whether the client is a Cluster's, where a user's hash and a session are in different slots. */
  private readonly cluster: boolean;
  private closed = false;

  constructor(options: RedisStoreOptions) {
    if (options === null || typeof options !== 'object') {
      throw new TypeError('koa-session-store: RedisStore needs an options object such as { client: new Redis() }');
    }
    if (!commandRunners(options.client)) {
      throw new TypeError(
        `koa-session-store: option client of RedisStore must be an ioredis Redis or Cluster, or a node-redis client, got ${describe(options.client)}`,
      );
    }
    const prefix = options.prefix ?? DEFAULTS.prefix;
    if (typeof prefix !== 'string') {
      throw new TypeError(`koa-session-store: option prefix of RedisStore must be a string, got ${describe(prefix)}`);
    }
    const commandTimeout = options.commandTimeout ?? DEFAULTS.commandTimeout;
    if (typeof commandTimeout !== 'number' || !Number.isFinite(commandTimeout) || commandTimeout < 0) {
      throw new TypeError(
        `koa-session-store: option commandTimeout of RedisStore must be a number of milliseconds >= 0, got ${describe(commandTimeout)}`,
      );
    }
    const wait = replicaWait(options.waitForReplicas, commandTimeout);
    if (wait && !canWaitForReplicas(options.client)) {
      throw new TypeError(
        'koa-session-store: option waitForReplicas of RedisStore needs an ioredis Redis or Cluster or a node-redis client; a node-redis cluster may send the WAIT to another node than the write, so use an ioredis Cluster',
      );
    }
    // Known to be a client: checked above.
    const { read, write, cluster } = commandRunners(options.client, wait) as CommandRunners;
    this.send = read;
    this.write = write;
    this.cluster = cluster;
    this.prefix = prefix;
    this.commandTimeout = commandTimeout;
  }

  /** Resolves to the stored JSON string, or null when the key is missing or expired. */
  async load(sid: string): Promise<string | null> {
    const key = this.key(sid);
    const value = await this.run('GET', () => this.send(key, ['GET', key]));
    if (value === null || value === undefined) return null;
    return Buffer.isBuffer(value) ? value.toString('utf8') : String(value);
  }

  /** `SET prefix+sid json PX ttlMs`; without `ttlMs` the key never expires. */
  async save(sid: string, json: string, ttlMs?: number): Promise<void> {
    const key = this.key(sid);
    if (typeof json !== 'string') {
      throw new TypeError(`koa-session-store: RedisStore.save needs the session as a JSON string, got ${typeof json}`);
    }
    const ttl = ttlArgument(ttlMs);
    const args = ttl === undefined ? ['SET', key, json] : ['SET', key, json, 'PX', ttl];
    await this.run('SET', (abandoned) => this.write(key, args, abandoned));
  }

  /** `DEL prefix+sid`; a missing key is fine. */
  async remove(sid: string): Promise<void> {
    const key = this.key(sid);
    await this.run('DEL', (abandoned) => this.write(key, ['DEL', key], abandoned));
  }

  /** `PEXPIRE prefix+sid ttlMs` (`PERSIST` without `ttlMs`); a missing key stays missing. */
  async touch(sid: string, ttlMs?: number): Promise<void> {
    const key = this.key(sid);
    const ttl = ttlArgument(ttlMs);
    const args = ttl === undefined ? ['PERSIST', key] : ['PEXPIRE', key, ttl];
    await this.run(args[0] as string, (abandoned) => this.write(key, args, abandoned));
  }

  /**
   * Applies `patch` to the stored object in one server-side script on the
   * session's key, rewriting only the top-level keys it names (every other
   * value keeps its exact text) and resetting the time to live to `ttlMs`.
   * When the stored text is still exactly `patch.base`, the script writes
   * `patch.result` whole instead (nobody changed the session meanwhile).
   * Resolves to false, having written nothing, when the key does not exist.
   */
  async patch(sid: string, patch: SessionPatch, ttlMs?: number): Promise<boolean> {
    const key = this.key(sid);
    const ttl = ttlArgument(ttlMs);
    const setKeys = Object.keys(patch.set);
    const { base, result } = patch;
    // The whole texts ride along only for sessions small enough that sending them costs less than the scan they save.
    const whole = typeof base === 'string' && typeof result === 'string' && base.length + result.length <= WHOLE_TEXT_LIMIT;
    const argv = [ttl ?? '', whole ? base : '', whole ? result : '', String(setKeys.length)];
    for (const name of setKeys) {
      const value = patch.set[name];
      if (typeof value !== 'string') {
        throw new TypeError(
          `koa-session-store: RedisStore.patch needs each value of set as JSON text, got ${typeof value} for key ${JSON.stringify(name)}`,
        );
      }
      argv.push(JSON.stringify(name), value);
    }
    for (const name of patch.unset) argv.push(JSON.stringify(name));
    const applied = await this.run('EVALSHA', (abandoned) => evalScript(this.write, PATCH, [key], argv, abandoned));
    return Number(applied) === 1;
  }

  /**
   * Upserts `entry` into `userId`'s hash in one server-side script on that
   * hash: a known session keeps its `createdAt` and `userAgent`, the user's
   * expired entries are dropped, and the hash expires with its latest entry.
   * Resolves to false, having written nothing, when the session does not exist.
   *
   * On a single node the script checks that atomically. On a Cluster the
   * session's key is in another slot than the hash, so an `EXISTS` goes first:
   * a session removed between the two leaves a stale entry, which the
   * middleware drops when it lists the user's sessions (it checks each entry).
   */
  async indexSession(userId: string, entry: IndexedSession): Promise<boolean> {
    const hash = this.userKey(userId);
    const problem = entryProblem(entry);
    if (problem !== undefined) throw new TypeError(`koa-session-store: RedisStore.indexSession: ${problem}`);
    const session = this.key(entry.sid);
    const [head, tail] = entryParts(entry);
    const argv = [entry.sid, String(Date.now()), head, tail];
    if (this.cluster && Number(await this.run('EXISTS', () => this.send(session, ['EXISTS', session]))) !== 1) return false;
    const keys: [string, ...string[]] = this.cluster ? [hash] : [hash, session];
    const written = await this.run('EVALSHA', (abandoned) => evalScript(this.write, INDEX, keys, argv, abandoned));
    return Number(written) === 1;
  }

  /** `HDEL prefix+'user:'+userId sid`, which deletes the hash with its last field; a missing entry is fine. */
  async unindexSession(userId: string, sid: string): Promise<void> {
    const hash = this.userKey(userId);
    if (typeof sid !== 'string') throw new TypeError(`koa-session-store: a session id must be a string, got ${typeof sid}`);
    await this.run('HDEL', (abandoned) => this.write(hash, ['HDEL', hash, sid], abandoned));
  }

  /**
   * `HGETALL` of the user's hash, as entries; a field that is not an entry is
   * left out. Expired entries not dropped yet may be among them.
   */
  async listIndexed(userId: string): Promise<IndexedSession[]> {
    const hash = this.userKey(userId);
    return indexedEntries(await this.run('HGETALL', () => this.send(hash, ['HGETALL', hash])));
  }

  /**
   * Marks the store closed: later calls reject. The client is left open,
   * because the store did not open it; quit it yourself.
   */
  async close(): Promise<void> {
    this.closed = true;
  }

  private key(sid: string): string {
    if (typeof sid !== 'string') {
      throw new TypeError(`koa-session-store: a session id must be a string, got ${typeof sid}`);
    }
    return this.prefix + sid;
  }

  private userKey(userId: string): string {
    if (typeof userId !== 'string') {
      throw new TypeError(`koa-session-store: a user id must be a string, got ${typeof userId}`);
    }
    return userKey(this.prefix, userId);
  }

  /**
   * Runs one Redis operation under the command timeout, naming the command in
   * any error. `operation` may ask whether the caller has stopped waiting.
   */
  private run<T>(command: string, operation: (abandoned: () => boolean) => Promise<T>): Promise<T> {
    if (this.closed) {
      return Promise.reject(new Error('koa-session-store: this RedisStore is closed; create a new RedisStore to use Redis again'));
    }
    const failed = (error: unknown): never => {
      if (error instanceof ReplicaWaitError) {
        throw new Error(
          `koa-session-store: Redis ${command} reached the master, but only ${error.acknowledged} of the ${error.wait.replicas} replica(s) asked for acknowledged it within ${error.wait.timeout} ms, so a failover could lose it; check the replicas (INFO replication), or lower replicas or raise timeout in the waitForReplicas option of RedisStore`,
          { cause: error },
        );
      }
      const reason = error instanceof Error ? error.message : String(error);
      throw new Error(`koa-session-store: Redis ${command} failed (${reason}); is the client connected and the server healthy?`, {
        cause: error,
      });
    };
    let timedOut = false;
    let pending: Promise<T>;
    try {
      pending = operation(() => timedOut);
    } catch (error) {
      pending = Promise.reject(error);
    }
    const answered = pending.then(undefined, failed);
    const limit = this.commandTimeout;
    if (limit === 0) return answered;
    return withDeadline(answered, limit, () => {
      timedOut = true;
      return new Error(
        `koa-session-store: Redis did not answer ${command} within ${limit} ms; check that Redis is reachable, or raise the commandTimeout option of RedisStore`,
      );
    });
  }
}

/** Validates the waitForReplicas option into what WAIT is sent with, or undefined when it is not set. */
function replicaWait(option: RedisStoreOptions['waitForReplicas'], commandTimeout: number): ReplicaWait | undefined {
  if (option === undefined) return undefined;
  if (option === null || typeof option !== 'object') {
    throw new TypeError(
      `koa-session-store: option waitForReplicas of RedisStore must be an object such as { replicas: 1, timeout: 500 }, got ${describe(option)}`,
    );
  }
  const { replicas } = option;
  if (typeof replicas !== 'number' || !Number.isInteger(replicas) || replicas < 1) {
    throw new TypeError(`koa-session-store: option waitForReplicas.replicas of RedisStore must be an integer >= 1, got ${describe(replicas)}`);
  }
  const timeout = option.timeout ?? DEFAULTS.replicaTimeout;
  if (typeof timeout !== 'number' || !Number.isFinite(timeout) || timeout <= 0) {
    throw new TypeError(
      `koa-session-store: option waitForReplicas.timeout of RedisStore must be a number of milliseconds > 0 (WAIT with 0 would block forever), got ${describe(timeout)}`,
    );
  }
  // Redis takes whole milliseconds; rounding up never turns a short wait into none.
  const wholeTimeout = Math.ceil(timeout);
  if (commandTimeout !== 0 && wholeTimeout >= commandTimeout) {
    throw new TypeError(
      `koa-session-store: option waitForReplicas.timeout of RedisStore (${wholeTimeout}) must be below commandTimeout (${commandTimeout}), or the command timeout ends every slow wait before Redis can say how many replicas answered`,
    );
  }
  return { replicas, timeout: wholeTimeout };
}

/** Redis wants a positive integer; the contract promises one, but a fraction must not reach Redis as `1.5`. */
function ttlArgument(ttlMs: number | undefined): string | undefined {
  if (ttlMs === undefined) return undefined;
  if (typeof ttlMs !== 'number' || !Number.isFinite(ttlMs) || ttlMs <= 0) {
    throw new TypeError(`koa-session-store: a time to live must be a positive number of milliseconds or undefined, got ${describe(ttlMs)}`);
  }
  return String(Math.ceil(ttlMs));
}

function describe(value: unknown): string {
  if (value === null) return 'null';
  if (typeof value === 'string') return JSON.stringify(value.length > 40 ? `${value.slice(0, 40)}…` : value);
  if (typeof value === 'number') return String(value);
  return typeof value;
}
