import type { RetryPolicy } from './backoff.js';
import type { MessageMetadata } from './metadata.js';

/** A received message, decoded. */
export interface Message<Body = unknown> {
  /** Unique id set by the producer; the same on every redelivery. */
  readonly id: string;
  /** Topic it was published to. */
  readonly topic: string;
  /** Ordering key, if the producer set one. */
  readonly key: string | undefined;
  /** User headers as the producer set them. */
  readonly headers: Readonly<Record<string, string>>;
  /** The body decoded by content type: JSON value, string for text, else `raw` itself. */
  readonly body: Body;
  /** The exact bytes received. Publishing them again with `contentType` and `headers` reproduces the message. */
  readonly raw: Uint8Array;
  /** Content type the body was published with. */
  readonly contentType: string;
  /**
   * 1 on first delivery, then 2, 3, …: how many times the message was delivered to this group,
   * counting retries and deliveries whose consumer died or lost its lease before settling (crash,
   * `carrier.abort()`), but not deliveries given back unprocessed at shutdown. Survives restarts.
   */
  readonly attempt: number;
  /** When the producer published it. */
  readonly publishedAt: Date;
  /**
   * Carrier's metadata as the producer set it (`publish(…, { metadata })`), or as a native
   * producer's trace context (`traceparent`, `tracestate` headers) says; an empty object when
   * there is none. Read-only (frozen). Forward it with `publish(…, { metadata: message.metadata })`.
   */
  readonly metadata: MessageMetadata;
  /**
   * Cancellation of this handler run. Aborted when this member lost its lease on the message
   * before settling it (reason: `CarrierError` `LEASE_LOST`, also reported to `onError`; the
   * broker may already be delivering it to another member, so stop side effects you can stop), and
   * when the carrier is aborted (reason: `CarrierError` `CLOSED`). Pass it to `fetch` and the like.
   */
  readonly signal: AbortSignal;
}

/** Options of `publish`. */
export interface PublishOptions {
  /**
   * Ordering key. Within one member, core runs the messages of a key one at a time, in the order
   * they arrived. Across the group they arrive in publish order only on a subscription with
   * `ordered: true`, which needs `capabilities.perKeyOrder` (Kafka, RabbitMQ, SQS FIFO, memory; not
   * NATS or SQS standard queues, which may deliver a key's messages out of order). Retries reorder.
   */
  key?: string | undefined;
  /** Portable headers (see `validateHeaders`). */
  headers?: Readonly<Record<string, string>> | undefined;
  /** Message id; a random UUID when absent. Brokers that de-duplicate (NATS, SQS FIFO) use it. */
  id?: string | undefined;
  /**
   * Content type to record. For a `Uint8Array` body it is carried as given (forwarding `msg.raw`
   * with `msg.contentType` is byte-exact); for other bodies it overrides the default label.
   */
  contentType?: string | undefined;
  /**
   * Carrier's metadata: correlation id, reply address, deadline, schema id, W3C trace context,
   * and `extra` (fields a newer version knows, when forwarding). Carried apart from `headers`;
   * see `MessageMetadata` and docs/wire-format.md for where each broker puts it.
   *
   * @throws CarrierError `INVALID_ARGUMENT` (from `publish`) for a text field that is empty or
   *   holds CR, LF, NUL or a lone surrogate, an invalid `deadline` Date, a `traceparent` or
   *   `tracestate` not in W3C Trace Context syntax (or a `tracestate` without `traceparent`), or an
   *   `extra` name outside its grammar.
   */
  metadata?: MessageMetadata | undefined;
}

/** One entry of `publishBatch`. */
export interface BatchEntry extends PublishOptions {
  body: unknown;
}

/** What the broker confirmed for a published message. */
export interface PublishReceipt {
  /** The message id. */
  readonly id: string;
}

/** Options of `subscribe`. */
export interface SubscribeOptions {
  /** The group: members of one group share its messages; every group gets every message. */
  group: string;
  /** Handlers in flight at most (default 1). Messages of one key still run one at a time, in order. */
  concurrency?: number | undefined;
  /** Unsettled deliveries the broker may push ahead (default = concurrency). Bounds memory. */
  prefetch?: number | undefined;
  /**
   * Ask the broker to keep per-key order across all members of the group. Throws `UNSUPPORTED`
   * when `capabilities.perKeyOrder` is false. Retries still reorder: a retried message comes back
   * after later messages of its key.
   */
  ordered?: boolean | undefined;
  /** Retry policy; each field defaults to `DEFAULT_RETRY`. */
  retry?: Partial<RetryPolicy> | undefined;
  /**
   * `true` (default): after `maxAttempts`, or on `NonRetryableError`, or for an undecodable body,
   * move the message to the group's dead letters; a delivery whose attempt exceeds `maxAttempts`
   * (its consumers died before settling it) is dead-lettered without calling the handler.
   * `false`: retry forever instead (still never lost), with delays growing to `retry.maxDelayMs`,
   * and every delivery reaches the handler whatever its attempt.
   */
  deadLetter?: boolean | undefined;
  /**
   * `true` (default): decode the body by content type into `body`, dead-lettering what cannot be
   * decoded. `false`: `body` is the raw bytes and nothing is parsed — for forwarders and bridges
   * that must pass every message on byte for byte, even one whose bytes do not match its content type.
   */
  decode?: boolean | undefined;
}

/** A message handler: return to acknowledge; throw to retry (or dead-letter). */
export type Handler<Body = unknown> = (message: Message<Body>) => Promise<void> | void;

/** A running consumer. */
export interface Subscription {
  readonly topic: string;
  readonly group: string;
  /**
   * Stop fetching, let in-flight handlers finish and settle them, give back what never started
   * (no attempt is charged for it; no handler starts once close() was called), then leave the
   * group. Idempotent.
   */
  close(): Promise<void>;
}

/** A dead-lettered message with why it failed. */
export interface DeadLetter {
  /** The original message, unchanged (id, key, headers, raw bytes; `attempt` is the count at failure). */
  readonly message: Message;
  /**
   * The failure: the handler's error message, why the body could not be decoded, or "delivered N
   * times, the last one without settlement (consumer crashed or lost its lease)". At most 1 024
   * characters (a longer one ends with `… [truncated]`); `unknown (…)` when the letter carries no
   * failure metadata.
   */
  readonly reason: string;
  /** How many deliveries were attempted (0: unknown, the letter carries no failure metadata). */
  readonly attempts: number;
  /** When it was dead-lettered (unknown: the message's `publishedAt`). */
  readonly failedAt: Date;
}

/** Options of `deadLetters(...).subscribe`. */
export interface DeadLetterSubscribeOptions {
  /** Handlers in flight at most (default 1). */
  concurrency?: number | undefined;
}

/** The dead letters of one group of one topic. */
export interface DeadLetterQueue {
  /**
   * Read dead letters: return from the handler to remove the letter, throw to keep it (it comes
   * back after a second).
   */
  subscribe(
    handler: (letter: DeadLetter) => Promise<void> | void,
    options?: DeadLetterSubscribeOptions,
  ): Promise<Subscription>;
  /** Move up to `max` letters (default: all there are now) back to this group only, attempt reset to 1. */
  redrive(options?: { max?: number }): Promise<number>;
}
