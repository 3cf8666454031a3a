/**
 * The transport SPI: what an adapter implements so that Carrier runs over its broker.
 *
 * Division of labour (the one idea to keep): core does everything that must behave the same on
 * every broker — validation, encoding, retry policy and backoff, dead-letter decisions, per-key
 * ordering, concurrency limits, graceful shutdown. A transport only moves bytes and settles
 * deliveries with the broker's native means. A transport never retries a handler, never limits
 * concurrency on its own and never decides whether a message is dead.
 *
 * Threading model: all calls happen on one Node.js event loop. Core may call `publish` many
 * times concurrently, and settle many deliveries concurrently, including deliveries of the same
 * subscription. Core settles each delivery exactly once — one call of one of
 * ack/retry/deadLetter/release — except when the carrier is aborted, which leaves deliveries
 * unsettled for the broker to redeliver. Core enforces "at most one call reaches the transport" in
 * a guard around every delivery it receives, so a transport needs no guard of its own: only the
 * first settle call reaches the transport; any later call (of any settle method) is ignored and
 * returns the first call's promise, so it resolves or rejects as the first settlement did.
 *
 * Who retries a failed broker call — the transport reports, Carrier's layers above decide (as in
 * Go CDK's driver: "the driver returns an error, the portable layer takes care of retry logic"),
 * but in Carrier no portable loop re-sends a call; each kind of call has one owner:
 * - `publish`: the broker's client library only, where it is safe and within the call's deadline
 *   (kafkajs' idempotent producer, the AWS SDK's standard retries). Then the transport rejects with
 *   `PUBLISH_FAILED` naming the messages not confirmed (or `CONNECTION`, `CLOSED`, …); the
 *   application retries if it wants (re-publishing with the same `id` lets consumers deduplicate).
 * - a settlement (`ack`, `retry`, `deadLetter`, `release`): the broker. The transport rejects;
 *   core reports `SETTLE_FAILED` to `onError` and never calls it again; the unsettled delivery is
 *   redelivered by the broker (at-least-once). See "When a settlement fails" below.
 * - the receive side (a lost connection, a consumer the broker cancelled): the transport itself,
 *   for as long as the subscription is open — reconnect or re-subscribe with backoff and jitter
 *   (`Backoff` in `@carrier/core/kit`), reporting `CONNECTION` to `onError` without giving up.
 * - a broker call the protocol expects to fail for a moment (metadata not yet propagated after a
 *   topic was created, a coordinator loading after a restart): the transport, briefly and within
 *   the caller's deadline (`retrying` in `@carrier/core/kit`), then it rejects.
 * - `connect` (the factory) and `declare`: nobody; they reject (`CONNECTION`, `TIMEOUT`,
 *   `TOPOLOGY_CONFLICT`) and the application decides.
 * A transport adds no retry loop of its own around a publish (after an unconfirmed send it cannot
 * tell whether the broker kept the message), never retries a handler and never decides whether a
 * message is dead.
 *
 * When a settlement fails (its promise rejects): the transport leaves the delivery to the broker's
 * own redelivery (never settles it again by itself) and must not let it hold anything else back
 * (another delivery's commit position, a prefetch slot, a lease renewal). Core reports the failure
 * to `onError` as `SETTLE_FAILED`.
 *
 * Deadlines: every network call a transport makes has one. `connect` (the factory) honours
 * `connectTimeoutMs`; a dead or silent connection (no FIN, no RST) is noticed within the
 * adapter's documented liveness time (30 s by default on every adapter), reported to `onError` as
 * `CONNECTION`, and consumption resumes by itself once the broker answers again.
 */

import type { CarrierErrorCode } from './errors.js';
import type { MessageMetadata } from './metadata.js';
import type { NativeAnswer, NativeToken } from './native.js';

// What a transport throws, so that an adapter can be written against this entry point alone.
export { CarrierError, type CarrierErrorCode, type PublishFailure } from './errors.js';
export type { MessageMetadata } from './metadata.js';
// Native access (Go CDK's `As`): the tokens an adapter exports and answers in its `native` members.
export { type NativeAnswer, type NativeScope, NativeToken } from './native.js';

