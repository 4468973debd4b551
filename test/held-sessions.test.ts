// The holds a middleware keeps on sessions its requests loaded from a store
// that could write a removed session back (no patch or no touch): a removal
// tells every other request holding that id, and no request that let go.
// The behaviour over HTTP is in test/support/concurrency.ts (destroy and
// regenerate racing many writers); this checks the list itself, holds
// released in every order included.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { SessionHolder } from '../src/carriers/carrier.js';
import { HeldSessions, type Hold } from '../src/carriers/held-sessions.js';

class Request implements SessionHolder {
  removed = 0;
  sessionRemoved(): void {
    this.removed += 1;
  }
}

describe('held sessions', () => {
  it('tells every holder of the removed id but the remover, once per removal', () => {
    const held = new HeldSessions();
    const [a, b, c, other] = [new Request(), new Request(), new Request(), new Request()];
    held.hold('s1', a);
    held.hold('s1', b);
    held.hold('s1', c);
    held.hold('s2', other);
    held.removed('s1', b);
    assert.deepEqual([a.removed, b.removed, c.removed, other.removed], [1, 0, 1, 0]);
    held.removed('s1', new Request());
    assert.deepEqual([a.removed, b.removed, c.removed, other.removed], [2, 1, 2, 0]);
  });

  it('forgets a released hold, whatever its place in the list, and a second release changes nothing', () => {
    for (const order of [
      [0, 1, 2],
      [2, 1, 0],
      [1, 0, 2],
      [1, 2, 0],
    ]) {
      const held = new HeldSessions();
      const requests = [new Request(), new Request(), new Request()];
      const holds: Hold[] = requests.map((request) => held.hold('s', request));
      const released = new Set<number>();
      for (const index of order) {
        held.release(holds[index] as Hold);
        held.release(holds[index] as Hold);
        released.add(index);
        held.removed('s', new Request());
        const expected = requests.map((_, i) => (released.has(i) ? 0 : 1));
        assert.deepEqual(
          requests.map((request) => request.removed),
          expected,
          `order ${order.join(',')}: only the holds not yet released hear of the removal`,
        );
        for (const request of requests) request.removed = 0;
      }
      // All released: the list is empty again, and a new hold is told alone.
      const late = new Request();
      held.hold('s', late);
      held.removed('s', new Request());
      assert.deepEqual([...requests.map((request) => request.removed), late.removed], [0, 0, 0, 1]);
    }
  });

  it('keeps 10,000 random holds and releases straight', () => {
    const held = new HeldSessions();
    const live = new Map<Hold, { sid: string; request: Request }>();
    let seed = 7;
    const random = (n: number): number => {
      seed = (seed * 1103515245 + 12345) % 2147483648;
      return seed % n;
    };
    for (let step = 0; step < 10000; step++) {
      if (live.size === 0 || random(3) > 0) {
        const sid = `s${random(20)}`;
        const request = new Request();
        live.set(held.hold(sid, request), { sid, request });
      } else {
        const holds = [...live.keys()];
        const hold = holds[random(holds.length)] as Hold;
        held.release(hold);
        live.delete(hold);
      }
      if (step % 500 === 0) {
        const sid = `s${random(20)}`;
        for (const { request } of live.values()) request.removed = 0;
        held.removed(sid, new Request());
        for (const entry of live.values()) assert.equal(entry.request.removed, entry.sid === sid ? 1 : 0);
      }
    }
  });
});
