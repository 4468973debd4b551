// The rules every SQL store's sweep() follows (src/stores/sweeper.ts), checked
// the same way on each: one sweep at a time, close() waits for a running one,
// and no sweep after close().
import assert from 'node:assert/strict';

interface SweepingStore {
  sweep(): Promise<number>;
  close(): Promise<void>;
}

/**
 * Runs the check on `store` (its sweep timer off). `expire(count, round)` adds
 * `count` expired rows, names of round 1 and round 2 never clashing; round 1
 * gives `first` rows, round 2 gives 2500, several batches, so that the sweep
 * is still under way when close() comes. `closed` matches the store's error
 * for a call after close().
 */
export async function checkOneSweepAtATime(
  store: SweepingStore,
  expire: (count: number, round: 1 | 2) => unknown,
  first: number,
  closed: RegExp,
): Promise<void> {
  await expire(first, 1);
  const running = store.sweep();
  const second = store.sweep();
  assert.deepEqual(await Promise.all([running, second]), [first, 0], 'the second call waited for the first and found nothing left');
  await expire(2500, 2);
  let settled = false;
  const last = store.sweep().then((deleted) => {
    settled = true;
    return deleted;
  });
  await new Promise((resolve) => setImmediate(resolve));
  await store.close();
  await new Promise((resolve) => setImmediate(resolve));
  assert.equal(settled, true, 'close() resolved only after the running sweep ended');
  assert.ok((await last) <= 2500, 'a sweep cut short by close() resolves with what it deleted');
  await assert.rejects(store.sweep(), closed);
}