/** A message as it travels on the wire: bytes plus Carrier's portable metadata. */
export interface WireMessage {
  /** Unique id; producers set it, a redelivery keeps it. */
  readonly id: string;
  /** Partitioning / ordering key, if any. */
  readonly key?: string | undefined;
  /** User headers (string to string). Carrier's own metadata is never mixed in here. */
  readonly headers: Readonly<Record<string, string>>;
  /** MIME type of `body` (`application/json`, `text/plain; charset=utf-8`, `application/octet-stream`, …). */
  readonly contentType: string;
  /** The exact bytes; transports must never alter them. */
  readonly body: Uint8Array;
  /** When the producer published it. */
  readonly publishedAt: Date;
  /**
   * Carrier's own metadata (correlation id, trace context, …), validated by core. Absent on
   * messages published without it, or before it existed. A transport writes it apart from the
   * user headers (`metadataHeaders` in `@carrier/core/kit` gives its generic header form), reads
   * it back (`metadataFromHeaders`), and keeps it on every copy it makes (retry, dead letter,
   * redrive), `extra` included.
   */
  readonly metadata?: MessageMetadata | undefined;
  /**
   * Delayed publish: no group may receive the message before this time (set from `publish`'s
   * `delayMs` or `deliverAt`). Core sets it only when it lies in the future at publish and the
   * delay is within `capabilities.maxPublishDelayMs` (never on a transport whose
   * `maxPublishDelayMs` is 0); absent: deliver at once. The transport's duties:
   * - `publish` resolves once the broker durably holds the message (as for any message), whether
   *   the broker keeps the delay (up to `maxNativePublishDelayMs`) or Carrier's own path does;
   * - every group of the topic that exists when it is published receives it once, at or after this
   *   time (never earlier: round a coarser broker timer up), with `attempt` 1, as a normal message;
   * - a transport that carries the due time inside the message uses its generic header form
   *   (`DELIVER_AT_HEADER` in `@carrier/core/kit`); retry, dead-letter and redrive copies are
   *   not delayed by it again (their due time has passed).
   * On receipt a transport may leave it absent; core reads it only at publish.
   */
  readonly deliverAt?: Date | undefined;
}

/**
 * What a transport guarantees, as `carrier.capabilities` shows it to applications. Each field says
 * what reads it: core refuses what a transport cannot do (`UNSUPPORTED`, never a silent
 * downgrade), and the contract suite (`@carrier/contract`) asserts every field a transport's spec
 * declares and picks its cases by them.
 */
