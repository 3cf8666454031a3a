import { DEFAULT_RETRY, longestRetryDelay, type RetryPolicy } from './backoff.js';
import { checkCodec } from './codec-options.js';
import type { ConsumerSettings } from './consumer.js';
import { CarrierError } from './errors.js';
import { checkOrdered, checkStartFrom } from './group-start.js';
import type { SubscribeOptions } from './message.js';
import type { Transport } from './transport.js';

function positiveInteger(name: string, value: number | undefined, fallback: number): number {
  const v = value ?? fallback;
  if (!Number.isInteger(v) || v < 1)
    throw new CarrierError('INVALID_ARGUMENT', `${name} must be a positive integer`);
  return v;
}

function nonNegative(name: string, value: number): number {
  if (!Number.isFinite(value) || value < 0)
    throw new CarrierError('INVALID_ARGUMENT', `${name} must be a non-negative number`);
  return value;
}

/** The subscription's retry policy, defaults filled in. @throws CarrierError `INVALID_ARGUMENT`. */
function retryPolicy(options: SubscribeOptions): RetryPolicy {
  const retry = options.retry;
  return {
    maxAttempts: positiveInteger('retry.maxAttempts', retry?.maxAttempts, DEFAULT_RETRY.maxAttempts),
    initialDelayMs: nonNegative(
      'retry.initialDelayMs',
      retry?.initialDelayMs ?? DEFAULT_RETRY.initialDelayMs,
    ),
    maxDelayMs: nonNegative('retry.maxDelayMs', retry?.maxDelayMs ?? DEFAULT_RETRY.maxDelayMs),
  };
}

/**
 * Refuses (`UNSUPPORTED`) a retry policy whose longest real delay exceeds
 * `capabilities.maxDelayMs` — never clamped silently.
 */
function checkRetryDelays(transport: Transport, retry: RetryPolicy, deadLetter: boolean): void {
  const { capabilities, name } = transport;
  // The longest delay the policy will really ask for: without dead letters retries go on forever
  // and grow to maxDelayMs.
  const longest = longestRetryDelay(retry, deadLetter);
  if (longest > capabilities.maxDelayMs) {
    throw new CarrierError(
      'UNSUPPORTED',
      `${name} cannot delay a retry longer than ${capabilities.maxDelayMs} ms; this retry policy asks for up to ${longest} ms${deadLetter ? '' : ' (deadLetter: false retries forever, growing to retry.maxDelayMs)'}`,
      { transport: name },
    );
  }
}

/**
 * The settings of one consumer from `subscribe`'s options (group name already validated):
 * defaults filled in, numbers checked, capabilities checked.
 *
 * @throws CarrierError `INVALID_ARGUMENT` for a bad number or option, `UNSUPPORTED` for what the
 *   transport cannot give (`ordered` without `perKeyOrder`, `startFrom: 'earliest'` without
 *   `replay`, a retry delay over `maxDelayMs`).
 */
export function consumerSettings(
  topic: string,
  options: SubscribeOptions,
  transport: Transport,
  onError: (error: Error) => void,
): ConsumerSettings {
  const concurrency = positiveInteger('concurrency', options.concurrency, 1);
  const prefetch = positiveInteger('prefetch', options.prefetch, concurrency);
  const retry = retryPolicy(options);
  const ordered = checkOrdered(transport, options.ordered) ?? false;
  const startFrom = checkStartFrom(transport, options.startFrom);
  const deadLetter = options.deadLetter ?? true;
  checkRetryDelays(transport, retry, deadLetter);
  const decode = options.decode ?? true;
  const codec = checkCodec(options.codec);
  if (codec && !decode)
    throw new CarrierError('INVALID_ARGUMENT', 'give codec or decode: false, not both: a codec decodes');
  const retryRequests = options.retryRequests ?? false;
  const serveRequests = options.serveRequests ?? true;
  if (typeof retryRequests !== 'boolean' || typeof serveRequests !== 'boolean')
    throw new CarrierError('INVALID_ARGUMENT', 'retryRequests and serveRequests must be booleans');
  return {
    topic,
    group: options.group,
    concurrency,
    prefetch,
    ordered,
    startFrom,
    retry,
    deadLetter,
    decode,
    codec,
    retryRequests,
    serveRequests,
    onError,
  };
}
