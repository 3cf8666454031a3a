import type { RetryPolicy } from './backoff.js';
import type { Codec } from './codec-spi.js';
import type { MessageMetadata } from './metadata.js';
import type { NativeToken } from './native.js';
import type { StartFrom } from './transport.js';

/**
 * A received message, decoded. The data fields are the object's own; `signal` and `as()` belong
 * to its class, so a spread copy (`{ ...message }`) carries the data but not those two.
 */
export interface Message<Body = unknown> {
  /** Unique id set by the producer; the same on every redelivery. */
  readonly id: string;
  /** Topic it was published to. */
  readonly topic: string;
  /** Ordering key, if the producer set one. */
  readonly key: string | undefined;
  /** User headers as the producer set them. */
  readonly headers: Readonly<Record<string, string>>;
  /**
   * The body, decoded by the subscription's `codec` if it has one, else by content type: JSON
   * value, string for text, else `raw` itself.
   */
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
   * Cancellation of this handler run; pass it to `fetch` and the like. Its `reason` is a
   * `CarrierError` whose code says why:
   * - `LEASE_LOST`: this member lost its lease on the message before settling it (also reported
   *   to `onError`); the broker may already be delivering it to another member, so stop side
   *   effects you can stop.
   * - `CLOSED`: the subscription is closing (`subscription.close()`, its `signal` option fired, or
   *   `carrier.close()`): the handler may finish, and its result is settled as usual, except that a
   *   handler that throws (other than `NonRetryableError`) once it fired gives the message back
   *   unprocessed, with no attempt charged, instead of retrying it. Also when the carrier is
   *   aborted (`carrier.abort()`); its result is then ignored.
   */
  readonly signal: AbortSignal;
  /**
   * The broker's own record of this message (e.g. `message.as(native.message)` of
   * `@carrier/adapter-kafka`: the kafkajs message with its partition and offset), typed by the
   * adapter's token. Using it voids portability; settle through Carrier, never natively.
   *
   * @throws CarrierError `UNSUPPORTED` when the token is another transport's, or the transport
   *   offers nothing for received messages; `INVALID_ARGUMENT` for a token of another scope.
   */
  as<T>(token: NativeToken<T, 'message'>): T;
  /**
   * Answer this message, a request (`carrier.request`, or a native request that names a reply
   * address: AMQP `reply_to`; see docs/brokers/*): sends `body` to `metadata.replyTo` with
   * `metadata.correlationId`, encoded as `publish` encodes. Resolves once the broker took the reply;
   * the request itself is settled as usual when the handler returns. The requester takes the first
   * reply to a request and drops later ones; a reply to a requester that timed out or is gone is
   * dropped (docs/concepts.md, "Request/reply").
   *
   * @throws CarrierError `INVALID_ARGUMENT` when the message is not a request (no
   *   `metadata.replyTo`) or for bad headers; `MESSAGE_TOO_LARGE`; `UNSUPPORTED` when the
   *   transport has no request/reply (`capabilities.requestReply`); `CLOSED`.
   */
  reply(body: unknown, options?: ReplyOptions): Promise<void>;
}

/** Options of `message.reply`. */
export interface ReplyOptions {
  /** Portable headers of the reply (see `validateHeaders`). */
  headers?: Readonly<Record<string, string>> | undefined;
  /** Content type to record (as in `publish`). Not with `codec`. */
  contentType?: string | undefined;
  /** Codec that encodes the reply (as `MessageOptions.codec` of `publish`). */
  codec?: Codec | undefined;
}

/**
 * Options of `carrier.request`: the request message's fields (its `metadata` may carry trace
 * context, schema id and `extra`, but `correlationId`, `replyTo` and `deadline` are Carrier's), the
 * reply's deadline and the call's `signal`.
 */
export interface RequestOptions extends MessageOptions, CancelOptions {
  /**
   * How long to wait for the reply, in milliseconds: an integer from 1 to 2 147 483 647. Default
   * {@link DEFAULT_REQUEST_TIMEOUT_MS} (30 000). Past it `request` rejects with `TIMEOUT`; the
   * request carries `now + timeoutMs` as `metadata.deadline`, and a server never runs its handler
   * once that is past.
   */
  timeoutMs?: number | undefined;
  /**
   * Codec that decodes the reply's body (as `SubscribeOptions.codec`). Absent: decoded by its
   * content type. A reply it cannot decode rejects the request with the codec's error
   * (`DECODE_FAILED`, `INVALID_MESSAGE`); any other failure of the codec is wrapped in
   * `DECODE_FAILED`. (The request's own body is encoded by `codec`.)
   */
  replyCodec?: Codec | undefined;
}