export interface Capabilities {
  /**
   * Several groups on one topic each receive every message. Core: `declare` with more than one
   * group fails with `UNSUPPORTED` when false. Contract: the fan-out case runs when true, and the
   * `UNSUPPORTED` case checks the refusal when false.
   */
  readonly fanOut: boolean;
  /**
   * Several members of one group share the group's messages (each message to one member).
   * Contract: the competing-consumers case runs when true. Core reads nothing of it.
   */
  readonly competingConsumers: boolean;
  /**
   * Messages with the same key reach the group in publish order, across all members, when the
   * subscription asks for `ordered: true`. (Within one process core always keeps per-key order
   * among the messages it has received.) Core: `subscribe({ ordered: true })` fails with
   * `UNSUPPORTED` when false. Contract: the `ordered: true` cases run when true; when false it
   * checks the refusal.
   */
  readonly perKeyOrder: boolean;
  /**
   * Retry delays are kept by the broker itself (a delayed queue, a scheduled message, a
   * visibility timeout), not by a timer in the consuming process. Informational for applications:
   * core's retry behaviour is the same either way, and core reads nothing of it. About retries
   * only: delayed publish has its own fields (`maxPublishDelayMs`, `maxNativePublishDelayMs`).
   */
  readonly nativeDelay: boolean;
  /**
   * Longest retry delay the transport can honour, in milliseconds. Core: `subscribe` fails with
   * `UNSUPPORTED` when the longest delay its retry policy will really ask for is longer. Contract:
   * checks that refusal.
   */
  readonly maxDelayMs: number;
  /**
   * Longest delay `publish` accepts (`delayMs`, or `deliverAt` minus now), in milliseconds; 0: no
   * delayed publish. Not to be confused with `maxDelayMs` (retry delays). Core: a delay beyond it
   * fails with `UNSUPPORTED` before anything is sent, never clamped. Contract: the delayed-publish
   * cases run when it is above 0, and a delay of one more millisecond is refused. Absent (a
   * transport written before delayed publish): 0.
   */
  readonly maxPublishDelayMs?: number | undefined;
  /**
   * Delays up to this (ms) are kept by the broker itself (a NATS message schedule, SQS
   * `DelaySeconds`); longer ones, up to `maxPublishDelayMs`, take Carrier's own path, which each
   * broker page describes (docs/brokers/*.md). Equal to `maxPublishDelayMs`: always the broker's;
   * 0: always Carrier's. Informational: core reads nothing of it. Absent: 0.
   */
  readonly maxNativePublishDelayMs?: number | undefined;
  /**
   * How late after its due time a delayed message reaches a running consumer with free capacity
   * at most, under normal load, in milliseconds (the broker's or Carrier's timer granularity and
   * polling). A delayed message is never delivered early. Contract: the delayed-publish cases
   * check both bounds (late with a margin for a loaded machine). Absent: 0 (no delayed publish).
   */
  readonly publishDelayPrecisionMs?: number | undefined;
  /**
   * Largest message (body + key + header keys and values + metadata in its generic header form,
   * in bytes) the transport accepts. Core:
   * `publish` and `publishBatch` fail with `MESSAGE_TOO_LARGE` before sending a larger one.
   * Contract: a message at 90 % of it arrives intact, one over it is refused.
   */
  readonly maxMessageBytes: number;
  /**
   * Dead letters can be moved back to their group (`Transport.redrive`). Core:
   * `carrier.deadLetters(topic, group).redrive()` fails with `UNSUPPORTED` when false, without
   * calling the transport. Contract: the redrive case expects it true (every transport of this
   * repository supports it).
   */
  readonly redrive: boolean;
  /**
   * A new group can start at the topic's retained history (`startFrom: 'earliest'`): the broker
   * keeps messages after every existing group has them, so a group created later can read them
   * (Kafka keeps a topic's log for its retention; a NATS JetStream stream with `limits` retention
   * keeps it for `max_age`). False where a message exists only in the queues of the groups that
   * existed when it was published (RabbitMQ, SQS, memory, NATS with the default interest
   * retention). Core: `subscribe` and `declare` with
   * `startFrom: 'earliest'` fail with `UNSUPPORTED` when false, before the broker is touched.
   * Contract: the `startFrom` cases run when true, and check the refusal when false.
   */
  readonly replay: boolean;
  /**
   * Most user headers one message may carry, where the broker bounds them more tightly than
   * `maxMessageBytes` does (RabbitMQ: every header adds framing to the one AMQP content-header
   * frame). Absent: no bound of its own. Core: `publish` and `publishBatch` fail with
   * `INVALID_ARGUMENT` before sending a message with more. Contract: a message with exactly this
   * many arrives intact, one more is refused.
   */
  readonly maxHeaders?: number | undefined;
  /**
   * Largest total of user header keys and values plus the metadata in its header form
   * (`metadataHeaders`), in UTF-8 bytes, where the broker bounds headers more tightly than
   * `maxMessageBytes` (RabbitMQ: the content-header frame must fit in the negotiated `frame_max`,
   * AMQP 0-9-1 §4.2.6). Absent: no bound of its own. Core: `MESSAGE_TOO_LARGE` before sending a
   * larger one. Contract: headers of exactly this size arrive intact, one byte more is refused.
   */
  readonly maxHeaderBytes?: number | undefined;
  /**
   * Request/reply works (`carrier.request`, `message.reply`): the transport implements
   * {@link Transport.openReplies} and {@link Transport.reply}. Absent or false: `request` and
   * `message.reply` fail with `UNSUPPORTED`. Contract: the request/reply cases run when true and
   * are skipped with this reason when not.
   */
  readonly requestReply?: boolean | undefined;
  /**
   * The transport can tell a group's consumer lag: it implements {@link Transport.lag}. Absent or
   * false: `carrier.lag` fails with `UNSUPPORTED`. Contract: the lag case runs when true and is
   * skipped with this reason when not.
   */
  readonly lag?: boolean | undefined;
}

/**
 * How far a group is behind its topic, as the broker reports it ({@link Transport.lag}).
 */
