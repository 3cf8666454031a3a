/** A call that did not answer within its deadline (a silent endpoint or connection). */
export class DeadlineError extends Error {
  override readonly name = 'DeadlineExceeded';
  constructor(
    /** What was called, as named in the message (`connecting`, `SQS ReceiveMessage`, …). */
    readonly what: string,
    /** The deadline, in ms. */
    readonly ms: number,
  ) {
    super(`${what}: no answer within ${ms} ms (endpoint or connection silent)`);
  }
}

/** Options of {@link withDeadline}. */
export interface DeadlineOptions<T> {
  /** What is called, for the {@link DeadlineError} message. */
  readonly what: string;
  /** The deadline, in ms from the call. */
  readonly ms: number;
  /** The caller's own cancellation: aborting it aborts the signal `run` got (no DeadlineError). */
  readonly signal?: AbortSignal | undefined;
  /**
   * Receives a result that arrived after the deadline, to release it (close a connection opened
   * too late, so that no socket outlives the deadline). Its errors are ignored.
   */
  readonly onLate?: ((late: T) => unknown) | undefined;
}

/**
 * Runs `run` with an AbortSignal that aborts after `options.ms` (reason: a {@link DeadlineError})
 * or when `options.signal` aborts, whichever comes first. At the deadline the returned promise
 * rejects at once, even when `run` ignores its signal (a client without cancellation); a result
 * that still comes goes to `onLate`. A client that honours the signal (the AWS SDK destroys the
 * request's socket on abort) leaves nothing behind.
 *
 * @throws DeadlineError when the deadline passed first; otherwise what `run` throws (an aborted
 *   `options.signal` shows as whatever `run` makes of its aborted signal, e.g. an `AbortError`).
 */
export function withDeadline<T>(
  options: DeadlineOptions<T>,
  run: (signal: AbortSignal) => Promise<T>,
): Promise<T> {
  const { what, ms, signal, onLate } = options;
  const controller = new AbortController();
  const onAbort = () => controller.abort(signal?.reason);
  if (signal?.aborted) controller.abort(signal.reason);
  else signal?.addEventListener('abort', onAbort, { once: true });
  return new Promise<T>((resolve, reject) => {
    let expired = false;
    const done = () => {
      clearTimeout(timer);
      signal?.removeEventListener('abort', onAbort);
    };
    const timer = setTimeout(() => {
      expired = true;
      done();
      const error = new DeadlineError(what, ms);
      controller.abort(error);
      reject(error);
    }, ms);
    let running: Promise<T>;
    try {
      running = run(controller.signal);
    } catch (error) {
      running = Promise.reject(error);
    }
    running.then(
      (value) => {
        done();
        if (!expired) resolve(value);
        else if (onLate)
          Promise.resolve()
            .then(() => onLate(value))
            .catch(() => {});
      },
      (error: unknown) => {
        done();
        reject(error); // no effect after the deadline rejected
      },
    );
  });
}