/** Default `timeoutMs` of `carrier.request`: 30 000 ms. */
export const DEFAULT_REQUEST_TIMEOUT_MS = 30_000;

/** Cancellation of one call: the `signal` option of `publish`, `publishBatch`, `subscribe` and `request`. */
export interface CancelOptions {
  /**
   * Abort the call. Already aborted: the call rejects at once with `CarrierError` `ABORTED` and
   * nothing reaches the broker. Aborted while the call is under way: it rejects at once with
   * `ABORTED` (`cause`: `signal.reason`), but the outcome at the broker is unknown — a publish may
   * still have been accepted (at-least-once: publishing it again may deliver it twice; keep its
   * `id` so consumers can deduplicate). The call removes its listener from the signal when it
   * settles, so one long-lived signal may serve any number of calls.
   */
  signal?: AbortSignal | undefined;
}

/** What a published message carries besides its body: options of `publish`, fields of a batch entry. */
export interface MessageOptions {
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
   * Not with `codec` (`INVALID_ARGUMENT`): a codec names its own content type.
   */
  contentType?: string | undefined;
  /**
   * Codec that turns the body into bytes (see `Codec`; built in: `jsonCodec`, `textCodec`,
   * `bytesCodec`, `defaultCodec`; schema codecs in `@carrier/schema`). Its bytes and content type
   * are what the message carries, on every broker. Absent: `defaultCodec` (bytes as they are, a
   * string as UTF-8, anything else as JSON). A codec that returns a promise is awaited; a
   * synchronous one is not (no extra turn of the event loop).
   *
   * The schema id the codec returns (`Encoded.schemaId`) is sent as `metadata.schemaId`,
   * replacing one given in `metadata`: the bytes follow the codec's schema (an id copied from a
   * forwarded message would name the schema it was read with). A codec that returns none leaves
   * `metadata.schemaId` as given.
   *
   * @throws CarrierError (from `publish`) what the codec throws, unchanged: `INVALID_MESSAGE`
   *   (the body does not fit the codec's schema), `ENCODE_FAILED`, `SCHEMA_INCOMPATIBLE`;
   *   `ENCODE_FAILED` when it returns something that is not an `Encoded` (no bytes, an invalid
   *   content type or schema id); `INVALID_ARGUMENT` for a value that is not a codec, or with
   *   `contentType`. Nothing of the call is sent then.
   */
  codec?: Codec | undefined;
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
  /**
   * Delayed publish: no group receives the message before `delayMs` milliseconds from the call;
   * every group that exists at publish receives it once after that (docs/concepts.md, "Delayed
   * publish"). 0 or absent: at once. Give `delayMs` or `deliverAt`, not both.
   *
   * @throws CarrierError `INVALID_ARGUMENT` (from `publish`) for a negative, non-finite or
   *   non-number delay, or both `delayMs` and `deliverAt`; `UNSUPPORTED` for a delay longer than
   *   `capabilities.maxPublishDelayMs` (0 where the transport has no delayed publish), never
   *   clamped. Nothing of the call is sent then.
   */
  delayMs?: number | undefined;
  /**
   * Delayed publish at a time: as `delayMs`, with the delay counted from the call to this time
   * (by this process's clock). A time already past: at once.
   *
   * @throws CarrierError `INVALID_ARGUMENT` for a value that is not a valid `Date`, or both
   *   `delayMs` and `deliverAt`; `UNSUPPORTED` for a time further away than
   *   `capabilities.maxPublishDelayMs`.
   */
  deliverAt?: Date | undefined;
}

/** Options of `publish`: the message's fields and the call's `signal`. */
export interface PublishOptions extends MessageOptions, CancelOptions {}

/** Options of `publishBatch`. */
export interface PublishBatchOptions extends CancelOptions {
  /** Codec of every entry that names none itself (see `MessageOptions.codec`). */
  codec?: Codec | undefined;
}