export interface ConsumerLag {
  /**
   * Messages waiting for the group that it has not settled yet, as the broker counts them (each
   * broker counts a little differently; `source` says what was read, docs/brokers/*.md say what it
   * includes): never negative. Approximate where the broker is (SQS), and always a snapshot.
   */
  readonly messages: number;
  /**
   * What the broker reported, e.g. `kafka committed offsets`, `jetstream num_pending+num_ack_pending`,
   * `sqs ApproximateNumberOfMessages(+NotVisible+Delayed)`, `rabbitmq queue messages_ready`,
   * `memory queue`. For display and diagnostics; not a stable identifier.
   */
  readonly source: string;
}

/**
 * Where a group created by this call starts reading its topic:
 * - `'now'`: the group gets every message published after it exists (the default).
 * - `'earliest'`: the group also gets the messages the broker still retains from before it existed,
 *   oldest first (only where `capabilities.replay`).
 *
 * It applies only when the group is created; a group that exists keeps its position.
 */
export type StartFrom = 'now' | 'earliest';

/** How {@link Transport.declare} creates groups that do not exist yet. */
export interface DeclareOptions {
  /**
   * The groups will be consumed with `ordered: true` (per-key order across all members): a
   * transport whose broker fixes this when the group is created does so now (RabbitMQ: a
   * single-active-consumer queue), so an ordered group can exist before its first member. Core
   * passes `true` only where `capabilities.perKeyOrder`. Given (true or false), and a group exists
   * with the other setting: `TOPOLOGY_CONFLICT` where the broker records it. Absent: a new group
   * is created unordered and an existing group is accepted either way.
   */
  readonly ordered?: boolean | undefined;
  /**
   * Where a group created now starts (see {@link StartFrom}). Core passes `'earliest'` only where
   * `capabilities.replay`. Given, and a group exists that was created with the other start:
   * `TOPOLOGY_CONFLICT` where the broker records how it was created. Absent: a new group starts
   * at `'now'` and an existing group is accepted whatever its start.
   */
  readonly startFrom?: StartFrom | undefined;
}

/** Failure metadata attached to a dead letter. */
export interface DeadLetterInfo {
  /**
   * Why it failed: the handler's error message, the decoding error, or "delivered N times, the last
   * one without settlement …" for a message whose consumers kept dying. Core bounds it before a
   * transport sees it: well-formed Unicode, at most `MAX_DEAD_LETTER_REASON_LENGTH` (1 024)
   * characters, a longer one cut and ending with `… [truncated]`.
   */
  readonly reason: string;
  /** How many deliveries were attempted. */
  readonly attempts: number;
  /** When it was dead-lettered. */
  readonly failedAt: Date;
}

/**
 * One delivery of a message to one member of a group. Core calls exactly one of the settle methods,
 * once (none if the carrier is aborted: the broker redelivers). Until then the transport keeps the delivery leased to this member (extending visibility
 * or ack deadlines as the broker requires), so a long handler does not cause a redelivery.
 * If the process dies or the connection is lost before settlement, the broker redelivers it
 * (at-least-once), possibly to another member.
 */
export interface Delivery {
  readonly message: WireMessage;
  /**
   * 1 on first delivery, then 2, 3, …: how many times the broker has handed this message to a
   * member of this group, counting deliveries that were never settled (the consumer crashed, was
   * aborted, or lost its lease) but not those given back with `release()`. It survives crashes,
   * rebalances and restarts; where the broker keeps no such count (Kafka, RabbitMQ classic
   * queues) the transport keeps a durable one. Core dead-letters, without calling the handler, a
   * delivery whose `attempt` exceeds the group's `maxAttempts`.
   */
  readonly attempt: number;
  /**
   * Aborted when this member has lost its lease on the delivery before settling it (a Kafka
   * partition revoked past the rebalance timeout, an expired visibility timeout or ack wait that
   * could not be renewed, a lost connection): the broker may already be redelivering it, possibly
   * to another member. `signal.reason` is a `CarrierError` with code `LEASE_LOST`. Settling after
   * that is allowed; it may have no effect or reject. Transports that cannot tell leave it absent.
   * One signal may be shared by many deliveries (one per partition or connection, say).
   *
   * What core does when it aborts before the delivery is settled: reports a `LEASE_LOST` error
   * (naming the message id) to `onError`, once per delivery; aborts the handler's
   * `message.signal` with it; and, if the handler has not started yet, gives the delivery back with
   * `release()` instead of running the handler.
   */
  readonly lease?: AbortSignal | undefined;
  /**
   * Done: remove from the group. Resolves once the broker has taken the settlement.
   *
   * Core calls exactly one of the four settle methods, once (see {@link Delivery}); when the delivery's `attempt`
   * exceeds the group's `maxAttempts` (dead letters on), core calls `deadLetter` without running
   * the handler.
   */
  ack(): Promise<void>;
  /**
   * Redeliver to this group only (never to other groups of the topic), not earlier than
   * `delayMs` from now, with `attempt + 1`. Resolves once the redelivery is durably scheduled.
   */
  retry(delayMs: number): Promise<void>;
  /**
   * Move to this group's dead-letter destination with `info`, keeping the original id, key,
   * headers, metadata (`extra` included), content type and bytes; resolves once the dead letter is durably stored and the
   * original settled. Other groups are not affected.
   */
  deadLetter(info: DeadLetterInfo): Promise<void>;
  /**
   * Give the delivery back unprocessed (shutdown): the broker redelivers it to a member of the
   * group as soon as possible, with the same `attempt` (a release never charges an attempt; a
   * transport whose broker counts every receive corrects for it).
   */
  release(): Promise<void>;
  /**
   * Native access for `message.as(token)`: the broker's own record of this delivery (optional; absent: `as()` throws `UNSUPPORTED`): when `token` is one
   * of this adapter's `message` tokens, answer `token.wrap(value)`; else `undefined`. Core has already
   * checked the token's transport name and scope. Synchronous, never throws, no broker call.
   */
  native?(token: NativeToken<unknown>): NativeAnswer | undefined;
}

