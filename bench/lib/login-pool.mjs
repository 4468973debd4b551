// How many sessions a login server gets before each run. A login ends the
// session its cookie names (regenerateSession removes it), so within one run
// no cookie may come round twice: the cookie file must hold more sessions
// than the run sends requests. The server makes a fresh pool before every
// run, outside the measured time (app.mjs `prepare`), sized from this
// server's fastest run so far.

/**
 * The pool for the next run of `duration` seconds: twice what the fastest run
 * of this server so far would send in that time (consecutive runs on a busy
 * 2-core VM differ by up to 30 %, and a warm-up is slower than a warm server),
 * plus one session per connection (requests still in flight when the load
 * generator stops were sent, so they used a cookie). `fallback` (the
 * `--sessions` count) when no run has been seen yet (`--warmup 0`).
 * A run that still outgrows its pool comes back to used cookies; those
 * requests answer 409 and show as failed, so it cannot go unnoticed.
 */
export function poolSize({ fastestRps, duration, connections, fallback }) {
  if (!Number.isFinite(fastestRps) || fastestRps <= 0) return fallback;
  return Math.ceil(2 * fastestRps * duration) + connections;
}
