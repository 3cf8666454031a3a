import {
  type Capabilities,
  CarrierError,
  type DeadLetterDelivery,
  type DeadLetterInfo,
  type Delivery,
  type PublishFailure,
  type Transport,
  type TransportFactoryOptions,
  type TransportSubscribeOptions,
  type TransportSubscription,
  type WireMessage,
} from '@carrier/core';
import kafkajs, {
  type Admin,
  type ConsumerConfig,
  type ICustomPartitioner,
  type Kafka,
  type KafkaConfig,
  type KafkaMessage,
  type logLevel,
  type Message,
  type Producer,
  type SASLOptions,
} from 'kafkajs';

// kafkajs is CommonJS: Node's ESM loader only sees its default export
const { ConfigResourceTypes, Kafka: KafkaClient, logLevel: LogLevel, Partitioners } = kafkajs;

import { type CommittedOffsets, GroupReader, type RecordHandle } from './group-reader.js';
import { consumerGroupId, deadLetterGroupId, deadLetterTopic, retryTopic } from './names.js';
import { SocketRegistry } from './sockets.js';
import type { KafkaUrlOptions } from './url.js';
import {
  deadLetterHeaders,
  dueAtOf,
  fromRecord,
  RECORD_OVERHEAD_BYTES,
  retryHeaders,
  toRecord,
} from './wire.js';

const NAME = 'kafka';
/** Longest retry delay: retry topics keep records for twice as long. */
export const KAFKA_MAX_DELAY_MS = 7 * 24 * 60 * 60 * 1000;
const RETRY_RETENTION_MS = 2 * KAFKA_MAX_DELAY_MS;
/** Kafka's default `message.max.bytes` (1 MiB + 12 bytes), used when the broker does not say. */
const DEFAULT_MESSAGE_MAX_BYTES = 1_048_588;
const JOIN_TIMEOUT_MS = 60_000;

const LOG_LEVELS: Record<KafkaUrlOptions['logLevel'], logLevel> = {
  nothing: LogLevel.NOTHING,
  error: LogLevel.ERROR,
  warn: LogLevel.WARN,
  info: LogLevel.INFO,
  debug: LogLevel.DEBUG,
};