/**
 * Dead-letter metadata as a transport read it back: any field may be missing (a letter written by
 * a native producer, or metadata lost on the way). Core fills the gaps with one fallback,
 * `completeDeadLetterInfo` (in `@carrier/core/kit` for adapters that want it earlier).
 */
export interface PartialDeadLetterInfo {
  readonly reason?: string | undefined;
  readonly attempts?: number | undefined;
  readonly failedAt?: Date | undefined;
}

/** A dead letter as read back from a group's dead-letter destination. */
export interface DeadLetterDelivery {
  /** The original message, unchanged. */
  readonly message: WireMessage;
  /** Its failure metadata, as far as the transport found it; core completes missing fields. */
  readonly info: PartialDeadLetterInfo | undefined;
  /** Remove it from the dead-letter destination. Core calls `ack` or `release` once, as for a `Delivery`. */
  ack(): Promise<void>;
  /** Keep it in the dead-letter destination, to be read again later. */
  release(): Promise<void>;
}

/** Options core passes to {@link Transport.subscribe}. */
export interface TransportSubscribeOptions {
  /**
   * Most deliveries handed to the sink and not yet settled, at any time. The transport must not
   * buffer beyond what the broker protocol requires to honour it (backpressure).
   */
  readonly prefetch: number;
  /** Deliver messages of one key in order across the whole group (only if `capabilities.perKeyOrder`). */
  readonly ordered: boolean;
  /**
   * Where the group starts if this subscribe creates it, and the start an existing group must have
   * (see {@link DeclareOptions.startFrom}). Absent: `'now'` for a new group, any for an existing one.
   */
  readonly startFrom?: StartFrom | undefined;
  /**
   * Telemetry (optional; absent when the application traces nothing): a transport whose broker
   * has a receive call (an SQS ReceiveMessage, a NATS JetStream pull request, a Kafka fetch as
   * kafkajs hands a batch over) calls it once per receive, when the call starts, and reports on
   * the returned {@link ReceiveCall}; core makes the `receive` span out of it. Push-based
   * transports (the broker sends without being asked: RabbitMQ, memory) never call it. Never
   * throws, costs nothing worth saving when called.
   */
  readonly onReceive?: (() => ReceiveCall) | undefined;
}

/**
 * One receive call as a transport reports it ({@link TransportSubscribeOptions.onReceive}): core
 * turns it into a `receive` span (CLIENT), to which the process spans of its messages link. Every
 * method is optional to call, never throws, and the first `end` call counts.
 */
export interface ReceiveCall {
  /**
   * Hand this receive's deliveries to the sink: the sink calls made inside `handOut`
   * (synchronously) belong to this receive. Returns what `handOut` returns. May be called several
   * times (a NATS pull request's messages arrive one by one).
   */
  handOut<T>(handOut: () => T): T;
  /**
   * The receive call is over: it brought `count` messages, or failed with `error`. A receive that
   * brought nothing and did not fail leaves no span (an idle long poll is not worth one).
   */
  end(count: number, error?: unknown): void;
}

