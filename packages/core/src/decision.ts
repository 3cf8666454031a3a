import { type RetryPolicy, retryDelay } from './backoff.js';
import { NonRetryableError } from './errors.js';

/**
 * What core decides for a delivery, apart from carrying it out: the rules of retries and dead
 * letters as pure functions of the outcome, the delivery's `attempt` and the subscription's policy.
 * `Consumer` executes the decision (calls the settle method, reports a failed settlement).
 */

/** The subscription settings a decision depends on. */
export interface SettlementPolicy {
  readonly retry: RetryPolicy;
  /** Whether the group has dead letters; without them a failing message is retried forever. */
  readonly deadLetter: boolean;
}

/** How the handling of one delivery ended. */
export type Outcome =
  /** The handler returned. */
  | { readonly kind: 'handled' }
  /** The handler threw `error` (a `NonRetryableError` is hopeless: no retry). */
  | { readonly kind: 'threw'; readonly error: unknown }
  /** The body could not be decoded under its content type; the handler was not called. */
  | { readonly kind: 'undecodable'; readonly error: unknown };

/** What to do with the delivery. */
export type Decision =
  | { readonly action: 'ack' }
  /** Redeliver to the group after `delayMs`, with `attempt + 1`. */
  | { readonly action: 'retry'; readonly delayMs: number }
  /** Dead-letter with this reason, recording `attempts` deliveries. */
  | { readonly action: 'deadLetter'; readonly reason: string; readonly attempts: number };

/** The message of an error, as recorded in a dead letter (core bounds its length when settling). */
export function failureReason(error: unknown): string {
  if (error instanceof Error) return error.message || error.name;
  return String(error);
}

/**
 * The dead-letter reason of a message whose last delivery was never settled: `deliveries` earlier
 * deliveries, the last of which died with its consumer (crash, abort, lost lease).
 */
export function unsettledReason(deliveries: number): string {
  return `delivered ${deliveries} times, the last one without settlement (consumer crashed or lost its lease)`;
}

/**
 * The decision taken before the handler runs: a delivery whose `attempt` exceeds `maxAttempts`
 * (dead letters on) is dead-lettered without running the handler — its earlier consumers kept
 * dying or losing their lease before settling it, and running it again would only repeat that.
 * `undefined`: run the handler.
 */
export function admit(attempt: number, policy: SettlementPolicy): Decision | undefined {
  if (!policy.deadLetter || attempt <= policy.retry.maxAttempts) return undefined;
  const attempts = attempt - 1;
  return { action: 'deadLetter', reason: unsettledReason(attempts), attempts };
}

/** The decision to acknowledge: one frozen object for every message. */
export const ACK: Decision = Object.freeze({ action: 'ack' });

/**
 * The decision after delivery `attempt` was handled:
 *
 * | outcome                                   | dead letters on                     | dead letters off |
 * | ----------------------------------------- | ----------------------------------- | ---------------- |
 * | handled                                   | ack                                 | ack              |
 * | threw, `attempt < maxAttempts`            | retry after `retryDelay(attempt)`   | retry            |
 * | threw, `attempt ≥ maxAttempts`            | dead letter (the error's message)   | retry            |
 * | threw `NonRetryableError`, or undecodable | dead letter (the error's message)   | retry            |
 *
 * @param random source of the retry delay's jitter, in `[0, 1)`; default `Math.random`.
 */
export function decide(
  outcome: Outcome,
  attempt: number,
  policy: SettlementPolicy,
  random: () => number = Math.random,
): Decision {
  if (outcome.kind === 'handled') return ACK;
  const hopeless = outcome.kind === 'undecodable' || outcome.error instanceof NonRetryableError;
  if (policy.deadLetter && (hopeless || attempt >= policy.retry.maxAttempts))
    return { action: 'deadLetter', reason: failureReason(outcome.error), attempts: attempt };
  return { action: 'retry', delayMs: retryDelay(policy.retry, attempt, random) };
}
