import {
  type Capabilities,
  CarrierError,
  type ConsumerLag,
  type DeadLetterDelivery,
  type DeclareOptions,
  type Delivery,
  type NativeAnswer,
  type NativeToken,
  type ReplyDestination,
  type Transport,
  type TransportSubscribeOptions,
  type TransportSubscription,
  type WireMessage,
} from '@carrier/core';
import type { Admin, ConsumerConfig, Kafka } from 'kafkajs';
import { delayMover, MOVER_MAX_WAIT_MS } from './delay-mover.js';
import { closedError, kafkaError, TRANSPORT } from './errors.js';
import { groupLag } from './lag.js';
import {
  consumerGroupId,
  deadLetterGroupId,
  deadLetterTopic,
  delayMoverGroupId,
  delayTopic,
  retryTopic,
} from './names.js';
import { native } from './native.js';
import { Producer } from './producer.js';
import { DELAY_UNIT_MS, publishWithDelays } from './publish-delay.js';
import { JOIN_TIMEOUT_MS, Receiver, type ReceiverSettings } from './receiver.js';
import { redrive } from './redrive.js';
import { kafkajsRefusal } from './refusals.js';
import { REPLY_TOPIC, REPLY_TOPIC_CONFIG, ReplyInbox, requesterOf } from './replies.js';
import { toDeadLetterDelivery, toDelivery } from './settlement.js';
import type { SocketRegistry } from './sockets.js';
import { KAFKA_MAX_DELAY_MS, Topology } from './topology.js';
import type { KafkaUrlOptions } from './url.js';
import { dueAtOf, RECORD_OVERHEAD_BYTES } from './wire.js';

/**
 * How late a delayed message reaches a running consumer at most (`publishDelayPrecisionMs`): the
 * ladder's last unit, the mover's pause timer and fetch wait, and its writes (docs/brokers/kafka.md).
 */
export const KAFKA_PUBLISH_DELAY_PRECISION_MS = 1_000 + DELAY_UNIT_MS;

/** How often a connection with a subscription looks whether its topic got a delay topic, ms. */
const DELAY_TOPIC_LOOK_MS = 30_000;

/** What the factory learned about the cluster, and the client pieces it built. */
export interface KafkaTransportSettings {
  /** The broker's `message.max.bytes`. */
  readonly messageMaxBytes: number;
  /** Replication factor of the topics Carrier creates. */
  readonly replicationFactor: number;
  /** Consumer settings shared by every consumer of the connection (kafkajs `ConsumerConfig` less the group). */
  readonly consumerConfig: Omit<ConsumerConfig, 'groupId'>;
  /** The sockets of the client (to drop silent connections). */
  readonly sockets?: SocketRegistry | undefined;
}

/**
 * Carrier over Apache Kafka with kafkajs. A Carrier topic is a Kafka topic of the same name; a
 * group is the consumer group `<topic>..<group>`, which reads the topic and its retry topic
 * `<topic>..<group>.retry`; dead letters go to `<topic>..<group>.dlq`. Publishing uses one
 * idempotent producer with acks=all; the record key is the message key (murmur2 partitioning,
 * as the Java client), so per-key order holds within a group. Offsets are committed only for
 * settled records, per partition up to the first unsettled one. See docs/brokers/kafka.md.
 *
 * Every method rejects with `CarrierError` `CLOSED` once the transport was closed or aborted.
 */
export class KafkaTransport implements Transport {
  readonly name = TRANSPORT;
  /** OpenTelemetry `messaging.system` (registered value). */
  readonly system = 'kafka';
  readonly capabilities: Capabilities;
  readonly #kafka: Kafka;
  readonly #options: KafkaUrlOptions;
  readonly #onError: (error: Error) => void;
  readonly #admin: Admin;
  readonly #consumerConfig: Omit<ConsumerConfig, 'groupId'>;
  readonly #topology: Topology;
  readonly #producer: Producer;
  readonly #receivers = new Set<Receiver>();
  /** The delay movers of this connection, per topic (see delay-mover.ts). */
  readonly #movers = new Map<string, Receiver>();
  /** Topics subscribed here without a delay topic yet: the timer of the next look. */
  readonly #looking = new Map<string, NodeJS.Timeout>();
  readonly #inboxes = new Set<ReplyInbox>();
  readonly #sockets: SocketRegistry | undefined;
  #closed = false;

