/** Retry policy of a subscription. */
export interface RetryPolicy {
  /** Deliveries in all, the first included, before the message is dead-lettered. Default 5. */
  readonly maxAttempts: number;
  /** Delay before the second delivery, in ms. Default 200. */
  readonly initialDelayMs: number;
  /** Upper bound of any delay, in ms. Default 30 000. */
  readonly maxDelayMs: number;
}

/** Defaults used where a subscription does not say. */
export const DEFAULT_RETRY: RetryPolicy = { maxAttempts: 5, initialDelayMs: 200, maxDelayMs: 30_000 };

/**
 * Delay before delivery `attempt + 1` after delivery `attempt` failed: exponential
 * (`initialDelayMs * 2^(attempt-1)`, capped at `maxDelayMs`) with "equal jitter", i.e. a uniform
 * value in `[d/2, d]`. It depends only on the attempt number, which the broker carries, so it is
 * the same whichever process handles the redelivery; the lower bound `d/2` is guaranteed.
 */
export function retryDelay(policy: RetryPolicy, attempt: number, random: () => number = Math.random): number {
  const exponent = Math.min(Math.max(attempt - 1, 0), 52);
  const ceiling = Math.min(policy.maxDelayMs, policy.initialDelayMs * 2 ** exponent);
  const half = ceiling / 2;
  return Math.round(half + random() * half);
}
