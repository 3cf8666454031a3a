import { CarrierError, type CarrierErrorCode } from '@carrier/core';

/** The transport name in errors and `Transport.name`. */
export const TRANSPORT = 'kafka';

/** The message of an unknown thrown value. */
export function describe(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/** A `CarrierError` of this transport; the cause's message is appended to `message`. */
export function kafkaError(code: CarrierErrorCode, message: string, cause?: unknown): CarrierError {
  return new CarrierError(code, cause === undefined ? message : `${message}: ${describe(cause)}`, {
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
 * Runs `attempt` until it succeeds, trying again while kafkajs calls the error retriable (a
 * coordinator still loading after a broker restart, a leader election) until `timeoutMs` passed
 * (default 30 000); backoff 100 ms doubling up to 2 s. Rethrows the last error as it is.
 */
export async function retrying<T>(attempt: () => Promise<T>, timeoutMs = 30_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (let delay = 100; ; delay = Math.min(delay * 2, 2_000)) {
    try {
      return await attempt();
    } catch (error) {
      if (!retriable(error) || Date.now() + delay > deadline) throw error;
      await new Promise((resolve) => setTimeout(resolve, delay));
    }
  }
}