/** A running consumer of one group. */
export interface TransportSubscription {
  /**
   * Stop fetching. After it resolves the sink is not called again; deliveries already handed
   * over stay settleable until `close()`.
   */
  stop(): Promise<void>;
  /** Release the consumer (leave the group). Core calls it after settling every delivery. */
  close(): Promise<void>;
  /**
   * Native access for `subscription.as(token)`: this consumer's client objects (optional; absent: `as()` throws `UNSUPPORTED`): when `token` is one
   * of this adapter's `subscription` tokens, answer `token.wrap(value)`; else `undefined`. Core has already
   * checked the token's transport name and scope. Synchronous, never throws, no broker call.
   */
  native?(token: NativeToken<unknown>): NativeAnswer | undefined;
}

/**
 * A connection to one broker. Instances are created by an adapter's `createTransport`.
 * Errors thrown are `CarrierError` with `transport` set to `name`.
 */
export interface Transport {
  /** Short transport name: `kafka`, `rabbitmq`, `nats`, `sqs`, `memory`, or a third party's. */
  readonly name: string;
  /**
   * The OpenTelemetry `messaging.system` of this transport (optional; absent: `name`), e.g.
   * `kafka`, `rabbitmq`, `aws_sqs`, `nats`, `carrier_memory`: a value the messaging semantic
   * conventions register where there is one, else a custom low-cardinality name
   * (https://opentelemetry.io/docs/specs/semconv/registry/attributes/messaging/#messaging-system).
   */
  readonly system?: string | undefined;
  readonly capabilities: Capabilities;
  /**
   * Create, idempotently, the topic and a durable subscription per group, so that each group
   * receives every message published afterwards even while none of its consumers runs, and
   * each group's dead-letter destination. Safe to call concurrently and repeatedly.
   *
   * A group created now starts where `options.startFrom` says and is set up for
   * `options.ordered`; a group that exists keeps how it was created. When the broker records that
   * (a NATS consumer's `deliver_policy`, a RabbitMQ queue's `x-single-active-consumer`) and it
   * differs from `options`, the call rejects with `TOPOLOGY_CONFLICT`.
   */
  declare(topic: string, groups: readonly string[], options?: DeclareOptions): Promise<void>;
  /**
   * Publish to every group of `topic`. Resolves only when the broker has durably accepted every
   * message; otherwise rejects with `PUBLISH_FAILED` whose `failures` name exactly the messages
   * that were not confirmed. Core has already validated names, headers and sizes.
   */
  publish(topic: string, messages: readonly WireMessage[]): Promise<void>;
  /**
   * Consume `group` of `topic`. Declares the group first (as `declare` with the subscription's
   * `startFrom`; `ordered: true` creates the group ordered and refuses one created unordered where
   * the broker records it, `ordered: false` joins either), so that when it resolves
   * every message published afterwards reaches the group. Calls `sink` for each delivery;
   * the sink never throws.
   */
  subscribe(
    topic: string,
    group: string,
    options: TransportSubscribeOptions,
    sink: (delivery: Delivery) => void,
  ): Promise<TransportSubscription>;
  /** Consume the dead letters of `group`, with the same prefetch contract as `subscribe`. */
  subscribeDeadLetters(
    topic: string,
    group: string,
    options: Pick<TransportSubscribeOptions, 'prefetch' | 'onReceive'>,
    sink: (delivery: DeadLetterDelivery) => void,
  ): Promise<TransportSubscription>;
  /**
   * Move up to `max` dead letters of `group` back to that group only, with attempt 1, oldest first,
   * each with its id, key, headers, metadata, content type and bytes.
   * A dead letter is removed only after its copy was durably accepted. Resolves with how many moved.
   */
  redrive(topic: string, group: string, max: number): Promise<number>;
  /**
   * Open this connection's reply destination (request/reply, where `capabilities.requestReply`).
   * Every reply published to its `address` (by `reply`, or by a native client following the
   * broker's convention) is handed to `sink` once, without settlement (a reply is never
   * redelivered: a requester that is gone or gave up has no use for it). Resolves once a reply
   * published from now on reaches `sink`. Core matches replies to requests by
   * `metadata.correlationId` and drops any it does not expect (late, duplicate, foreign). The sink
   * never throws.
   *
   * Requests are published with the ordinary `publish`, their metadata carrying `replyTo: address`,
   * `correlationId` and `deadline`; a transport whose broker needs the request published in a
   * particular way (RabbitMQ direct reply-to: on the channel that consumes the replies) does so when
   * it sees its own address in `metadata.replyTo`.
   */
  openReplies?(sink: (reply: WireMessage) => void): Promise<ReplyDestination>;
  /**
   * Send `message` (a reply: `metadata.correlationId` set) to the reply `address` a request carried
   * in `metadata.replyTo` — possibly another connection's, or a native requester's (AMQP `reply_to`,
   * a NATS inbox). Resolves once handed to the broker; a reply to a requester that is gone must not
   * fail (it is dropped) nor pile up at the broker. Core has validated and sized the message.
   */
  reply?(address: string, message: WireMessage): Promise<void>;
  /** Graceful: close every consumer and the connection. Idempotent. */
  close(): Promise<void>;
  /**
   * Abrupt: drop the connection without settling anything, as if the process had crashed. Unsettled
   * deliveries are redelivered by the broker. Used by the contract suite and for emergency stops.
   */
  abort(): Promise<void>;
  /**
   * Native access for `carrier.as(token)`: the connection's client objects (optional; absent: `as()` throws `UNSUPPORTED`): when `token` is one
   * of this adapter's `connection` tokens, answer `token.wrap(value)`; else `undefined`. Core has already
   * checked the token's transport name and scope. Synchronous, never throws, no broker call.
   */
  native?(token: NativeToken<unknown>): NativeAnswer | undefined;
  /**
   * The consumer lag of an existing `group` of `topic` (where `capabilities.lag`): how many
   * messages wait for the group and are not settled yet, read from the broker's own accounting
   * (offsets, counters, queue depth) without consuming, changing or creating anything. One broker
   * call or a few, each with a deadline; `signal` (the caller's) aborts them. Core has validated
   * the names and checked that the carrier is open.
   *
   * @throws CarrierError `INVALID_ARGUMENT` when the group (or topic) does not exist where the
   *   broker can tell; `CONNECTION`, `TIMEOUT`, `CLOSED`, `ABORTED` (signal) otherwise.
   */
  lag?(topic: string, group: string, signal?: AbortSignal): Promise<ConsumerLag>;
}

