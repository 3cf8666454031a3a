import {
  closedError,
  consumerGroupId,
  deadLetterGroupId,
  deadLetterTopic,
  dueAtOf,
  JOIN_TIMEOUT_MS,
  type KafkaTransport,
  type KafkaUrlOptions,
  kafkaError,
  RECORD_OVERHEAD_BYTES,
  REPLY_TOPIC,
  REPLY_TOPIC_CONFIG,
  requesterOf,
  retryTopic,
  TRANSPORT,
  toDeadLetterDelivery,
  toDelivery,
} from '@carrier/adapter-kafka/driver-kit';
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
import type { ClientOptions } from './client-options.js';
import { refusal } from './errors.js';
import { native } from './native.js';
import { Producer } from './producer.js';
import { Receiver, type ReceiverSettings } from './receiver.js';
import { redrive } from './redrive.js';
import { ReplyInbox } from './replies.js';
import type { AdminTopology, ClusterFacts } from './topology.js';

/**
 * Carrier over Apache Kafka with @platformatic/kafka for the data path: publishing (one idempotent
 * producer, acks=all, murmur2 key partitioning as kafkajs and the Java client), subscriptions and
 * dead-letter subscriptions (consumer groups with manual commits of settled offsets only, delivery
 * counts in the commit metadata), retry and dead-letter copies. Topics, names, record headers and
 * commit metadata are exactly the kafkajs driver's, so both drivers read each other's records and
 * share a group's committed offsets.
 *
 * Declaration, lag, redrive and request/reply run on @platformatic/kafka too (`topology.ts`,
 * `redrive.ts`, `replies.ts`). Only delayed publish (the delay topic and its movers) still runs on
 * `kafkajs`, a kafkajs-driver transport of the same URL: see the package README.
 *
 * Every method rejects with `CarrierError` `CLOSED` once the transport was closed or aborted.
 */
export class PlatformaticKafkaTransport implements Transport {
  readonly name = TRANSPORT;
  /** OpenTelemetry `messaging.system` (registered value). */
  readonly system = 'kafka';
  readonly capabilities: Capabilities;
  readonly #kafkajs: KafkaTransport;
  readonly #topology: AdminTopology;
  readonly #client: ClientOptions;
  readonly #options: KafkaUrlOptions;
  readonly #onError: (error: Error) => void;
  readonly #producer: Producer;
  readonly #receivers = new Set<Receiver>();
  readonly #inboxes = new Set<ReplyInbox>();
  #closed = false;

  /** @internal Use `createPlatformaticKafkaTransport` (or `connect()` from `@carrier/core`). */
  constructor(
    kafkajs: KafkaTransport,
    topology: AdminTopology,
    cluster: ClusterFacts,
    client: ClientOptions,
    options: KafkaUrlOptions,
    onError: (error: Error) => void,
  ) {
    this.#kafkajs = kafkajs;
    this.#topology = topology;
    this.#client = client;
    this.#options = options;
    this.#onError = onError;
    this.capabilities = {
      ...kafkajs.capabilities,
      maxMessageBytes: cluster.messageMaxBytes - RECORD_OVERHEAD_BYTES,
    };
    this.#producer = new Producer(client, this.capabilities.maxMessageBytes, () => this.#closed);
  }

  #ensureOpen(): void {
    if (this.#closed) throw closedError();
  }

  /** As the kafkajs driver's `declare` (see `KafkaTransport.declare`), on @platformatic/kafka's Admin. */
  async declare(topic: string, groups: readonly string[], options: DeclareOptions = {}): Promise<void> {
    this.#ensureOpen();
    await this.#topology.declare(topic, groups, options.startFrom);
  }