/** One entry of `publishBatch`. */
export interface BatchEntry extends MessageOptions {
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
  /**
   * Where the group starts if this subscribe creates it: `'now'` (default) gets what is published
   * from now on; `'earliest'` also gets what the broker still retains from before, oldest first.
   * `'earliest'` throws `UNSUPPORTED` when `capabilities.replay` is false (RabbitMQ, SQS, memory).
   * A group that exists keeps its position; asking it for the other start throws
   * `TOPOLOGY_CONFLICT` where the broker records how the group was created (NATS; not Kafka, see
   * docs/brokers/kafka.md). Absent: a new group starts at `'now'`, an existing one is joined
   * whatever its start (so later members need not repeat it).
   */
  startFrom?: StartFrom | undefined;
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
  /**
   * Codec that decodes every body (see `Codec`), instead of the built-in decoding by content type
   * (`defaultCodec`). Awaited only when it returns a promise. A body it refuses with
   * `DECODE_FAILED` or `INVALID_MESSAGE` is dead-lettered at once with the error's message as the
   * reason, without calling the handler and without retries (as any undecodable body); any other
   * error it throws (a registry it could not reach) fails the delivery as a handler's error would:
   * retried by `retry`, the handler not called. Not with `decode: false` (`INVALID_ARGUMENT`).
   */
  codec?: Codec | undefined;
  /**
   * `false` (default): a request (a message with `metadata.replyTo`, see `carrier.request`) whose
   * handler throws is not retried — the requester gets `REQUEST_FAILED` at once and the request is
   * dead-lettered (acknowledged with `deadLetter: false`), since a retry that outlives the
   * requester's timeout helps no one. `true`: it is retried by `retry` as any message, and
   * `REQUEST_FAILED` is sent when it is dead-lettered; a retry past the request's deadline is
   * dropped without running the handler.
   */
  retryRequests?: boolean | undefined;
  /**
   * `true` (default): a message with `metadata.replyTo` is served as a request — its handler does
   * not run once `metadata.deadline` is past, and a failure answers `REQUEST_FAILED` (see
   * `retryRequests`). `false`: such messages are handled as any other (retry policy, no deadline
   * check, no error reply), for subscriptions that forward requests rather than answer them (the
   * bridge); `message.reply` still works.
   */
  serveRequests?: boolean | undefined;
  /**
   * Cancel the subscription. Aborted before `subscribe` resolves: it rejects with `CarrierError`
   * `ABORTED` (`cause`: `signal.reason`; already aborted: without touching the broker), and a
   * consumer the broker may have started meanwhile is closed (`carrier.close()` waits for that).
   * Aborted later: the subscription closes as `close()` does (in-flight handlers see their
   * `message.signal` fire with `CLOSED`, finish and are settled). The listener is removed when the
   * subscription closes.
   */
  signal?: AbortSignal | undefined;
}

/** A message handler: return to acknowledge; throw to retry (or dead-letter). */
export type Handler<Body = unknown> = (message: Message<Body>) => Promise<void> | void;

/** A running consumer. */
export interface Subscription {
  readonly topic: string;
  readonly group: string;
  /**
   * Stop fetching, abort in-flight handlers' `message.signal` (reason `CLOSED`), let them finish
   * and settle them, give back what never started
   * (no attempt is charged for it; no handler starts once close() was called), then leave the
   * group. Idempotent.
   */
  close(): Promise<void>;
  /**
   * This consumer's native client objects (e.g. `subscription.as(native.subscription)` of
   * `@carrier/adapter-kafka`: the kafkajs consumer), typed by the adapter's token. Using them voids
   * portability; Carrier owns their lifecycle (do not close or pause them yourself).
   *
   * @throws CarrierError `UNSUPPORTED` when the token is another transport's or the transport
   *   offers nothing for subscriptions (dead-letter readers answer as other subscriptions do);
   *   `INVALID_ARGUMENT` for a
   *   token of another scope.
   */
  as<T>(token: NativeToken<T, 'subscription'>): T;
}

/** A dead-lettered message with why it failed. */
export interface DeadLetter {
  /** The original message, unchanged (id, key, headers, raw bytes; `attempt` is the count at failure). */
  readonly message: Message;
  /**
   * The failure: the handler's error message, why the body could not be decoded (or, on a typed
   * topic, the validation issues: `body does not match the schema of topic …`), or "delivered N
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
  /**
   * Codec that decodes each letter's body (see `SubscribeOptions.codec`). A body it cannot decode
   * (whatever it throws) is handed over as its bytes, as an undecodable body always is: dead
   * letters include them.
   */
  codec?: Codec | undefined;
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
