import type { CarrierError, StartFrom } from '@carrier/core';
import { describeError, OncePerKey, retrying as retryingWith } from '@carrier/core/kit';
import type { Admin, ConsumerConfig, Kafka } from 'kafkajs';
import { kafkaError, kafkajsBrokerErrors, retriable, retrying } from './errors.js';
import { consumerGroupId, deadLetterTopic, delayTopic, retryTopic } from './names.js';
import { DELAY_LEVELS } from './publish-delay.js';
import { kafkajsRefusal, type Refused } from './refusals.js';
import type { KafkaUrlOptions } from './url.js';

/** Longest retry delay: retry topics keep records for twice as long. */
export const KAFKA_MAX_DELAY_MS = 7 * 24 * 60 * 60 * 1000;
/** Retention of retry and delay topics, in ms: twice the longest delay. */
export const RETRY_RETENTION_MS = 2 * KAFKA_MAX_DELAY_MS;
/** Longest a topic creation waits for a leader of every partition, in ms. */
const CREATE_TIMEOUT_MS = 30_000;

/** Topic-level settings (`name` = a Kafka topic config, e.g. `retention.ms`). */
export type ConfigEntries = { name: string; value: string }[];

/** The settings of a group's retry topic (retention twice the longest delay). */
export const RETRY_TOPIC_CONFIG: ConfigEntries = [
  { name: 'retention.ms', value: String(RETRY_RETENTION_MS) },
];
/** The settings of a group's dead-letter topic: kept until someone removes them. */
export const DEAD_LETTER_TOPIC_CONFIG: ConfigEntries = [{ name: 'retention.ms', value: '-1' }];

/**
 * The settings of every topic Carrier creates (a topic, its retry, dead-letter and delay topics,
 * the reply topic): `entries` plus, when the URL sets `minInsyncReplicas`, `min.insync.replicas`.
 */
export function createdTopicConfig(entries: ConfigEntries, options: KafkaUrlOptions): ConfigEntries {
  return options.minInsyncReplicas === undefined
    ? entries
    : [...entries, { name: 'min.insync.replicas', value: String(options.minInsyncReplicas) }];
}

/** Whether Kafka refuses the topic name (trying again cannot help). */
export function refusedTopic(error: unknown): boolean {
  return /collides|invalid topic|InvalidTopic|INVALID_TOPIC/i.test(describeError(error));
}

/** Committed offsets with their metadata, per `topic\u0000partition`. */
export type CommittedOffsets = ReadonlyMap<string, { offset: number; metadata: string | null }>;

/** The topic was created but a partition has no leader yet (it is polled again). */
class NoLeaderYet extends Error {}

/** What the topology needs of the connection. */
export interface TopologySettings {
  readonly kafka: Kafka;
  readonly admin: Admin;
  readonly options: KafkaUrlOptions;
  readonly replicationFactor: number;
  /** Consumer settings for the brief member that fixes a new group's position. */
  readonly consumerConfig: Omit<ConsumerConfig, 'groupId'>;
}

/**
 * Kafka objects of one connection: topics (a topic, and per group its retry and dead-letter topics),
 * a new group's initial position, and committed offsets. Each topic and group position is set up
 * once per connection (a failed attempt is tried again by the next call).
 */
export class Topology {
  readonly #settings: TopologySettings;
  readonly #topics = new OncePerKey<boolean>();
  readonly #positioned = new OncePerKey<void>();
  /** Partition counts of delay topics known to exist. */
  readonly #delayPartitions = new Map<string, number>();

  constructor(settings: TopologySettings) {
    this.#settings = settings;
  }