  async publish(topic: string, messages: readonly WireMessage[]): Promise<void> {
    this.#ensureOpen();
    const now = Date.now();
    if (messages.some((m) => m.deliverAt !== undefined && m.deliverAt.getTime() > now)) {
      // delayed: Carrier's delay topic and movers, on the kafkajs path
      await this.#kafkajs.publish(topic, messages);
      return;
    }
    await this.#topology.declare(topic, []);
    await this.#producer.publish(topic, messages);
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
    await this.#topology.declare(topic, [group], options.startFrom);
    const retry = retryTopic(topic, group);
    const copy = this.#producer.copy.bind(this.#producer);
    const groupId = consumerGroupId(topic, group);
    const receiver = this.#receiver(groupId, `consumer of ${topic}/${group}`, {
      topics: [topic, retry],
      prefetch: options.prefetch,
      countDeliveries: true,
      notBefore: (source, record) => (source === retry ? dueAtOf(record) : undefined),
      onReceive: options.onReceive,
      deliver: (from, partition, record, handle) => {
        const delivery = toDelivery({ topic, group, from, partition }, record, handle, copy);
        sink({
          ...delivery,
          native: (token) =>
            token === native.message
              ? native.message.wrap({ topic: from, partition, message: record })
              : undefined,
        });
      },
    });
    const subscription = await this.#start(receiver, groupId);
    // as a kafkajs-driver subscription: this connection moves the topic's delayed messages
    this.#kafkajs.moveDelayed(topic);
    return subscription;
  }

  async subscribeDeadLetters(
    topic: string,
    group: string,
    options: Pick<TransportSubscribeOptions, 'prefetch' | 'onReceive'>,
    sink: (delivery: DeadLetterDelivery) => void,
  ): Promise<TransportSubscription> {
    this.#ensureOpen();
    await this.#topology.declare(topic, [group]);
    const groupId = deadLetterGroupId(topic, group);
    const receiver = this.#receiver(groupId, `dead-letter consumer of ${topic}/${group}`, {
      topics: [deadLetterTopic(topic, group)],
      prefetch: options.prefetch,
      countDeliveries: false,
      onReceive: options.onReceive,
      deliver: (from, partition, record, handle) =>
        sink(toDeadLetterDelivery(from, partition, record, handle)),
    });
    return this.#start(receiver, groupId);
  }

  /** As the kafkajs driver's `redrive`, on @platformatic/kafka (see `redrive.ts`). */
  async redrive(topic: string, group: string, max: number): Promise<number> {
    this.#ensureOpen();
    await this.#topology.ensureGroupTopics(topic, group);
    return redrive(
      {
        client: this.#client,
        topology: this.#topology,
        timings: this.#timings(),
        send: (to, records) => this.#producer.send(to, records),
      },
      topic,
      group,
      max,
    );
  }

  /** The group's lag from its committed offsets (see the kafkajs driver's `lag`), on @platformatic/kafka's Admin. */
  async lag(topic: string, group: string, signal?: AbortSignal): Promise<ConsumerLag> {
    this.#ensureOpen();
    return this.#topology.lag(topic, group, this.#options.requestTimeoutMs, signal);
  }

  /**
   * As the kafkajs driver's `openReplies`, on @platformatic/kafka (see `replies.ts`): a reply
   * consumer of its own on the shared reply topic `carrier..replies`.
   *
   * @throws CarrierError `CONNECTION` when the reply consumer cannot join within 60 s, `CLOSED`.
   */
  async openReplies(sink: (reply: WireMessage) => void): Promise<ReplyDestination> {
    this.#ensureOpen();
    await this.#topology.ensureTopic(REPLY_TOPIC, REPLY_TOPIC_CONFIG);
    const o = this.#options;
    const inbox = new ReplyInbox({
      client: this.#client,
      topology: this.#topology,
      maxWaitTimeMs: o.maxWaitTimeMs,
      sessionTimeoutMs: o.sessionTimeoutMs,
      heartbeatIntervalMs: o.heartbeatIntervalMs,
      options: o,
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
   * As the kafkajs driver's `reply`: a record on the shared reply topic keyed by the requester id.
   *
   * @throws CarrierError `INVALID_ARGUMENT` when `address` is not a Carrier reply address on Kafka;
   *   `PUBLISH_FAILED` when Kafka did not confirm it.
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

  #receiver(
    groupId: string,
    what: string,
    settings: Pick<ReceiverSettings, 'topics' | 'prefetch' | 'countDeliveries' | 'deliver'> &
      Partial<Pick<ReceiverSettings, 'notBefore' | 'onReceive'>>,
  ): Receiver {
    return new Receiver({
      ...settings,
      client: this.#client,
      timings: this.#timings(),
      groupId,
      joinTimeoutMs: JOIN_TIMEOUT_MS,
      // a refusal after the first join (a rejoin, the ACLs changed) is said as at the first join
      onError: (cause) =>
        this.#onError(
          cause instanceof CarrierError
            ? cause
            : (refusal(cause, { kind: 'group join', group: groupId }, this.#options) ??
                kafkaError('CONNECTION', `${what} failed`, cause)),
        ),
    });
  }

  /** The URL's group timings (ms). */
  #timings(): ReceiverSettings['timings'] {
    const o = this.#options;
    return {
      sessionTimeoutMs: o.sessionTimeoutMs,
      heartbeatIntervalMs: o.heartbeatIntervalMs,
      rebalanceTimeoutMs: o.rebalanceTimeoutMs,
      maxWaitTimeMs: o.maxWaitTimeMs,
    };
  }

  /** Native access (`carrier.as(native.connection)` with this package's `native`): the producer. */
  native(token: NativeToken<unknown>): NativeAnswer | undefined {
    if (token !== native.connection) return undefined;
    const producer = this.#producer;
    return native.connection.wrap({ producer: () => producer.native() });
  }

  async #start(receiver: Receiver, groupId: string): Promise<TransportSubscription> {
    try {
      await receiver.start();
    } catch (cause) {
      if (this.#closed) throw closedError(cause);
      throw (
        refusal(cause, { kind: 'group join', group: groupId }, this.#options) ??
        kafkaError('CONNECTION', 'cannot join the consumer group', cause)
      );
    }
    if (this.#closed) {
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
    await Promise.allSettled([
      ...[...this.#receivers].map((r) => r.close()),
      ...[...this.#inboxes].map((i) => i.close()),
    ]);
    this.#receivers.clear();
    this.#inboxes.clear();
    await Promise.allSettled([this.#producer.close(), this.#topology.close(), this.#kafkajs.close()]);
  }

  async abort(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await Promise.allSettled([
      ...[...this.#receivers].map((r) => r.abort()),
      ...[...this.#inboxes].map((i) => i.abort()),
    ]);
    this.#receivers.clear();
    this.#inboxes.clear();
    await Promise.allSettled([this.#producer.close(), this.#topology.close(), this.#kafkajs.abort()]);
  }
}