/**
 * The reply destination of one connection (`Transport.openReplies`): where the replies to this
 * connection's requests arrive. Core opens at most one per carrier, on its first request, and closes
 * it before the transport closes.
 */
export interface ReplyDestination {
  /**
   * The reply address core puts in each request's `metadata.replyTo`, as a server passes it back to
   * `Transport.reply` (a NATS inbox subject, `amq.rabbitmq.reply-to`, a reply topic or queue name).
   * Header-safe text (no CR, LF, NUL). It may carry the connection's identity; the correlation id
   * travels apart, in `metadata.correlationId`.
   */
  readonly address: string;
  /**
   * Stop receiving replies and free what the destination holds at the broker (consumer, inbox
   * subscription, reply queue). Idempotent. Replies that arrive later are dropped by the broker or
   * expire there (docs/brokers/*: none may pile up for ever).
   */
  close(): Promise<void>;
}

export interface TransportFactoryOptions {
  /** Called for asynchronous problems (a lost connection, a failed settlement) that have no caller. */
  readonly onError: (error: Error) => void;
  /**
   * Longest the factory may take to reach the broker, in milliseconds (core's default 10 000, or the
   * URL's `connectTimeoutMs`). Core also enforces it: past it `connect` rejects with `TIMEOUT` and a
   * transport that resolves later is aborted. Absent (a direct call): 10 000. The factory should pass it to its client so that no
   * socket outlives the deadline, and reject with `TIMEOUT` or `CONNECTION` itself.
   */
  readonly connectTimeoutMs?: number | undefined;
}

/** What an adapter package exports as `createTransport`. */
export type TransportFactory = (url: URL, options: TransportFactoryOptions) => Promise<Transport>;

/**
 * The error codes a transport may use: the same as {@link CarrierErrorCode}.
 *
 * @deprecated Use `CarrierErrorCode` (from `@carrier/core` or `@carrier/core/transport`); this alias will be removed in a later
 *   release. Nothing in Carrier uses it.
 */
export type TransportErrorCode = CarrierErrorCode;
