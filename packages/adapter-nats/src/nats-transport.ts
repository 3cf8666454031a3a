import type {
  Capabilities,
  ConsumerLag,
  DeadLetterDelivery,
  DeclareOptions,
  Delivery,
  NativeAnswer,
  NativeToken,
  ReplyDestination,
  Transport,
  TransportFactoryOptions,
  TransportSubscribeOptions,
  TransportSubscription,
  WireMessage,
} from '@carrier/core';
import { type JetStreamManager, jetstream } from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/transport-node';
import { API, apiCode, fail, TRANSPORT, wrapper } from './errors.js';
import type { Link } from './link.js';
import { Liveness } from './liveness.js';
import { consumerName, deadLetterStream, topicStream } from './names.js';
import { native } from './native.js';
import { Producer } from './producer.js';
import { redrive } from './redrive.js';
import { Releases } from './releases.js';
import { Replies } from './replies.js';
import { Settlement } from './settlement.js';
import { Topology } from './topology.js';
import type { NatsSettings } from './url.js';
import { versionAtLeast } from './version.js';

/** Bytes of `max_payload` kept back for Carrier's headers (and dead-letter metadata) in `maxMessageBytes`. */
const HEADER_RESERVE_BYTES = 8 * 1024;
/** The oldest nats-server with message schedules (`Nats-Schedule`, ADR-51). */
const MIN_SCHEDULES_SERVER = [2, 12, 0] as const;
/** Longest delay where nothing else bounds it: ten years, in ms. */
const MAX_SCHEDULE_MS = 10 * 365 * 24 * 3_600_000;
/**
 * How late a schedule reaches a running consumer: the server fires due schedules at most every
 * 250 ms (its scheduler's floor), then the copy is stored and fetched.
 */
const SCHEDULE_PRECISION_MS = 1_000;

/**
 * Delayed publish capabilities: message schedules on 2.12+, none before. The schedule is a stored
 * message of the topic stream, so a stream `max_age` bounds the delay (it would age out first).
 */
function publishDelay(
  version: string,
  maxAgeMs: number,
): Pick<Capabilities, 'maxPublishDelayMs' | 'maxNativePublishDelayMs' | 'publishDelayPrecisionMs'> {
  if (!versionAtLeast(version, MIN_SCHEDULES_SERVER)) {
    return { maxPublishDelayMs: 0, maxNativePublishDelayMs: 0, publishDelayPrecisionMs: 0 };
  }
  const max = maxAgeMs > 0 ? Math.min(maxAgeMs, MAX_SCHEDULE_MS) : MAX_SCHEDULE_MS;
  return {
    maxPublishDelayMs: max,
    maxNativePublishDelayMs: max,
    publishDelayPrecisionMs: SCHEDULE_PRECISION_MS,
  };
}

/** Longest retry delay declared (the server takes any int64 ns; this matches core's timer-based transports). */
const MAX_DELAY_MS = 2 ** 31 - 1;
/** `max_payload` assumed when the server's INFO does not say (the server's default, 1 MiB). */
const DEFAULT_MAX_PAYLOAD = 1024 * 1024;

/**
 * Carrier over NATS JetStream. Topology (see docs/brokers/nats.md): one file-backed stream per
 * topic on `carrier.<topic>` (plus per-group redrive subjects), a durable pull consumer per group
 * (explicit ack, filtered on the topic subject and the group's redrive subject), and one
 * dead-letter stream per topic with a durable consumer per group. Publishes resolve on PubAck and
 * carry `Nats-Msg-Id` = the Carrier id, so a retried publish is de-duplicated by the server.
 *
 * Every method but `close`/`abort` throws `CLOSED` once the transport was closed; broker failures
 * are `CONNECTION` or `TIMEOUT` (after `requestTimeoutMs`), a refused stream or consumer
 * `TOPOLOGY_CONFLICT`.
 */
