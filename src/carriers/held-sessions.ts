import type { SessionHolder } from './carrier.js';

/** One request's hold on a session, given back with {@link HeldSessions.release} when the request ends. */
export interface Hold {
  /** The id of the session held. */
  readonly sid: string;
}

/** A hold, linked into the list of holds in progress. */
interface Link extends Hold {
  readonly holder: SessionHolder;
  previous: Link | undefined;
  next: Link | undefined;
  released: boolean;
}

/**
 * The sessions that requests of one middleware hold right now.
 *
 * A store without `patch` writes a changed session back with `save`, and one
 * without `touch` extends it with `save`: both would bring back a session that
 * a concurrent request removed meanwhile (a logout, a regeneration), stolen
 * copies of its cookie included. The shipped stores refuse to patch or touch a
 * missing entry; for the others, the middleware tells each request holding a
 * session when another request removes it, so it writes nothing back.
 * This works within one process: across processes only the store can refuse.
 *
 * Every request that loads a session holds it, while a removal is rare (a
 * logout, a regeneration), so the holds are a linked list: holding and
 * releasing are a few pointer writes, and a removal walks the holds in
 * progress. A Map by id would make the removal one lookup, but costs every
 * request a hash of the id and, as it empties and fills again, a table
 * shrunk and grown (measured: about 600 ns a request against 20 for the list).
 */
export class HeldSessions {
  #first: Link | undefined;

  hold(sid: string, holder: SessionHolder): Hold {
    const first = this.#first;
    const link: Link = { sid, holder, previous: undefined, next: first, released: false };
    if (first !== undefined) first.previous = link;
    this.#first = link;
    return link;
  }

  /** Ends a hold; a second release of the same hold does nothing. */
  release(hold: Hold): void {
    const link = hold as Link;
    if (link.released) return;
    link.released = true;
    const { previous, next } = link;
    if (previous === undefined) this.#first = next;
    else previous.next = next;
    if (next !== undefined) next.previous = previous;
    link.previous = undefined;
    link.next = undefined;
  }

  /** Tells every holder of `sid` but `remover` that the session is gone. */
  removed(sid: string, remover: SessionHolder): void {
    for (let link = this.#first; link !== undefined; link = link.next) {
      if (link.sid === sid && link.holder !== remover) link.holder.sessionRemoved();
    }
  }
}
