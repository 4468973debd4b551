// The "in-process Map store" contenders: the smallest store each library accepts,
// over a Map, answering with plain values (no promises to await, no I/O), so the
// figures show the session layer's own cost.

/**
 * A store for this package: `load`/`save`/`remove` on JSON strings, no `patch`;
 * it says its `load` answers with plain values (`loadsSynchronously`), as the
 * README's store example does, so requests that never touch the session skip it.
 */
export function mapStore() {
  const entries = new Map();
  return {
    entries,
    loadsSynchronously: () => true,
    load: (sid) => entries.get(sid),
    save: (sid, json) => {
      entries.set(sid, json);
    },
    remove: (sid) => {
      entries.delete(sid);
    },
  };
}

/** An external store for koa-session 7 (`get`/`set`/`destroy` on session objects). */
export function koaSessionMapStore() {
  const entries = new Map();
  return {
    get: (key) => entries.get(key),
    set: (key, sess) => {
      entries.set(key, sess);
    },
    destroy: (key) => {
      entries.delete(key);
    },
  };
}

/** An external store for koa-session 7 over ioredis, as a user would write it in a few lines. */
export function koaSessionRedisStore(client, prefix) {
  return {
    async get(key) {
      const json = await client.get(prefix + key);
      return json === null ? undefined : JSON.parse(json);
    },
    async set(key, sess, maxAge) {
      if (typeof maxAge === 'number') await client.set(prefix + key, JSON.stringify(sess), 'PX', maxAge);
      else await client.set(prefix + key, JSON.stringify(sess));
    },
    async destroy(key) {
      await client.del(prefix + key);
    },
  };
}
