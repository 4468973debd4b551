import type { SessionHolder } from './carrier.js';

/**
 * The sessions that requests of one middleware hold right now, by id.
 *
 * A store without `patch` writes a changed session back with `save`, and one
 * without `touch` extends it with `save`: both would bring back a session that
 * a concurrent request removed meanwhile (a logout, a regeneration), stolen
 * copies of its cookie included. The shipped stores refuse to patch or touch a
 * missing entry; for the others, the middleware tells each request holding a
 * session when another request removes it, so it writes nothing back.
 * This works within one process: across processes only the store can refuse.
 */
export class HeldSessions {
  readonly #holders = new Map<string, SessionHolder | Set<SessionHolder>>();

  hold(sid: string, holder: SessionHolder): void {
    const current = this.#holders.get(sid);
    if (current === undefined) this.#holders.set(sid, holder);
    else if (current instanceof Set) current.add(holder);
    else this.#holders.set(sid, new Set([current, holder]));
  }

  release(sid: string, holder: SessionHolder): void {
    const current = this.#holders.get(sid);
    if (current === holder) this.#holders.delete(sid);
    else if (current instanceof Set) {
      current.delete(holder);
      if (current.size === 0) this.#holders.delete(sid);
    }
  }

  /** Tells every holder of `sid` but `remover` that the session is gone. */
  removed(sid: string, remover: SessionHolder): void {
    const current = this.#holders.get(sid);
    if (current === undefined) return;
    if (current instanceof Set) {
      for (const holder of current) if (holder !== remover) holder.sessionRemoved();
    } else if (current !== remover) current.sessionRemoved();
  }
}
