/**
 * `pending`, or a rejection with `timeoutError()` once `ms` milliseconds have
 * passed without it settling. The timer is cleared as soon as `pending`
 * settles, and it is `unref()`ed: a deadline must never be what keeps a
 * closing process alive. `timeoutError` runs only when the deadline fires, so
 * it is also where a caller learns that nobody waits for `pending` any more.
 */
export function withDeadline<T>(pending: Promise<T>, ms: number, timeoutError: () => Error): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const timer = setTimeout(() => reject(timeoutError()), ms);
    timer.unref();
    pending.then(
      (value) => {
        clearTimeout(timer);
        resolve(value);
      },
      (error: unknown) => {
        clearTimeout(timer);
        reject(error);
      },
    );
  });
}
