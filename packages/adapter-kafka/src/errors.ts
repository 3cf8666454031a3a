import { CarrierError, type CarrierErrorCode } from '@carrier/core';
import { describeError, retrying as retryingWith } from '@carrier/core/kit';
import type { BrokerError } from './refusals.js';

/** The transport name in errors and `Transport.name`. */
export const TRANSPORT = 'kafka';

/** A `CarrierError` of this transport; the cause's message is appended to `message`. */
export function kafkaError(code: CarrierErrorCode, message: string, cause?: unknown): CarrierError {
  return new CarrierError(code, cause === undefined ? message : `${message}: ${describeError(cause)}`, {
    transport: TRANSPORT,
    cause,
  });
}

/** `CLOSED`: the connection was closed (or aborted) before or during the call. */
export function closedError(cause?: unknown): CarrierError {
  return new CarrierError('CLOSED', 'kafka connection is closed', {
    transport: TRANSPORT,
    ...(cause === undefined ? {} : { cause }),
  });
}

/**
 * kafkajs' admin reads its cached cluster metadata, which another concurrent call may have just
 * replaced with one that does not list a topic created a moment ago; `fetchTopicOffsets` then
 * fails with a TypeError ("Cannot destructure property 'partitions' of … undefined") instead of a
 * Kafka error. It is the metadata refresh after topic creation the SPI allows retrying.
 */
function metadataRace(error: unknown): boolean {
  return error instanceof TypeError && /\bpartitions\b|partitionMetadata|topicMetadata/.test(error.message);
}

/** Whether kafkajs says trying again may help (its own retries may have given up already). */
export function retriable(error: unknown): boolean {
  const e = error as { retriable?: boolean; name?: string; cause?: unknown } | undefined;
  if (!e) return false;
  if (e.retriable === true || e.name === 'KafkaJSNumberOfRetriesExceeded' || metadataRace(e)) return true;
  if (e.name === 'KafkaJSTopicMetadataNotLoaded' || e.name === 'KafkaJSMetadataNotLoaded') return true;
  return e.cause !== undefined && e.cause !== e && retriable(e.cause);
}

/**
 * Runs `call` until it succeeds, trying again while kafkajs calls the error {@link retriable} (a
 * coordinator still loading after a broker restart, a leader election) until `timeoutMs` passed
 * (default 30 000), with the kit's backoff (100 ms doubling up to 2 s, jittered). Rethrows the last
 * error as it is.
 */
export function retrying<T>(call: () => Promise<T>, timeoutMs = 30_000): Promise<T> {
  return retryingWith(call, { retryable: retriable, timeoutMs });
}

/**
 * The Kafka errors in a kafkajs failure, outermost first: each `type` (the protocol error name,
 * `INVALID_SESSION_TIMEOUT`) along the `cause` chain (kafkajs wraps what its retrier gives up on)
 * and inside aggregates (`KafkaJSAggregateError.errors`: one per topic of a CreateTopics). kafkajs
 * keeps no broker explanation, so `detail` is never set. For `brokerRefusal` (refusals.ts).
 */
export function kafkajsBrokerErrors(error: unknown): BrokerError[] {
  const found: BrokerError[] = [];
  const seen = new Set<unknown>();
  const visit = (e: unknown): void => {
    if (typeof e !== 'object' || e === null || seen.has(e) || seen.size > 50) return;
    seen.add(e);
    const { type, cause, errors } = e as { type?: unknown; cause?: unknown; errors?: unknown };
    if (typeof type === 'string') found.push({ name: type });
    if (Array.isArray(errors)) for (const inner of errors) visit(inner);
    visit(cause);
  };
  visit(error);
  return found;
}