export class NatsTransport implements Transport {
  readonly name = TRANSPORT;
  /** OpenTelemetry `messaging.system`: the conventions register none for NATS (custom value, docs/observability.md). */
  readonly system = 'nats';
  readonly capabilities: Capabilities;
  readonly #link: Link;
  readonly #topology: Topology;
  readonly #producer: Producer;
  readonly #settlement: Settlement;
  readonly #liveness: Liveness;
  readonly #replies: Replies;
  #closed = false;

  /** @internal Use `createNatsTransport` (or `connect()` of `@carrier/core`). */
  constructor(
    nc: NatsConnection,
    jsm: JetStreamManager,
    settings: NatsSettings,
    options: TransportFactoryOptions,
  ) {
    const closed = () => this.#closed;
    const link: Link = {
      nc,
      js: jetstream(nc, { timeout: settings.requestTimeoutMs }),
      jsm,
      settings,
      maxPayload: nc.info?.max_payload ?? DEFAULT_MAX_PAYLOAD,
      wrap: wrapper(closed),
      onError: options.onError,
      closed,
    };
    this.#link = link;
    this.#topology = new Topology(link);
    this.#producer = new Producer(link, this.#topology);
    this.#settlement = new Settlement(link, this.#producer, new Releases(link, this.#topology));
    this.#liveness = new Liveness(link);
    this.#replies = new Replies(link);
    this.capabilities = {
      fanOut: true,
      competingConsumers: true,
      perKeyOrder: false,
      nativeDelay: true,
      maxDelayMs: MAX_DELAY_MS,
      ...publishDelay(nc.info?.version ?? '0.0.0', settings.maxAgeMs),
      maxMessageBytes: Math.max(1, link.maxPayload - HEADER_RESERVE_BYTES),
      redrive: true,
      // a limits stream keeps every message for max_age whoever acknowledged it; an interest stream
      // deletes a message once the groups that existed when it was published acknowledged it
      replay: settings.retention === 'limits',
      // replies on core NATS to a per-connection inbox (replies.ts)
      requestReply: true,
      // the group's durable consumer counts what it has not delivered and not had acknowledged
      lag: true,
    };
  }

  /**
   * Native access (`carrier.as(native.connection)`): the nats.js connection, a JetStream client and
   * manager on it. Carrier owns the connection's lifecycle.
   */
  native(token: NativeToken<unknown>): NativeAnswer | undefined {
    if (token !== native.connection) return undefined;
    const { nc, js, jsm } = this.#link;
    return native.connection.wrap({ connection: nc, jetstream: js, manager: jsm });
  }

  #ensureOpen(): void {
    if (this.#closed || this.#link.nc.isClosed()) throw fail('CLOSED', 'nats connection is closed');
  }

  /**
   * The topic's stream and each group's durable consumer. `startFrom: 'earliest'` creates a group's
   * consumer with `deliver_policy: all` (only with `retention=limits`: `capabilities.replay`), else
   * `new`; `startFrom` given and an existing consumer with the other policy: `TOPOLOGY_CONFLICT`.
   * `ordered` is refused by core (`perKeyOrder` is false); `ordered: false` needs nothing.
   */
  async declare(topic: string, groups: readonly string[], options: DeclareOptions = {}): Promise<void> {
    this.#ensureOpen();
    if (options.ordered) throw fail('UNSUPPORTED', 'nats cannot keep per-key order across a group');
    if (options.startFrom === 'earliest' && !this.capabilities.replay) {
      throw fail('UNSUPPORTED', 'nats with retention=interest keeps no history for a new group');
    }
    await this.#topology.declare(topic, groups, options.startFrom);
  }

  /** @throws CarrierError `MESSAGE_TOO_LARGE` (nothing sent), `PUBLISH_FAILED` with per-message failures. */
  async publish(topic: string, messages: readonly WireMessage[]): Promise<void> {
    this.#ensureOpen();
    await this.#producer.publish(
      topic,
      messages.map((m) => this.#replies.outgoing(m)),
    );
  }

  /** A core NATS inbox of this connection (`<inbox>.>`): see docs/brokers/nats.md, "Request/reply". */
  async openReplies(sink: (reply: WireMessage) => void): Promise<ReplyDestination> {
    this.#ensureOpen();
    return this.#replies.open(sink);
  }

