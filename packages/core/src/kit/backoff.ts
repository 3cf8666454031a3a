/** Options of a {@link Backoff}. */
export interface BackoffOptions {
  /** Ceiling of the first delay, in ms. Must be > 0. */
  readonly initialMs: number;
  /** Upper bound of every delay, in ms. Must be ≥ `initialMs`. */
  readonly maxMs: number;
  /**
   * `'equal'` (default): each delay is uniform in `[d/2, d]` where `d` is the exponential ceiling —
   * members that lost one broker together do not come back in lock step, and a delay is never
   * below half its ceiling. `'none'`: exactly `d`.
   */
  readonly jitter?: 'equal' | 'none';
  /** Source of randomness in `[0, 1)`, for tests. Default `Math.random`. */
  readonly random?: () => number;
}

/** Ceiling `d = min(maxMs, initialMs · 2^(n-1))` of the delay after failure `n` (1-based), in ms. */
export function exponentialCeiling(options: BackoffOptions, failure: number): number {
  const exponent = Math.min(Math.max(failure - 1, 0), 52);
  return Math.min(options.maxMs, options.initialMs * 2 ** exponent);
}

/**
 * The delay after failure `n` (1-based), in ms: {@link exponentialCeiling} jittered as `jitter`
 * says. The one formula behind core's message retry delay (`retryDelay`) and every adapter's
 * reconnect or restart backoff.
 */
export function exponentialDelay(options: BackoffOptions, failure: number): number {
  const ceiling = exponentialCeiling(options, failure);
  if (options.jitter === 'none') return ceiling;
  const half = ceiling / 2;
  return Math.round(half + (options.random ?? Math.random)() * half);
}

/**
 * The delays of one reconnect or restart loop: exponential from `initialMs` up to `maxMs`, with
 * jitter; {@link reset} after a success. It only computes delays; wait with {@link sleep} or a
 * timer of your own. Not for message retries: those follow the subscription's `RetryPolicy` in core.
 *
 * @example
 * const backoff = new Backoff({ initialMs: 100, maxMs: 30_000 });
 * while (!closed) {
 *   try { await reconnect(); backoff.reset(); break; }
 *   catch { await sleep(backoff.next(), signal); }
 * }
 */
export class Backoff {
  #failures = 0;

  constructor(readonly options: BackoffOptions) {
    if (!(options.initialMs > 0) || !(options.maxMs >= options.initialMs))
      throw new RangeError(
        `backoff needs 0 < initialMs ≤ maxMs, got ${options.initialMs} and ${options.maxMs}`,
      );
  }

  /** Failures counted since construction or the last {@link reset}. */
  get failures(): number {
    return this.#failures;
  }

  /** Counts one more failure and returns the delay to wait before the next try, in ms. */
  next(): number {
    this.#failures++;
    return exponentialDelay(this.options, this.#failures);
  }

  /** Starts again from `initialMs` (after a success). */
  reset(): void {
    this.#failures = 0;
  }
}

/**
 * Resolves after `ms`, or as soon as `signal` aborts (then with `false`; `true` when the time
 * passed). Never rejects, and holds no timer once it resolved, so a closing component is not kept
 * waiting for a backoff.
 */
export function sleep(ms: number, signal?: AbortSignal): Promise<boolean> {
  if (signal?.aborted) return Promise.resolve(false);
  return new Promise((resolve) => {
    const onAbort = () => {
      clearTimeout(timer);
      resolve(false);
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve(true);
    }, ms);
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

/** Options of {@link retrying}. */
export interface RetryingOptions {
  /** Whether a failure is transient (worth another try). Others are thrown at once. */
  readonly retryable: (error: unknown) => boolean;
  /** Give up (throw the last error) when the next try would start later than this, in ms. */
  readonly timeoutMs: number;
  /** The delays between tries. Default: 100 ms doubling up to 2 000 ms, equal jitter. */
  readonly backoff?: BackoffOptions;
  /** Stops retrying when aborted (the last error is thrown). */
  readonly signal?: AbortSignal;
}

/**
 * Calls `call` until it succeeds, trying again after a backoff while `retryable` says the failure is
 * transient and `timeoutMs` has not passed. For an adapter's own short-lived calls that a broker
 * may refuse for a moment (a coordinator loading after a restart, metadata not yet propagated):
 * see "Who retries" in `@carrier/core/transport`.
 *
 * @throws the last error of `call` when it is not retryable, the time is up or `signal` aborted.
 */
export async function retrying<T>(call: () => Promise<T>, options: RetryingOptions): Promise<T> {
  const deadline = Date.now() + options.timeoutMs;
  const backoff = new Backoff(options.backoff ?? { initialMs: 100, maxMs: 2_000 });
  for (;;) {
    try {
      return await call();
    } catch (error) {
      const delay = backoff.next();
      if (!options.retryable(error) || Date.now() + delay > deadline) throw error;
      if (!(await sleep(delay, options.signal))) throw error;
    }
  }
}
