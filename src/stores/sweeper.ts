// The periodic sweep of the SQL stores and the rules every call to sweep()
// follows, kept in one place so that the three stores cannot drift apart.
import { debug } from '../debug.js';

/**
 * Runs a store's sweep on an `unref()`ed timer and on demand:
 * - one sweep at a time: a `sweep()` call made while another sweep runs waits
 *   for it and then sweeps itself, so it still deletes what expired before
 *   the call and counts only its own deletions (a timer tick that finds a
 *   sweep running is skipped instead, so ticks never pile up);
 * - `stop()` clears the timer and resolves once no sweep is running any
 *   more, so that after a store's `close()` no statement of it reaches a
 *   pool or database the caller then closes.
 */
export class Sweeper {
  readonly #store: string;
  readonly #sweepOnce: () => Promise<number>;
  #timer: NodeJS.Timeout | undefined;
  /** The last sweep started or queued; settled when every sweep has ended. */
  #last: Promise<unknown> = Promise.resolve();
  #running = 0;

  /**
   * @param store the store's class name, for the debug line of a failed timed sweep
   * @param interval milliseconds between timed sweeps; `0`: none
   * @param sweepOnce deletes what has expired and resolves to how many rows went
   */
  constructor(store: string, interval: number, sweepOnce: () => Promise<number>) {
    this.#store = store;
    this.#sweepOnce = sweepOnce;
    if (interval > 0) {
      this.#timer = setInterval(() => {
        if (this.#running > 0) return;
        this.run().catch((error: unknown) => debug('%s sweep failed: %s', this.#store, error instanceof Error ? error.message : String(error)));
      }, interval);
      this.#timer.unref();
    }
  }

  /** Sweeps once, after any sweep already running, and resolves to how many rows this sweep deleted. */
  run(): Promise<number> {
    this.#running += 1;
    const sweep = this.#last
      .then(() => this.#sweepOnce())
      .finally(() => {
        this.#running -= 1;
      });
    this.#last = sweep.then(
      () => undefined,
      () => undefined,
    );
    return sweep;
  }

  /** Stops the timer and waits until no sweep runs; a failing sweep is its caller's to report. */
  async stop(): Promise<void> {
    if (this.#timer) clearInterval(this.#timer);
    this.#timer = undefined;
    await this.#last;
  }
}