  /** @internal Use `createKafkaTransport` (or `connect()` from `@carrier/core`). */
  constructor(
    kafka: Kafka,
    admin: Admin,
    options: KafkaUrlOptions,
    settings: KafkaTransportSettings,
    onError: (error: Error) => void,
  ) {
    this.#kafka = kafka;
    this.#sockets = settings.sockets;
    admin.on(admin.events.REQUEST_TIMEOUT, (e) => this.#requestTimedOut(e.payload.broker));
    this.#admin = admin;
    this.#options = options;
    this.#onError = onError;
    this.#consumerConfig = settings.consumerConfig;
    this.capabilities = {
      fanOut: true,
      competingConsumers: true,
      perKeyOrder: true,
      nativeDelay: false,
      maxDelayMs: KAFKA_MAX_DELAY_MS,
      // delayed publish: Carrier's delay topic and movers (publish-delay.ts); Kafka has no delay
      maxPublishDelayMs: KAFKA_MAX_DELAY_MS,
      maxNativePublishDelayMs: 0,
      publishDelayPrecisionMs: KAFKA_PUBLISH_DELAY_PRECISION_MS,
      maxMessageBytes: settings.messageMaxBytes - RECORD_OVERHEAD_BYTES,
      redrive: true,
      // a topic keeps its records for retention.ms whoever read them: a new group can start at the oldest
      replay: true,
      // a shared reply topic read by a consumer group per requester connection (replies.ts)
      requestReply: true,
      // committed offsets against high watermarks (lag.ts)
      lag: true,
    };
    const { replicationFactor, consumerConfig } = settings;
    this.#topology = new Topology({ kafka, admin, options, replicationFactor, consumerConfig });
    this.#producer = new Producer({
      kafka,
      maxMessageBytes: this.capabilities.maxMessageBytes,
      closed: () => this.#closed,
      onRequestTimeout: (broker) => this.#requestTimedOut(broker),
    });
  }

  /**
   * A request to `broker` got no answer within requestTimeoutMs: if its connection has been
   * silent that long, destroy it (kafkajs keeps using a silent connection otherwise) so that the
   * next request reconnects.
   */
  #requestTimedOut(broker: string): void {
    if (this.#closed) return;
    this.#sockets?.dropSilent(broker, Math.max(1_000, this.#options.requestTimeoutMs - 1_000));
  }

  #ensureOpen(): void {
    if (this.#closed) throw closedError();
  }

  /**
   * The topic, each group's retry and dead-letter topics, and a new group's position: its committed
   * offsets at the topic's end (`startFrom` `'now'` or absent) or at each partition's low watermark
   * (`'earliest'`). An existing group keeps its position whatever `startFrom` says (Kafka records
   * nothing of how a group was created, so a different start cannot be detected). `ordered` needs
   * nothing at creation: a partition is consumed by one member of the group at a time.
   */
  async declare(topic: string, groups: readonly string[], options: DeclareOptions = {}): Promise<void> {
    this.#ensureOpen();
    await this.#topology.declare(topic, groups, options.startFrom);
  }

  async publish(topic: string, messages: readonly WireMessage[]): Promise<void> {
    this.#ensureOpen();
    await this.#topology.ensureTopic(topic);
    const now = Date.now();
    if (!messages.some((m) => m.deliverAt !== undefined && m.deliverAt.getTime() > now)) {
      await this.#producer.publish(topic, messages);
      return;
    }
    // delayed: to the delay topic, and this connection moves them when due (and others' too)
    const partitions = await this.#topology.delayPartitions(topic, true);
    if (partitions === undefined)
      throw kafkaError('TOPOLOGY_CONFLICT', `topic ${delayTopic(topic)} has no partitions`);
    this.#startMover(topic, partitions);
    await publishWithDelays(
      (to, records) => this.#producer.send(to, records),
      topic,
      delayTopic(topic),
      partitions,
      messages,
    );
  }

  /**
   * Runs the mover of `topic`'s delay topic on this connection unless it runs already (its group
   * join is not waited for; a failure to start goes to `onError`, and the next delayed publish or
   * subscription tries again).
   */
  #startMover(topic: string, partitions: number): void {
    if (this.#closed || this.#movers.has(topic)) return;
    const groupId = delayMoverGroupId(topic);
    const receiver = delayMover(
      {
        receiver: (settings) =>
          this.#receiver(groupId, `delay mover of ${topic}`, {
            ...settings,
            // a resumed level is fetched at the next fetch: shorter waits make each hop quicker
            consumer: { ...this.#consumerConfig, maxWaitTimeInMs: MOVER_MAX_WAIT_MS },
          }),
        send: (to, records) => this.#producer.send(to, records),
        onError: (error) => this.#onError(error),
      },
      topic,
      partitions,
    );
    this.#movers.set(topic, receiver);
    receiver.start().then(
      () => {
        if (this.#closed) void receiver.abort(); // closed while joining
      },
      (cause: unknown) => {
        if (this.#movers.get(topic) === receiver) this.#movers.delete(topic);
        if (!this.#closed)
          this.#onError(
            kafkajsRefusal(cause, { kind: 'group join', group: groupId }, this.#options) ??
              kafkaError('CONNECTION', `the delay mover of ${topic} could not start`, cause),
          );
      },
    );
  }

  /**
   * @internal For the `client=platformatic` driver, whose subscriptions run elsewhere: starts the
   * mover of `topic`'s delayed messages on this connection, as a subscription of this driver does
   * (see `#moveIfDelayed`). Failures go to `onError`; does nothing once closed.
   */
  moveDelayed(topic: string): void {
    void this.#moveIfDelayed(topic);
  }

  /**
   * Starts the mover of `topic` once it has a delay topic: now, or at a later look (every
   * {@link DELAY_TOPIC_LOOK_MS}) while this connection runs, so that delayed messages keep moving
   * after the connection that published them is gone.
   */
  async #moveIfDelayed(topic: string): Promise<void> {
    if (this.#closed || this.#movers.has(topic) || this.#looking.has(topic)) return;
    let partitions: number | undefined;
    try {
      partitions = await this.#topology.delayPartitions(topic, false);
    } catch {
      // the cluster did not answer: look again later
    }
    if (partitions !== undefined) {
      this.#startMover(topic, partitions);
      return;
    }
    const timer = setTimeout(() => {
      this.#looking.delete(topic);
      void this.#moveIfDelayed(topic);
    }, DELAY_TOPIC_LOOK_MS);
    timer.unref();
    this.#looking.set(topic, timer);
  }

  /**
   * Declares the topic and the group (as `declare`), then joins the group; resolves after the
   * first join.
   *
   * @throws CarrierError as `declare`; `INVALID_ARGUMENT` (`sessionTimeoutMs` outside the broker's
   *   range), `TOPOLOGY_CONFLICT` (the group's members speak another protocol) or `AUTH_FAILED` (the
   *   ACLs) when Kafka refuses the join (adapter-kafka's refusals.ts); `CONNECTION` when the consumer
   *   cannot join otherwise; `CLOSED`.
   */
  async subscribe(
    topic: string,
    group: string,
    options: TransportSubscribeOptions,
    sink: (delivery: Delivery) => void,
  ): Promise<TransportSubscription> {
    this.#ensureOpen();
    await this.declare(topic, [group], { startFrom: options.startFrom });
    const retry = retryTopic(topic, group);
    const copy = this.#producer.copy.bind(this.#producer);
    const groupId = consumerGroupId(topic, group);
    const receiver = this.#receiver(groupId, `consumer of ${topic}/${group}`, {
      topics: [
        // Carrier fixes every partition's position before the first join (declare); the reset policy
        // only applies to partitions added to the topic later: read those from their start
        { topic, fromBeginning: true },
        { topic: retry, fromBeginning: true },
      ],
      prefetch: options.prefetch,
      countDeliveries: true,
      notBefore: (source, record) => (source === retry ? dueAtOf(record) : undefined),
      onReceive: options.onReceive,
      deliver: (from, partition, record, handle) =>
        sink(toDelivery({ topic, group, from, partition }, record, handle, copy)),
    });
    const subscription = await this.#start(receiver, groupId);
    void this.#moveIfDelayed(topic);
    return subscription;
  }

  async subscribeDeadLetters(
    topic: string,
    group: string,
    options: Pick<TransportSubscribeOptions, 'prefetch' | 'onReceive'>,
    sink: (delivery: DeadLetterDelivery) => void,
  ): Promise<TransportSubscription> {
    this.#ensureOpen();
    await this.#topology.ensureGroupTopics(topic, group);
    const groupId = deadLetterGroupId(topic, group);
    const receiver = this.#receiver(groupId, `dead-letter consumer of ${topic}/${group}`, {
      topics: [{ topic: deadLetterTopic(topic, group), fromBeginning: true }],
      prefetch: options.prefetch,
      countDeliveries: false,
      onReceive: options.onReceive,
      deliver: (from, partition, record, handle) =>
        sink(toDeadLetterDelivery(from, partition, record, handle)),
    });
    return this.#start(receiver, groupId);
  }

  async redrive(topic: string, group: string, max: number): Promise<number> {
    this.#ensureOpen();
    await this.#topology.ensureGroupTopics(topic, group);
    return redrive(
      {
        kafka: this.#kafka,
        admin: this.#admin,
        consumerConfig: this.#consumerConfig,
        send: (to, records) => this.#producer.send(to, records),
      },
      topic,
      group,
      max,
    );
  }

  /** The group's lag from its committed offsets: see lag.ts (and docs/brokers/kafka.md). */
  async lag(topic: string, group: string, signal?: AbortSignal): Promise<ConsumerLag> {
    this.#ensureOpen();
    return groupLag({ admin: this.#admin, timeoutMs: this.#options.requestTimeoutMs, signal }, topic, group);
  }

  /**
   * The reply destination of this connection (request/reply): the shared reply topic
   * `carrier..replies` (created on first use, 5-minute retention), read from its current end by a
   * consumer group of this connection; resolves after the group's first join. See replies.ts.
   *
   * @throws CarrierError `CLOSED`; `TOPOLOGY_CONFLICT` when provisioning is off and the reply topic
   *   does not exist; `CONNECTION` when the consumer cannot join.
   */
  async openReplies(sink: (reply: WireMessage) => void): Promise<ReplyDestination> {
    this.#ensureOpen();
    await this.#topology.ensureTopic(REPLY_TOPIC, REPLY_TOPIC_CONFIG);
    const inbox = new ReplyInbox({
      kafka: this.#kafka,
      admin: this.#admin,
      consumerConfig: this.#consumerConfig,
      options: this.#options,
      sink,
      onError: this.#onError,
    });
    await inbox.open();
    if (this.#closed) {
      await inbox.abort();
      throw closedError();
    }
    this.#inboxes.add(inbox);
    return {
      address: inbox.address,
      close: async () => {
        await inbox.close();
        this.#inboxes.delete(inbox);
      },
    };
  }

  /**
   * Sends a reply to `address` (`carrier..replies:<requester id>`): a record on the shared reply
   * topic keyed by the requester id. A requester that is gone never reads it; the topic's retention
   * deletes it.
   *
   * @throws CarrierError `INVALID_ARGUMENT` when `address` is not a Carrier reply address on Kafka
   *   (a request's `replyTo` never makes Carrier write to another topic); `PUBLISH_FAILED` when
   *   Kafka did not confirm it.
   */
  async reply(address: string, message: WireMessage): Promise<void> {
    this.#ensureOpen();
    const requester = requesterOf(address);
    if (requester === undefined) {
      throw kafkaError(
        'INVALID_ARGUMENT',
        `reply address ${JSON.stringify(address.slice(0, 200))} is not a Carrier reply address on Kafka (${REPLY_TOPIC}:<id>)`,
      );
    }
    await this.#topology.ensureTopic(REPLY_TOPIC, REPLY_TOPIC_CONFIG);
    await this.#producer.publish(REPLY_TOPIC, [{ ...message, key: requester }]);
  }

  /** A receiver of consumer group `groupId`; `what` names it in its errors. */
  #receiver(
    groupId: string,
    what: string,
    settings: Pick<ReceiverSettings, 'topics' | 'prefetch' | 'countDeliveries' | 'deliver'> &
      Partial<Pick<ReceiverSettings, 'notBefore' | 'consumer' | 'onReceive'>>,
  ): Receiver {
    return new Receiver(this.#kafka, {
      consumer: this.#consumerConfig,
      ...settings,
      groupId,
      joinTimeoutMs: JOIN_TIMEOUT_MS,
      rebalanceTimeoutMs: this.#options.rebalanceTimeoutMs,
      readCommitted: (assignment) => this.#topology.committedOffsets(groupId, assignment),
      onRequestTimeout: (broker) => this.#requestTimedOut(broker),
      // a refusal after the first join (a rejoin, the ACLs changed) is said as at the first join
      onError: (cause) =>
        this.#onError(
          cause instanceof CarrierError
            ? cause
            : (kafkajsRefusal(cause, { kind: 'group join', group: groupId }, this.#options) ??
                kafkaError('CONNECTION', `${what} failed`, cause)),
        ),
    });
  }

  /** Native access (`carrier.as(native.connection)`): the kafkajs client, admin and producer. */
  native(token: NativeToken<unknown>): NativeAnswer | undefined {
    if (token !== native.connection) return undefined;
    const producer = this.#producer;
    return native.connection.wrap({
      kafka: this.#kafka,
      admin: this.#admin,
      producer: () => producer.native(),
    });
  }

  /** Starts `receiver` and tracks it until its subscription is closed (or the transport is). */
  async #start(receiver: Receiver, groupId: string): Promise<TransportSubscription> {
    try {
      await receiver.start();
    } catch (cause) {
      if (this.#closed) throw closedError(cause);
      throw (
        kafkajsRefusal(cause, { kind: 'group join', group: groupId }, this.#options) ??
        kafkaError('CONNECTION', 'cannot join the consumer group', cause)
      );
    }
    if (this.#closed) {
      // closed while joining: do not leave a consumer behind
      await receiver.abort();
      throw closedError();
    }
    this.#receivers.add(receiver);
    return {
      native: (token) =>
        token === native.subscription
          ? native.subscription.wrap({ consumer: receiver.consumer, groupId })
          : undefined,
      stop: () => receiver.stop(),
      close: async () => {
        try {
          await receiver.close();
        } finally {
          this.#receivers.delete(receiver);
        }
      },
    };
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await Promise.allSettled([...this.#inboxes].map((i) => i.close()));
    this.#inboxes.clear();
    await Promise.allSettled([...this.#receivers, ...this.#movers.values()].map((r) => r.close()));
    this.#receivers.clear();
    this.#movers.clear();
    for (const timer of this.#looking.values()) clearTimeout(timer);
    this.#looking.clear();
    await this.#disconnect();
  }

  async abort(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await Promise.allSettled([...this.#inboxes].map((i) => i.abort()));
    this.#inboxes.clear();
    await Promise.allSettled([...this.#receivers, ...this.#movers.values()].map((r) => r.abort()));
    this.#receivers.clear();
    this.#movers.clear();
    for (const timer of this.#looking.values()) clearTimeout(timer);
    this.#looking.clear();
    await this.#disconnect();
  }

  async #disconnect(): Promise<void> {
    await Promise.allSettled([this.#producer.close(), this.#admin.disconnect()]);
  }
}