function describe(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

function kafkaError(code: CarrierError['code'], message: string, cause?: unknown): CarrierError {
  return new CarrierError(code, cause === undefined ? message : `${message}: ${describe(cause)}`, {
    transport: NAME,
    cause,
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
function retriable(error: unknown): boolean {
  const e = error as { retriable?: boolean; name?: string; cause?: unknown } | undefined;
  if (!e) return false;
  if (e.retriable === true || e.name === 'KafkaJSNumberOfRetriesExceeded' || metadataRace(e)) return true;
  if (e.name === 'KafkaJSTopicMetadataNotLoaded' || e.name === 'KafkaJSMetadataNotLoaded') return true;
  return e.cause !== undefined && e.cause !== e && retriable(e.cause);
}

/**
 * Runs `attempt` until it succeeds, trying again while kafkajs calls the error retriable (a
 * coordinator still loading after a broker restart, a leader election) until `timeoutMs` passed.
 */
async function retrying<T>(attempt: () => Promise<T>, timeoutMs = 30_000): Promise<T> {
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

/** Size of a record as Kafka counts it, roughly: value, key and header keys and values. */
function recordSize(record: Message): number {
  let size = 70; // record framing (varints, attributes, timestamps) — generous
  if (record.value) size += Buffer.byteLength(record.value);
  if (record.key) size += Buffer.byteLength(record.key);
  for (const [k, v] of Object.entries(record.headers ?? {})) {
    size += Buffer.byteLength(k) + 8;
    if (typeof v === 'string' || Buffer.isBuffer(v)) size += Buffer.byteLength(v);
  }
  return size;
}

/**
 * The default partitioner (murmur2 of the key as the Java client; round-robin without a key), but a
 * record keeps the partition chosen for it on its first attempt when kafkajs retries the send.
 *
 * kafkajs' idempotent producer rolls a partition's sequence number back when a produce request
 * fails, also when the broker stored the batch and only the answer was lost (a connection reset),
 * and its retry re-partitions the records: a keyless record then moved to another partition, and
 * the next record sent to the first one reused the rolled-back sequence number, which the broker
 * takes for a duplicate of the stored batch — it answers success and drops the record. With the
 * partition pinned the retry is the same batch on the same partition, which the broker
 * de-duplicates correctly.
 */
export const pinnedPartitioner: ICustomPartitioner = () => {
  const inner = Partitioners.DefaultPartitioner();
  const chosen = new WeakMap<Message, number>();
  return (args) => {
    let partition = chosen.get(args.message);
    if (partition === undefined || !args.partitionMetadata.some((p) => p.partitionId === partition)) {
      partition = inner(args);
      chosen.set(args.message, partition);
    }
    return partition;
  };
};

interface Reader {
  stop(): Promise<void>;
  close(): Promise<void>;
  abort(): Promise<void>;
}

/**
 * Carrier over Apache Kafka with kafkajs. A Carrier topic is a Kafka topic of the same name; a
 * group is the consumer group `<topic>..<group>`, which reads the topic and its retry topic
 * `<topic>..<group>.retry`; dead letters go to `<topic>..<group>.dlq`. Publishing uses one
 * idempotent producer with acks=all; the record key is the message key (murmur2 partitioning,
 * as the Java client), so per-key order holds within a group. Offsets are committed only for
 * settled records, per partition up to the first unsettled one. See docs/brokers/kafka.md.
 */
export class KafkaTransport implements Transport {
  readonly name = NAME;
  readonly capabilities: Capabilities;
  /** The kafkajs client, for native access (admin, extra producers or consumers). */
  readonly kafka: Kafka;
  readonly #options: KafkaUrlOptions;
  readonly #onError: (error: Error) => void;
  readonly #admin: Admin;
  readonly #replicationFactor: number;
  readonly #consumerConfig: Omit<ConsumerConfig, 'groupId'>;
  #producer: Promise<Producer> | undefined;
  /** The send in progress (sends run one at a time, see {@link KafkaTransport.#send}). */
  #sending: Promise<unknown> = Promise.resolve();
  readonly #topics = new Map<string, Promise<boolean>>();
  readonly #positioned = new Map<string, Promise<void>>();
  readonly #readers = new Set<Reader>();
  readonly #sockets: SocketRegistry | undefined;
  #closed = false;

  /** @internal Use {@link createKafkaTransport}. */
  constructor(
    kafka: Kafka,
    admin: Admin,
    options: KafkaUrlOptions,
    settings: { messageMaxBytes: number; replicationFactor: number; sockets?: SocketRegistry },
    onError: (error: Error) => void,
  ) {
    this.kafka = kafka;
    this.#sockets = settings.sockets;
    admin.on(admin.events.REQUEST_TIMEOUT, (e) => this.#requestTimedOut(e.payload.broker));
    this.#admin = admin;
    this.#options = options;
    this.#onError = onError;
    this.#replicationFactor = settings.replicationFactor;
    this.#consumerConfig = {
      sessionTimeout: options.sessionTimeoutMs,
      heartbeatInterval: options.heartbeatIntervalMs,
      rebalanceTimeout: options.rebalanceTimeoutMs,
      maxWaitTimeInMs: options.maxWaitTimeMs,
      allowAutoTopicCreation: false,
      retry: { initialRetryTime: 200, retries: 10, maxRetryTime: 5_000 },
    };
    this.capabilities = {
      fanOut: true,
      competingConsumers: true,
      perKeyOrder: true,
      nativeDelay: false,
      maxDelayMs: KAFKA_MAX_DELAY_MS,
      maxMessageBytes: settings.messageMaxBytes - RECORD_OVERHEAD_BYTES,
      redrive: true,
    };
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
    if (this.#closed) throw new CarrierError('CLOSED', 'kafka connection is closed', { transport: NAME });
  }

  // ---- topology -------------------------------------------------------------------------------

  /** Creates `topic` unless it exists; resolves true when this call created it. Memoized per connection. */
  #ensureTopic(topic: string, configEntries: { name: string; value: string }[] = []): Promise<boolean> {
    let pending = this.#topics.get(topic);
    if (!pending) {
      pending = this.#createTopic(topic, configEntries);
      this.#topics.set(topic, pending);
      pending.catch(() => this.#topics.delete(topic));
    }
    return pending;
  }

  async #createTopic(topic: string, configEntries: { name: string; value: string }[]): Promise<boolean> {
    if (!this.#options.provisioning) {
      try {
        await this.#admin.fetchTopicMetadata({ topics: [topic] });
        return false;
      } catch (cause) {
        if ((cause as { type?: string }).type === 'UNKNOWN_TOPIC_OR_PARTITION') {
          throw kafkaError(
            'TOPOLOGY_CONFLICT',
            `topic ${topic} does not exist and provisioning is off`,
            cause,
          );
        }
        throw kafkaError('CONNECTION', `cannot read the metadata of topic ${topic}`, cause);
      }
    }
    const deadline = Date.now() + 30_000;
    let created: boolean | undefined;
    for (;;) {
      try {
        created ??= await this.#admin.createTopics({
          waitForLeaders: false,
          topics: [
            {
              topic,
              numPartitions: this.#options.partitions,
              replicationFactor: this.#replicationFactor,
              configEntries,
            },
          ],
        });
        // Right after creation the broker may still answer "does not host this topic-partition"
        // (kafkajs#1563): wait until the metadata shows a leader for every partition.
        const { topics } = await this.#admin.fetchTopicMetadata({ topics: [topic] });
        const partitions = topics[0]?.partitions ?? [];
        if (partitions.length > 0 && partitions.every((p) => p.leader >= 0)) return created;
      } catch (cause) {
        const text = describe(cause);
        if (/collides|invalid topic|InvalidTopic/i.test(text)) {
          throw kafkaError('TOPOLOGY_CONFLICT', `Kafka refuses topic ${topic}`, cause);
        }
        if (!retriable(cause) || Date.now() > deadline) {
          throw kafkaError('CONNECTION', `cannot create topic ${topic}`, cause);
        }
      }
      if (Date.now() > deadline) throw kafkaError('TIMEOUT', `topic ${topic} has no leader after 30 s`);
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }

  /** The topic plus the group's retry and dead-letter topics; resolves whether the topic itself was created now. */
  async #ensureGroupTopics(topic: string, group: string): Promise<boolean> {
    const [created] = await Promise.all([
      this.#ensureTopic(topic),
      this.#ensureTopic(retryTopic(topic, group), [
        { name: 'retention.ms', value: String(RETRY_RETENTION_MS) },
      ]),
      // dead letters are kept until someone removes them
      this.#ensureTopic(deadLetterTopic(topic, group), [{ name: 'retention.ms', value: '-1' }]),
    ]);
    return created;
  }

  /**
   * Fixes a new group's position on `topic` by committing offsets for the partitions it has none
   * for: the start of a topic created by this declaration, else the current end. From then on
   * every message published reaches the group, with or without running members. A group with
   * members already has a position (Kafka refuses the commit then, which is fine).
   */
  #positionGroup(topic: string, group: string, topicCreated: boolean): Promise<void> {
    const key = `${topic}\u0000${group}`;
    let pending = this.#positioned.get(key);
    if (!pending) {
      pending = this.#commitInitialOffsets(topic, group, topicCreated);
      this.#positioned.set(key, pending);
      pending.catch(() => this.#positioned.delete(key));
    }
    return pending;
  }

  async #commitInitialOffsets(topic: string, group: string, topicCreated: boolean): Promise<void> {
    try {
      await retrying(() => this.#fixPosition(topic, group, topicCreated));
    } catch (cause) {
      throw kafkaError('CONNECTION', `cannot fix the position of group ${group} on ${topic}`, cause);
    }
  }

  async #fixPosition(topic: string, group: string, topicCreated: boolean): Promise<void> {
    const groupId = consumerGroupId(topic, group);
    const missing = await this.#partitionsWithoutOffsets(groupId, topic);
    if (missing.size === 0) return;
    const { groups } = await this.#admin.describeGroups([groupId]);
    const state = groups[0]?.state ?? 'Dead';
    if (state !== 'Empty' && state !== 'Dead' && state !== 'Unknown') return; // members run: it has a position
    const ends = await this.#admin.fetchTopicOffsets(topic);
    const offsets = ends
      .filter((p) => missing.has(p.partition))
      .map((p) => ({ topic, partition: p.partition, offset: topicCreated ? p.low : p.high }));
    await this.#commitAsMember(groupId, topic, offsets);
    if ((await this.#partitionsWithoutOffsets(groupId, topic)).size > 0) {
      throw Object.assign(new Error('the broker did not keep the initial offsets'), { retriable: true });
    }
  }

  async #partitionsWithoutOffsets(groupId: string, topic: string): Promise<Set<number>> {
    const [committed] = await this.#admin.fetchOffsets({ groupId, topics: [topic] });
    const partitions = committed?.partitions ?? [];
    if (partitions.length === 0)
      return new Set((await this.#admin.fetchTopicOffsets(topic)).map((p) => p.partition));
    return new Set(partitions.filter((p) => Number(p.offset) < 0).map((p) => p.partition));
  }

  /**
   * Commits offsets for an empty group by joining it briefly with a consumer that fetches nothing
   * (kafkajs has no group-less offset commit; its admin.setOffsets waits for a whole fetch cycle).
   */
  async #commitAsMember(
    groupId: string,
    topic: string,
    offsets: { topic: string; partition: number; offset: string }[],
  ) {
    const consumer = this.kafka.consumer({ ...this.#consumerConfig, groupId, maxWaitTimeInMs: 100 });
    try {
      await consumer.connect();
      await consumer.subscribe({ topics: [topic], fromBeginning: false });
      await consumer.run({ autoCommit: false, eachBatchAutoResolve: false, eachBatch: async () => {} });
      consumer.pause([{ topic }]);
      await consumer.commitOffsets(offsets);
    } finally {
      await consumer.disconnect().catch(() => {});
    }
  }

  async declare(topic: string, groups: readonly string[]): Promise<void> {
    this.#ensureOpen();
    const created = await this.#ensureTopic(topic);
    await Promise.all(
      groups.map(async (group) => {
        await this.#ensureGroupTopics(topic, group);
        await this.#positionGroup(topic, group, created);
      }),
    );
  }

  // ---- publishing -----------------------------------------------------------------------------

  #getProducer(): Promise<Producer> {
    if (!this.#producer) {
      const producer = this.kafka.producer({
        idempotent: true,
        maxInFlightRequests: 1,
        allowAutoTopicCreation: false,
        createPartitioner: pinnedPartitioner,
        retry: { initialRetryTime: 200, retries: 8, maxRetryTime: 5_000 },
      });
      producer.on(producer.events.REQUEST_TIMEOUT, (e) => this.#requestTimedOut(e.payload.broker));
      const connecting = producer.connect().then(() => producer);
      this.#producer = connecting;
      connecting.catch(() => {
        if (this.#producer === connecting) this.#producer = undefined;
      });
    }
    return this.#producer;
  }

  /** After a failed send the idempotent producer's sequence state is unknown: start a fresh one. */
  #dropProducer(failed: Promise<Producer>): void {
    if (this.#producer !== failed) return;
    this.#producer = undefined;
    failed.then((p) => p.disconnect()).catch(() => {});
  }

  /**
   * Sends records to one topic with acks=all, in chunks that fit the broker's batch limit, in
   * order; stops at the first failed chunk. Resolves with the indexes that were not confirmed.
   *
   * Sends run one at a time, and a failed one retires its producer before the next send starts.
   * kafkajs rolls a partition's sequence number back when a produce request fails, without knowing
   * whether the broker stored the batch (a connection reset after the request went out), and
   * retries after a pause. A send started meanwhile on the same producer took the rolled-back
   * number; when the first batch had been stored, the broker answered the second as a duplicate of
   * it (success, offset of the first) and never stored it: a publish resolved and was lost. One
   * send at a time, with partitions pinned across retries ({@link pinnedPartitioner}), a rolled-back
   * number is only ever reused by the retry of the same batch; after a send failed (fate unknown,
   * PUBLISH_FAILED) its producer id is never used again.
   */
  #send(topic: string, records: readonly Message[]): Promise<{ failed: number[]; error?: unknown }> {
    const run = this.#sending.then(() => this.#sendNow(topic, records));
    this.#sending = run.catch(() => {});
    return run;
  }

  async #sendNow(topic: string, records: readonly Message[]): Promise<{ failed: number[]; error?: unknown }> {
    const limit = this.capabilities.maxMessageBytes + RECORD_OVERHEAD_BYTES / 2;
    const chunks: number[][] = [];
    let current: number[] = [];
    let size = 0;
    records.forEach((record, i) => {
      const s = recordSize(record);
      if (current.length > 0 && size + s > limit) {
        chunks.push(current);
        current = [];
        size = 0;
      }
      current.push(i);
      size += s;
    });
    if (current.length > 0) chunks.push(current);
    for (let c = 0; c < chunks.length; c++) {
      const chunk = chunks[c]!;
      if (this.#closed) {
        // queued behind a send that was still running at close(): no new producer after close
        const error = new CarrierError('CLOSED', 'kafka connection is closed', { transport: NAME });
        return { failed: chunks.slice(c).flat(), error };
      }
      const producer = this.#getProducer();
      try {
        // fresh objects: the pinned partition of a record belongs to this send only
        await (await producer).send({ topic, acks: -1, messages: chunk.map((i) => ({ ...records[i]! })) });
      } catch (error) {
        this.#dropProducer(producer);
        return { failed: chunks.slice(c).flat(), error };
      }
    }
    return { failed: [] };
  }

  async publish(topic: string, messages: readonly WireMessage[]): Promise<void> {
    this.#ensureOpen();
    await this.#ensureTopic(topic);
    const { failed, error } = await this.#send(
      topic,
      messages.map((m) => toRecord(m)),
    );
    if (failed.length > 0) {
      const cause = error instanceof Error ? error : new Error(String(error));
      const failures: PublishFailure[] = failed.map((index) => ({
        index,
        id: messages[index]!.id,
        error: cause,
      }));
      throw new CarrierError(
        'PUBLISH_FAILED',
        `kafka did not confirm ${failed.length} of ${messages.length} messages on ${topic}: ${cause.message}`,
        { transport: NAME, cause, failures },
      );
    }
  }

  /** Writes one copy to a Carrier-owned topic (retry, dead letters); rejects unless confirmed. */
  async #copy(topic: string, record: Message): Promise<void> {
    const { failed, error } = await this.#send(topic, [record]);
    if (failed.length > 0)
      throw kafkaError('SETTLE_FAILED', `kafka did not confirm the copy to ${topic}`, error);
  }

  // ---- consuming ------------------------------------------------------------------------------

  #track(reader: Reader): TransportSubscription {
    this.#readers.add(reader);
    return {
      stop: () => reader.stop(),
      close: async () => {
        try {
          await reader.close();
        } finally {
          this.#readers.delete(reader);
        }
      },
    };
  }

  async #startReader(reader: GroupReader): Promise<void> {
    try {
      await reader.start();
    } catch (cause) {
      if (this.#closed)
        throw new CarrierError('CLOSED', 'kafka connection is closed', { transport: NAME, cause });
      throw kafkaError('CONNECTION', 'cannot join the consumer group', cause);
    }
    if (this.#closed) {
      // closed while joining: do not leave a consumer behind
      await reader.abort();
      throw new CarrierError('CLOSED', 'kafka connection is closed', { transport: NAME });
    }
  }

  /**
   * Settles through `settle`. If that fails, the record is read again from Kafka and handed out
   * again (its delivery counted) and the error rethrown; it holds no other record's commit back.
   */
  async #settle(handle: RecordHandle, settle: () => Promise<void>): Promise<void> {
    try {
      await settle();
    } catch (error) {
      handle.failed();
      throw error;
    }
    try {
      await handle.done();
    } catch (cause) {
      throw kafkaError(
        'SETTLE_FAILED',
        'committing the offset failed (the group rebalanced?); it will be redelivered',
        cause,
      );
    }
  }

  /** Committed offsets and metadata of `groupId` for an assignment (read at each join). */
  async #readCommitted(
    groupId: string,
    assignment: Readonly<Record<string, readonly number[]>>,
  ): Promise<CommittedOffsets> {
    const result = new Map<string, { offset: number; metadata: string | null }>();
    const topics = Object.keys(assignment).filter((t) => (assignment[t]?.length ?? 0) > 0);
    if (topics.length === 0) return result;
    const fetched = await retrying(() => this.#admin.fetchOffsets({ groupId, topics }), 10_000);
    for (const { topic, partitions } of fetched) {
      for (const p of partitions) {
        result.set(`${topic}\u0000${p.partition}`, { offset: Number(p.offset), metadata: p.metadata });
      }
    }
    return result;
  }

  #delivery(
    topic: string,
    group: string,
    source: string,
    partition: number,
    record: KafkaMessage,
    handle: RecordHandle,
  ): Delivery {
    const decoded = fromRecord(source, partition, record);
    const { message } = decoded;
    // the copy's own attempt (retry copies carry it) plus its deliveries that were never settled
    const attempt = decoded.attempt + handle.previousDeliveries;
    return {
      message,
      attempt,
      lease: handle.lease,
      ack: () => this.#settle(handle, async () => {}),
      retry: (delayMs) =>
        this.#settle(handle, () =>
          this.#copy(
            retryTopic(topic, group),
            toRecord(message, retryHeaders(attempt + 1, new Date(Date.now() + delayMs))),
          ),
        ),
      deadLetter: (info: DeadLetterInfo) =>
        this.#settle(handle, () =>
          this.#copy(deadLetterTopic(topic, group), toRecord(message, deadLetterHeaders(info))),
        ),
      release: () => this.#release(handle),
    };
  }

  async #release(handle: RecordHandle): Promise<void> {
    try {
      await handle.release();
    } catch (cause) {
      throw kafkaError('SETTLE_FAILED', 'committing a release failed; the record will be redelivered', cause);
    }
  }

  async subscribe(
    topic: string,
    group: string,
    options: TransportSubscribeOptions,
    sink: (delivery: Delivery) => void,
  ): Promise<TransportSubscription> {
    this.#ensureOpen();
    await this.declare(topic, [group]);
    const retry = retryTopic(topic, group);
    const reader = new GroupReader(this.kafka, {
      groupId: consumerGroupId(topic, group),
      topics: [
        // Carrier fixes every partition's position before the first join (declare); the reset policy
        // only applies to partitions added to the topic later: read those from their start
        { topic, fromBeginning: true },
        { topic: retry, fromBeginning: true },
      ],
      prefetch: options.prefetch,
      consumer: this.#consumerConfig,
      joinTimeoutMs: JOIN_TIMEOUT_MS,
      rebalanceTimeoutMs: this.#options.rebalanceTimeoutMs,
      countDeliveries: true,
      readCommitted: (assignment) => this.#readCommitted(consumerGroupId(topic, group), assignment),
      onRequestTimeout: (broker) => this.#requestTimedOut(broker),
      notBefore: (source, record) => (source === retry ? dueAtOf(record) : undefined),
      deliver: (source, partition, record, handle) =>
        sink(this.#delivery(topic, group, source, partition, record, handle)),
      onError: (cause) =>
        this.#onError(
          cause instanceof CarrierError
            ? cause
            : kafkaError('CONNECTION', `consumer of ${topic}/${group} failed`, cause),
        ),
    });
    await this.#startReader(reader);
    return this.#track(reader);
  }

  async subscribeDeadLetters(
    topic: string,
    group: string,
    options: Pick<TransportSubscribeOptions, 'prefetch'>,
    sink: (delivery: DeadLetterDelivery) => void,
  ): Promise<TransportSubscription> {
    this.#ensureOpen();
    await this.#ensureGroupTopics(topic, group);
    const dlq = deadLetterTopic(topic, group);
    const reader = new GroupReader(this.kafka, {
      groupId: deadLetterGroupId(topic, group),
      topics: [{ topic: dlq, fromBeginning: true }],
      prefetch: options.prefetch,
      consumer: this.#consumerConfig,
      joinTimeoutMs: JOIN_TIMEOUT_MS,
      rebalanceTimeoutMs: this.#options.rebalanceTimeoutMs,
      countDeliveries: false,
      readCommitted: (assignment) => this.#readCommitted(deadLetterGroupId(topic, group), assignment),
      onRequestTimeout: (broker) => this.#requestTimedOut(broker),
      deliver: (source, partition, record, handle) => {
        const { message, attempt, deadLetter } = fromRecord(source, partition, record);
        sink({
          message,
          info: deadLetter ?? { reason: 'unknown', attempts: attempt, failedAt: message.publishedAt },
          ack: async () => {
            try {
              await handle.done();
            } catch (cause) {
              throw kafkaError('SETTLE_FAILED', 'committing the dead-letter offset failed', cause);
            }
          },
          release: () => this.#release(handle),
        });
      },
      onError: (cause) =>
        this.#onError(
          cause instanceof CarrierError
            ? cause
            : kafkaError('CONNECTION', `dead-letter consumer of ${topic}/${group} failed`, cause),
        ),
    });
    await this.#startReader(reader);
    return this.#track(reader);
  }

  async redrive(topic: string, group: string, max: number): Promise<number> {
    this.#ensureOpen();
    await this.#ensureGroupTopics(topic, group);
    if (max <= 0) return 0;
    const dlq = deadLetterTopic(topic, group);
    const groupId = deadLetterGroupId(topic, group);
    const [ends, committed] = await retrying(() =>
      Promise.all([this.#admin.fetchTopicOffsets(dlq), this.#admin.fetchOffsets({ groupId, topics: [dlq] })]),
    ).catch((cause: unknown) => {
      throw kafkaError('CONNECTION', `cannot read the dead-letter positions of ${topic}/${group}`, cause);
    });
    const done = new Map((committed[0]?.partitions ?? []).map((p) => [p.partition, Number(p.offset)]));
    const todo = new Map<number, { next: number; high: number }>();
    for (const p of ends) {
      const position = done.get(p.partition) ?? -1;
      const next = position >= 0 ? position : Number(p.low);
      if (next < Number(p.high)) todo.set(p.partition, { next, high: Number(p.high) });
    }
    if (todo.size === 0) return 0;
    return this.#redriveFrom(topic, group, groupId, dlq, todo, max);
  }

  async #redriveFrom(
    topic: string,
    group: string,
    groupId: string,
    dlq: string,
    todo: Map<number, { next: number; high: number }>,
    max: number,
  ): Promise<number> {
    const taken: { partition: number; offset: number; message: WireMessage }[] = [];
    const consumer = this.kafka.consumer({ ...this.#consumerConfig, groupId });
    let assigned: number[] = [];
    let finish!: () => void;
    const finished = new Promise<void>((resolve) => {
      finish = resolve;
    });
    const complete = () =>
      taken.length >= max ||
      assigned.every((p) => (todo.get(p)?.next ?? Number.POSITIVE_INFINITY) >= (todo.get(p)?.high ?? 0));
    consumer.on(consumer.events.GROUP_JOIN, (event) => {
      assigned = (event.payload.memberAssignment[dlq] ?? []).filter((p) => todo.has(p));
      if (complete()) finish();
    });
    const deadline = setTimeout(finish, JOIN_TIMEOUT_MS);
    try {
      await consumer.connect();
      await consumer.subscribe({ topics: [dlq], fromBeginning: true });
      await consumer.run({
        autoCommit: false,
        eachBatchAutoResolve: false,
        eachBatch: async ({ batch, resolveOffset }) => {
          const range = todo.get(batch.partition);
          if (!range) return;
          for (const record of batch.messages) {
            const offset = Number(record.offset);
            if (taken.length >= max || offset >= range.high) break;
            if (offset < range.next) continue;
            taken.push({
              partition: batch.partition,
              offset,
              message: fromRecord(dlq, batch.partition, record).message,
            });
            range.next = offset + 1;
            resolveOffset(record.offset);
          }
          if (complete()) {
            consumer.pause([{ topic: dlq }]);
            finish();
          }
        },
      });
      await finished;
      if (taken.length === 0) return 0;
      taken.sort((a, b) => a.message.publishedAt.getTime() - b.message.publishedAt.getTime());
      const now = new Date();
      const { failed, error } = await this.#send(
        retryTopic(topic, group),
        taken.map((t) => toRecord(t.message, retryHeaders(1, now))),
      );
      if (failed.length > 0)
        throw kafkaError('PUBLISH_FAILED', `redrive of ${topic}/${group}: copies not confirmed`, error);
      const positions = new Map<number, number>();
      for (const t of taken)
        positions.set(t.partition, Math.max(positions.get(t.partition) ?? 0, t.offset + 1));
      await consumer.commitOffsets(
        [...positions].map(([partition, offset]) => ({ topic: dlq, partition, offset: String(offset) })),
      );
      return taken.length;
    } catch (cause) {
      if (cause instanceof CarrierError) throw cause;
      throw kafkaError('CONNECTION', `redrive of ${topic}/${group} failed`, cause);
    } finally {
      clearTimeout(deadline);
      await consumer.disconnect().catch(() => {});
    }
  }

  // ---- lifecycle ------------------------------------------------------------------------------

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await Promise.allSettled([...this.#readers].map((r) => r.close()));
    this.#readers.clear();
    await this.#disconnect();
  }

  async abort(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await Promise.allSettled([...this.#readers].map((r) => r.abort()));
    this.#readers.clear();
    await this.#disconnect();
  }

  async #disconnect(): Promise<void> {
    const producer = this.#producer;
    this.#producer = undefined;
    await Promise.allSettled([producer?.then((p) => p.disconnect()), this.#admin.disconnect()]);
  }
}

/** The kafkajs client settings of a parsed URL. */
export function kafkaConfig(options: KafkaUrlOptions, sockets?: SocketRegistry): KafkaConfig {
  return {
    ...(sockets ? { socketFactory: sockets.factory } : {}),
    clientId: options.clientId,
    brokers: [...options.brokers],
    ssl: options.tls ? { rejectUnauthorized: options.tlsRejectUnauthorized } : false,
    ...(options.sasl ? { sasl: { ...options.sasl } as SASLOptions } : {}),
    connectionTimeout: options.connectionTimeoutMs,
    requestTimeout: options.requestTimeoutMs,
    enforceRequestTimeout: true,
    logLevel: LOG_LEVELS[options.logLevel],
    retry: { initialRetryTime: 200, retries: 5, maxRetryTime: 5_000 },
  };
}

/**
 * Connects (admin client), reads the cluster size and the broker's `message.max.bytes`, and returns
 * the transport. Throws `CarrierError` `CONNECTION` when the cluster does not answer.
 */
export async function createKafkaTransport(
  options: KafkaUrlOptions,
  factory: TransportFactoryOptions,
): Promise<KafkaTransport> {
  const connectTimeoutMs = factory.connectTimeoutMs ?? 10_000;
  const deadline = Date.now() + connectTimeoutMs;
  const sockets = new SocketRegistry();
  const kafka = new KafkaClient(
    kafkaConfig(
      { ...options, connectionTimeoutMs: Math.min(options.connectionTimeoutMs, connectTimeoutMs) },
      sockets,
    ),
  );
  const admin = kafka.admin();
  const left = () => Math.max(0, deadline - Date.now());
  const setup = (async () => {
    await admin.connect();
    const cluster = await retrying(() => admin.describeCluster(), left());
    let messageMaxBytes = DEFAULT_MESSAGE_MAX_BYTES;
    const broker = cluster.brokers[0];
    if (broker) {
      const described = await retrying(
        () =>
          admin.describeConfigs({
            includeSynonyms: false,
            resources: [
              {
                type: ConfigResourceTypes.BROKER,
                name: String(broker.nodeId),
                configNames: ['message.max.bytes'],
              },
            ],
          }),
        left(),
      );
      const value = described.resources[0]?.configEntries.find(
        (e) => e.configName === 'message.max.bytes',
      )?.configValue;
      if (value && Number.isInteger(Number(value))) messageMaxBytes = Number(value);
    }
    const replicationFactor = options.replicationFactor ?? Math.max(1, Math.min(3, cluster.brokers.length));
    return { messageMaxBytes, replicationFactor };
  })();
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<'timeout'>((resolve) => {
    timer = setTimeout(() => resolve('timeout'), connectTimeoutMs);
  });
  try {
    const settings = await Promise.race([setup, timeout]);
    if (settings === 'timeout') {
      // no socket may outlive the deadline (kafkajs' disconnect would wait for the silent requests,
      // and its retries may still open new ones)
      sockets.refuse(new Error('connect deadline passed'));
      void setup.then(
        () => admin.disconnect(),
        () => admin.disconnect(),
      );
      await admin.disconnect().catch(() => {});
      throw kafkaError(
        'TIMEOUT',
        `no answer from kafka at ${options.brokers.join(',')} within connectTimeoutMs (${connectTimeoutMs} ms)`,
      );
    }
    return new KafkaTransport(kafka, admin, options, { ...settings, sockets }, factory.onError);
  } catch (cause) {
    await admin.disconnect().catch(() => {});
    if (cause instanceof CarrierError) throw cause;
    throw kafkaError('CONNECTION', `cannot connect to kafka at ${options.brokers.join(',')}`, cause);
  } finally {
    clearTimeout(timer);
  }
}