  /** Publish on core NATS to `address` (an inbox subject): dropped by the server if nobody listens. */
  async reply(address: string, message: WireMessage): Promise<void> {
    this.#ensureOpen();
    await this.#replies.reply(address, message);
  }

  /** @throws CarrierError `UNSUPPORTED` for `ordered: true` (a JetStream group hands out to every member). */
  async subscribe(
    topic: string,
    group: string,
    options: TransportSubscribeOptions,
    sink: (delivery: Delivery) => void,
  ): Promise<TransportSubscription> {
    this.#ensureOpen();
    await this.declare(topic, [group], { ordered: options.ordered, startFrom: options.startFrom });
    const stream = topicStream(topic);
    const consumer = consumerName(group);
    try {
      await this.#topology.raiseMaxAckPending(stream, consumer, options.prefetch);
    } catch (error) {
      throw this.#link.wrap(error, `cannot update consumer ${stream}/${consumer}`);
    }
    return this.#liveness.open({
      stream,
      consumer,
      prefetch: options.prefetch,
      onReceive: options.onReceive,
      ...this.#settlement.group(topic, group, sink),
    });
  }

  async subscribeDeadLetters(
    topic: string,
    group: string,
    options: Pick<TransportSubscribeOptions, 'prefetch' | 'onReceive'>,
    sink: (delivery: DeadLetterDelivery) => void,
  ): Promise<TransportSubscription> {
    this.#ensureOpen();
    await this.declare(topic, [group]);
    const stream = deadLetterStream(topic);
    return this.#liveness.open({
      stream,
      consumer: consumerName(group),
      prefetch: options.prefetch,
      onReceive: options.onReceive,
      onMessage: this.#settlement.deadLetters(stream, sink),
    });
  }

  async redrive(topic: string, group: string, max: number): Promise<number> {
    this.#ensureOpen();
    await this.declare(topic, [group]);
    return redrive(
      { link: this.#link, producer: this.#producer, settlement: this.#settlement },
      topic,
      group,
      max,
    );
  }

  /**
   * The group's lag from its durable consumer (`CONSUMER.INFO`): `num_pending` (messages of the
   * group's subjects not delivered yet) plus `num_ack_pending` (delivered and not acknowledged yet:
   * in flight, and retries waiting out their delay). Dead letters and delayed publishes not due yet
   * are not counted. Reads only: the stream and consumer are never created here.
   *
   * @throws CarrierError `INVALID_ARGUMENT` when the topic's stream or the group's consumer does
   *   not exist; `TIMEOUT`, `CONNECTION`, `CLOSED`.
   */
  async lag(topic: string, group: string): Promise<ConsumerLag> {
    this.#ensureOpen();
    const stream = topicStream(topic);
    const consumer = consumerName(group);
    try {
      const info = await this.#link.jsm.consumers.info(stream, consumer);
      return {
        messages: info.num_pending + info.num_ack_pending,
        source: 'jetstream consumer num_pending + num_ack_pending',
      };
    } catch (error) {
      const code = apiCode(error);
      if (code === API.streamNotFound || code === API.consumerNotFound)
        throw fail(
          'INVALID_ARGUMENT',
          `no group ${group} on topic ${topic} (${stream}/${consumer} not found)`,
          error,
        );
      throw this.#link.wrap(error, `cannot read the lag of ${stream}/${consumer}`);
    }
  }

  /** Drain abandoned pull requests (what the server had sent is given back), then drain the connection. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#replies.closeAll();
    await this.#liveness.closeAll();
    if (this.#link.nc.isClosed()) return;
    try {
      await this.#link.nc.drain();
    } catch {
      await this.#link.nc.close().catch(() => {});
    }
  }

  /** Drop the connection at once, giving nothing back (the server redelivers after `ackWaitMs`). */
  async abort(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#replies.closeAll();
    this.#liveness.abandonAll();
    await this.#link.nc.close().catch(() => {});
  }
}