  /**
   * Ensures `topic` and, for each group, its retry and dead-letter topics and its position. A new
   * group starts at the topic's low watermark (its oldest retained record) for `'earliest'`, else
   * at its end (see {@link Topology.positionGroup}). A group with a position keeps it whatever
   * `startFrom` says: Kafka records nothing of how a group was created (docs/brokers/kafka.md).
   */
  async declare(topic: string, groups: readonly string[], startFrom?: StartFrom): Promise<void> {
    // only a topic created by this very declaration starts its groups at its start: a topic an
    // earlier publish created holds messages no group existed for, which a new group must not get
    let ran = false;
    const created = await this.#topics.run(topic, () => {
      ran = true;
      return this.#provision(topic, []);
    });
    const createdNow = ran && created;
    await Promise.all(
      groups.map(async (group) => {
        await this.ensureGroupTopics(topic, group);
        await this.#positionGroup(topic, group, createdNow || startFrom === 'earliest');
      }),
    );
  }

  /**
   * Creates `topic` unless it exists; resolves true when this call created it.
   *
   * @throws CarrierError `TOPOLOGY_CONFLICT` when Kafka refuses the name or the topic is missing and
   *   provisioning is off; the code of `brokerRefusal` (refusals.ts) when Kafka refuses the topic's
   *   settings (`TOPOLOGY_CONFLICT`: replication factor, partitions, config, policy) or the
   *   credentials (`AUTH_FAILED`); `CONNECTION` when the cluster does not answer, `TIMEOUT` when a
   *   partition has no leader 30 s after creation.
   */
  ensureTopic(
    topic: string,
    configEntries: ConfigEntries = [],
    partitions = this.#settings.options.partitions,
  ): Promise<boolean> {
    return this.#topics.run(topic, () => this.#provision(topic, configEntries, partitions));
  }

  #provision(
    topic: string,
    configEntries: ConfigEntries,
    partitions = this.#settings.options.partitions,
  ): Promise<boolean> {
    return this.#settings.options.provisioning
      ? this.#createTopic(topic, configEntries, partitions)
      : this.#checkTopic(topic);
  }

  /**
   * The partition count of `topic`'s delay topic (`publish-delay.ts`). With `create`, the topic
   * and its delay topic are made first (one partition per level, retention twice the longest
   * delay); without, `undefined` when the delay topic does not exist (nothing is created).
   *
   * @throws CarrierError as {@link Topology.ensureTopic}.
   */
  async delayPartitions(topic: string, create: boolean): Promise<number | undefined> {
    const name = delayTopic(topic);
    const known = this.#delayPartitions.get(name);
    if (known !== undefined) return known;
    if (create) {
      await this.ensureTopic(topic);
      await this.ensureTopic(name, RETRY_TOPIC_CONFIG, DELAY_LEVELS);
    }
    let count: number;
    try {
      const look = () => this.#settings.admin.fetchTopicMetadata({ topics: [name] });
      // without `create` a missing topic is the expected answer, not something to wait out
      const { topics } = await (create ? retrying(look) : look());
      count = topics[0]?.partitions.length ?? 0;
    } catch (cause) {
      if (!create && (cause as { type?: string }).type === 'UNKNOWN_TOPIC_OR_PARTITION') return undefined;
      throw kafkaError('CONNECTION', `cannot read the metadata of topic ${name}`, cause);
    }
    if (count === 0) return undefined;
    this.#delayPartitions.set(name, count);
    return count;
  }

  /** The topic plus the group's retry and dead-letter topics; resolves whether the topic itself was created now. */
  async ensureGroupTopics(topic: string, group: string): Promise<boolean> {
    const [created] = await Promise.all([
      this.ensureTopic(topic),
      this.ensureTopic(retryTopic(topic, group), RETRY_TOPIC_CONFIG),
      this.ensureTopic(deadLetterTopic(topic, group), DEAD_LETTER_TOPIC_CONFIG),
    ]);
    return created;
  }

  /** Committed offsets and metadata of `groupId` for an assignment (read at each join). */
  async committedOffsets(
    groupId: string,
    assignment: Readonly<Record<string, readonly number[]>>,
  ): Promise<CommittedOffsets> {
    const result = new Map<string, { offset: number; metadata: string | null }>();
    const topics = Object.keys(assignment).filter((t) => (assignment[t]?.length ?? 0) > 0);
    if (topics.length === 0) return result;
    const fetched = await retrying(() => this.#settings.admin.fetchOffsets({ groupId, topics }), 10_000);
    for (const { topic, partitions } of fetched) {
      for (const p of partitions) {
        result.set(`${topic}\u0000${p.partition}`, { offset: Number(p.offset), metadata: p.metadata });
      }
    }
    return result;
  }

  /** provisioning=off: the topic must exist. */
  async #checkTopic(topic: string): Promise<boolean> {
    try {
      await this.#settings.admin.fetchTopicMetadata({ topics: [topic] });
      return false;
    } catch (cause) {
      if (kafkajsBrokerErrors(cause).some((e) => e.name === 'UNKNOWN_TOPIC_OR_PARTITION')) {
        throw kafkaError('TOPOLOGY_CONFLICT', `topic ${topic} does not exist and provisioning is off`, cause);
      }
      throw (
        this.#refusal(cause, { kind: 'lookup', topic }) ??
        kafkaError('CONNECTION', `cannot read the metadata of topic ${topic}`, cause)
      );
    }
  }

  /**
   * Creates the topic and polls (every 100 ms, within 30 s) until every partition has a leader,
   * trying again while kafkajs calls the failure retriable.
   */
  async #createTopic(topic: string, configEntries: ConfigEntries, partitions: number): Promise<boolean> {
    let created: boolean | undefined;
    const refused: Refused = {
      kind: 'topic creation',
      topic,
      partitions,
      replicationFactor: this.#settings.replicationFactor,
      config: createdTopicConfig(configEntries, this.#settings.options),
    };
    try {
      return await retryingWith(
        async () => {
          created ??= await this.#createOnce(topic, configEntries, partitions);
          if (!(await this.#hasLeaders(topic))) throw new NoLeaderYet();
          return created;
        },
        {
          retryable: (e) =>
            e instanceof NoLeaderYet || (!refusedTopic(e) && !this.#refusal(e, refused) && retriable(e)),
          timeoutMs: CREATE_TIMEOUT_MS,
          backoff: { initialMs: 100, maxMs: 100, jitter: 'none' },
        },
      );
    } catch (cause) {
      if (cause instanceof NoLeaderYet)
        throw kafkaError('TIMEOUT', `topic ${topic} has no leader after 30 s`);
      if (refusedTopic(cause)) throw kafkaError('TOPOLOGY_CONFLICT', `Kafka refuses topic ${topic}`, cause);
      throw this.#refusal(cause, refused) ?? kafkaError('CONNECTION', `cannot create topic ${topic}`, cause);
    }
  }

  /** The CarrierError when `cause` is a refusal Kafka will repeat (refusals.ts), else undefined. */
  #refusal(cause: unknown, refused: Refused): CarrierError | undefined {
    return kafkajsRefusal(cause, refused, this.#settings.options);
  }

  /**
   * Every topic Carrier creates (a topic, its retry, dead-letter and delay topics, the reply topic)
   * gets the replication factor and, when the URL sets `minInsyncReplicas`, that
   * `min.insync.replicas`. An existing topic is left as it is.
   */
  #createOnce(topic: string, configEntries: ConfigEntries, partitions: number): Promise<boolean> {
    const { admin, replicationFactor, options } = this.#settings;
    const entries = createdTopicConfig(configEntries, options);
    return admin.createTopics({
      waitForLeaders: false,
      topics: [{ topic, numPartitions: partitions, replicationFactor, configEntries: entries }],
    });
  }

  /**
   * Right after creation the broker may still answer "does not host this topic-partition"
   * (kafkajs#1563): the topic is usable once the metadata shows a leader for every partition.
   */
  async #hasLeaders(topic: string): Promise<boolean> {
    const { topics } = await this.#settings.admin.fetchTopicMetadata({ topics: [topic] });
    const partitions = topics[0]?.partitions ?? [];
    return partitions.length > 0 && partitions.every((p) => p.leader >= 0);
  }

  /**
   * Fixes a new group's position on `topic` by committing offsets for the partitions it has none
   * for: the low watermark of each partition when `fromStart` (a topic created by this declaration,
   * not by an earlier publish, or `startFrom: 'earliest'`), else the current end. From then on
   * every message published reaches the group, with or without running members. A group with
   * members already has a position (Kafka refuses the commit then, which is fine).
   */
  #positionGroup(topic: string, group: string, fromStart: boolean): Promise<void> {
    return this.#positioned.run(`${topic}\u0000${group}`, async () => {
      const refused: Refused = { kind: 'group join', group: consumerGroupId(topic, group) };
      try {
        await retryingWith(() => this.#fixPosition(topic, group, fromStart), {
          retryable: (e) => !this.#refusal(e, refused) && retriable(e),
          timeoutMs: 30_000,
        });
      } catch (cause) {
        throw (
          this.#refusal(cause, refused) ??
          kafkaError('CONNECTION', `cannot fix the position of group ${group} on ${topic}`, cause)
        );
      }
    });
  }

  async #fixPosition(topic: string, group: string, fromStart: boolean): Promise<void> {
    const { admin } = this.#settings;
    const groupId = consumerGroupId(topic, group);
    const missing = await this.#partitionsWithoutOffsets(groupId, topic);
    if (missing.size === 0) return;
    const { groups } = await admin.describeGroups([groupId]);
    const state = groups[0]?.state ?? 'Dead';
    if (state !== 'Empty' && state !== 'Dead' && state !== 'Unknown') return; // members run: it has a position
    const ends = await admin.fetchTopicOffsets(topic);
    const offsets = ends
      .filter((p) => missing.has(p.partition))
      .map((p) => ({ topic, partition: p.partition, offset: fromStart ? p.low : p.high }));
    await this.#commitAsMember(groupId, topic, offsets);
    if ((await this.#partitionsWithoutOffsets(groupId, topic)).size > 0) {
      throw Object.assign(new Error('the broker did not keep the initial offsets'), { retriable: true });
    }
  }

  async #partitionsWithoutOffsets(groupId: string, topic: string): Promise<Set<number>> {
    const { admin } = this.#settings;
    const [committed] = await admin.fetchOffsets({ groupId, topics: [topic] });
    const partitions = committed?.partitions ?? [];
    if (partitions.length === 0)
      return new Set((await admin.fetchTopicOffsets(topic)).map((p) => p.partition));
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
  ): Promise<void> {
    const { kafka, consumerConfig } = this.#settings;
    const consumer = kafka.consumer({ ...consumerConfig, groupId, maxWaitTimeInMs: 100 });
    // a refused join ends run() with a crash (and no consumer group): its error is the reason, not
    // pause()'s "Consumer group was not initialized"
    let crash: Error | undefined;
    consumer.on(consumer.events.CRASH, (event) => {
      crash ??= event.payload.error;
    });
    try {
      await consumer.connect();
      await consumer.subscribe({ topics: [topic], fromBeginning: false });
      await consumer.run({ autoCommit: false, eachBatchAutoResolve: false, eachBatch: async () => {} });
      if (crash) throw crash;
      consumer.pause([{ topic }]);
      await consumer.commitOffsets(offsets);
    } finally {
      await consumer.disconnect().catch(() => {});
    }
  }
}
