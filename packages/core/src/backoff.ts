import { type BackoffOptions, exponentialCeiling, exponentialDelay } from './kit/backoff.js';

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

/** The policy's delays as the kit's backoff options (equal jitter). */
function delays(policy: RetryPolicy, random?: () => number): BackoffOptions {
  return { initialMs: policy.initialDelayMs, maxMs: policy.maxDelayMs, jitter: 'equal', random };
}

/**
 * Delay before delivery `attempt + 1` after delivery `attempt` failed: exponential
 * (`initialDelayMs * 2^(attempt-1)`, capped at `maxDelayMs`) with "equal jitter", i.e. a uniform
 * value in `[d/2, d]`. It depends only on the attempt number, which the broker carries, so it is
 * the same whichever process handles the redelivery; the lower bound `d/2` is guaranteed.
 */
export function retryDelay(policy: RetryPolicy, attempt: number, random: () => number = Math.random): number {
  return exponentialDelay(delays(policy, random), attempt);
}

/**
 * The longest delay {@link retryDelay} will ever ask a transport for under this policy, in ms.
 * With dead letters a retry follows deliveries 1 … `maxAttempts - 1` only; without them
 * (`deadLetter: false`) retries go on forever and the delay grows to `maxDelayMs`. 0 when the
 * policy never retries.
 */
export function longestRetryDelay(policy: RetryPolicy, deadLetter: boolean): number {
  if (!deadLetter) return exponentialCeiling(delays(policy), Number.MAX_SAFE_INTEGER);
  if (policy.maxAttempts < 2) return 0;
  return exponentialCeiling(delays(policy), policy.maxAttempts - 1);
}
