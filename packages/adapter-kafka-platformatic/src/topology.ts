import {
  behind,
  type ConfigEntries,
  consumerGroupId,
  createdTopicConfig,
  DEAD_LETTER_TOPIC_CONFIG,
  DEFAULT_MESSAGE_MAX_BYTES,
  deadLetterTopic,
  type KafkaUrlOptions,
  kafkaError,
  type PartitionEnds,
  RETRY_TOPIC_CONFIG,
  type Refused,
  refusedTopic,
  replicationFactorOf,
  retryTopic,
} from '@carrier/adapter-kafka/driver-kit';
import { CarrierError, type ConsumerLag, type StartFrom } from '@carrier/core';
import { DeadlineError, OncePerKey, retrying as retryingWith, withDeadline } from '@carrier/core/kit';
import { type Admin, ConfigResourceTypes, GenericError } from '@platformatic/kafka';
import { hasBrokerError, refusal } from './errors.js';

/** Longest a topic creation waits for a leader of every partition, in ms (as the kafkajs driver). */
const CREATE_TIMEOUT_MS = 30_000;
/** Longest an administrative call is tried again while the broker calls its failure retriable, in ms. */
const RETRY_TIMEOUT_MS = 30_000;

/** The topic was created but a partition has no leader yet (it is polled again). */
class NoLeaderYet extends Error {}

/** Whether `error` (or, for an aggregate, one of its errors) is a @platformatic/kafka error with `property` = `value`. */
function carries(error: unknown, property: string, value: unknown): boolean {
  if (!(error instanceof Error) || !GenericError.isGenericError(error)) return false;
  const found: unknown = (error as { findBy(p: string, v: unknown): unknown }).findBy(property, value);
  return found !== null && found !== undefined;
}

/** Whether @platformatic/kafka calls the failure temporary (a leader election, a coordinator loading). */
function retriable(error: unknown): boolean {
  return (
    carries(error, 'canRetry', true) ||
    carries(error, 'hasStaleMetadata', true) ||
    (error as { canRetry?: unknown } | undefined)?.canRetry === true
  );
}

/** Runs `call` again while its failure is {@link retriable}, within `timeoutMs`. */
function retrying<T>(call: () => Promise<T>, timeoutMs = RETRY_TIMEOUT_MS): Promise<T> {
  return retryingWith(call, { retryable: retriable, timeoutMs });
}

/** What the cluster says at connect: the replication factor of created topics and `message.max.bytes`. */
export interface ClusterFacts {
  readonly replicationFactor: number;
  readonly messageMaxBytes: number;
}

/**
 * Reads the cluster size and broker `message.max.bytes` (Kafka's default 1 048 588 when the broker
 * does not say), as the kafkajs driver's connect does, through `admin`.
 *
 * @throws CarrierError `INVALID_ARGUMENT` when the URL's `minInsyncReplicas` exceeds the
 *   replication factor; the client's error when the cluster does not answer within `timeoutMs`.
 */
export async function readCluster(
  admin: Admin,
  options: KafkaUrlOptions,
  timeoutMs: number,
): Promise<ClusterFacts> {
  const metadata = await retrying(() => admin.metadata({ topics: [] }), timeoutMs);
  let messageMaxBytes = DEFAULT_MESSAGE_MAX_BYTES;
  const [broker] = metadata.brokers.keys();
  if (broker !== undefined) {
    const described = await retrying(
      () =>
        admin.describeConfigs({
          includeSynonyms: false,
          resources: [
            {
              resourceType: ConfigResourceTypes.BROKER,
              resourceName: String(broker),
              configurationKeys: ['message.max.bytes'],
            },
          ],
        }),
      timeoutMs,
    );
    const value = described[0]?.configs.find((c) => c.name === 'message.max.bytes')?.value;
    if (value && Number.isInteger(Number(value))) messageMaxBytes = Number(value);
  }
  return { messageMaxBytes, replicationFactor: replicationFactorOf(options, metadata.brokers.size) };
}

/**
 * The Kafka objects of one `client=platformatic` connection, on @platformatic/kafka's `Admin`: the
 * same topics, settings and group positions as the kafkajs driver's `Topology` (adapter-kafka's
 * topology.ts: a topic, per group its retry and dead-letter topics, `retention.ms`, the replication
 * factor, `min.insync.replicas`), and a group's lag. Each topic and group position is set up once
 * per connection (a failed attempt is tried again by the next call).
 */
export class AdminTopology {
  readonly #admin: Admin;
  readonly #options: KafkaUrlOptions;
  readonly #replicationFactor: number;
  readonly #topics = new OncePerKey<boolean>();
  readonly #positioned = new OncePerKey<void>();

  constructor(admin: Admin, options: KafkaUrlOptions, replicationFactor: number) {
    this.#admin = admin;
    this.#options = options;
    this.#replicationFactor = replicationFactor;
  }

  /**
   * Ensures `topic` and, for each group, its retry and dead-letter topics and its position, as the
   * kafkajs driver's `Topology.declare`: a new group starts at the low watermark when this call
   * created the topic or `startFrom` is `'earliest'`, else at the end; a group with a position keeps it.
   *
   * @throws CarrierError `TOPOLOGY_CONFLICT` when Kafka refuses a name or a topic is missing and
   *   provisioning is off; the code of `brokerRefusal` (adapter-kafka's refusals.ts) when Kafka
   *   refuses a topic's settings or the credentials; `CONNECTION` when the cluster does not answer,
   *   `TIMEOUT` when a new topic's partition has no leader after 30 s.
   */
  async declare(topic: string, groups: readonly string[], startFrom?: StartFrom): Promise<void> {
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

  /** The topic plus the group's retry and dead-letter topics (no group position). */
  async ensureGroupTopics(topic: string, group: string): Promise<void> {
    await Promise.all([
      this.ensureTopic(topic),
      this.ensureTopic(retryTopic(topic, group), RETRY_TOPIC_CONFIG),
      this.ensureTopic(deadLetterTopic(topic, group), DEAD_LETTER_TOPIC_CONFIG),
    ]);
  }

  /** Creates `topic` unless it exists (once per connection); resolves true when this call created it. */
  ensureTopic(
    topic: string,
    entries: ConfigEntries = [],
    partitions = this.#options.partitions,
  ): Promise<boolean> {
    return this.#topics.run(topic, () => this.#provision(topic, entries, partitions));
  }

  #provision(topic: string, entries: ConfigEntries, partitions = this.#options.partitions): Promise<boolean> {
    return this.#options.provisioning
      ? this.#createTopic(topic, entries, partitions)
      : this.#checkTopic(topic);
  }

  /** provisioning=off: the topic must exist. */
  async #checkTopic(topic: string): Promise<boolean> {
    try {
      await this.#admin.metadata({ topics: [topic], autocreateTopics: false, forceUpdate: true });
      return false;
    } catch (cause) {
      if (hasBrokerError(cause, 'UNKNOWN_TOPIC_OR_PARTITION'))
        throw kafkaError('TOPOLOGY_CONFLICT', `topic ${topic} does not exist and provisioning is off`, cause);
      throw (
        refusal(cause, { kind: 'lookup', topic }, this.#options) ??
        kafkaError('CONNECTION', `cannot read the metadata of topic ${topic}`, cause)
      );
    }
  }

  /** Creates the topic and polls (every 100 ms, within 30 s) until every partition has a leader. */
  async #createTopic(topic: string, entries: ConfigEntries, partitions: number): Promise<boolean> {
    let created: boolean | undefined;
    const refused: Refused = {
      kind: 'topic creation',
      topic,
      partitions,
      replicationFactor: this.#replicationFactor,
      config: createdTopicConfig(entries, this.#options),
    };
    try {
      return await retryingWith(
        async () => {
          created ??= await this.#createOnce(topic, entries, partitions);
          if (!(await this.#hasLeaders(topic))) throw new NoLeaderYet();
          return created;
        },
        {
          retryable: (e) =>
            e instanceof NoLeaderYet ||
            (!refusedTopic(e) && !invalidTopic(e) && !refusal(e, refused, this.#options) && retriable(e)),
          timeoutMs: CREATE_TIMEOUT_MS,
          backoff: { initialMs: 100, maxMs: 100, jitter: 'none' },
        },
      );
    } catch (cause) {
      if (cause instanceof NoLeaderYet)
        throw kafkaError('TIMEOUT', `topic ${topic} has no leader after 30 s`);
      if (refusedTopic(cause) || invalidTopic(cause))
        throw kafkaError('TOPOLOGY_CONFLICT', `Kafka refuses topic ${topic}`, cause);
      throw (
        refusal(cause, refused, this.#options) ??
        kafkaError('CONNECTION', `cannot create topic ${topic}`, cause)
      );
    }
  }

  async #createOnce(topic: string, entries: ConfigEntries, partitions: number): Promise<boolean> {
    try {
      await this.#admin.createTopics({
        topics: [topic],
        partitions,
        replicas: this.#replicationFactor,
        configs: createdTopicConfig(entries, this.#options),
      });
      return true;
    } catch (cause) {
      if (hasBrokerError(cause, 'TOPIC_ALREADY_EXISTS')) return false;
      throw cause;
    }
  }

  async #hasLeaders(topic: string): Promise<boolean> {
    const metadata = await this.#admin.metadata({ topics: [topic], forceUpdate: true });
    const partitions = metadata.topics.get(topic)?.partitions ?? [];
    return partitions.length > 0 && partitions.every((p) => p !== undefined && p.leader >= 0);
  }

  /** As the kafkajs driver's: commits the start or end offsets of the partitions an empty group has none for. */
  #positionGroup(topic: string, group: string, fromStart: boolean): Promise<void> {
    return this.#positioned.run(`${topic}\u0000${group}`, async () => {
      const refused: Refused = { kind: 'group offsets', group: consumerGroupId(topic, group) };
      try {
        await retryingWith(() => this.#fixPosition(topic, group, fromStart), {
          retryable: (e) => !refusal(e, refused, this.#options) && retriable(e),
          timeoutMs: RETRY_TIMEOUT_MS,
        });
      } catch (cause) {
        throw (
          refusal(cause, refused, this.#options) ??
          kafkaError('CONNECTION', `cannot fix the position of group ${group} on ${topic}`, cause)
        );
      }
    });
  }

  async #fixPosition(topic: string, group: string, fromStart: boolean): Promise<void> {
    const groupId = consumerGroupId(topic, group);
    const ends = await this.ends(topic);
    const missing = await this.#withoutOffsets(groupId, topic, ends);
    if (missing.size === 0) return;
    const described = await this.#admin.describeGroups({ groups: [groupId] });
    const state = described.get(groupId)?.state ?? 'DEAD';
    if (state !== 'EMPTY' && state !== 'DEAD') return; // members run: it has a position
    // an empty group accepts a commit from outside it (generation -1): no member has to join
    await this.#admin.alterConsumerGroupOffsets({
      groupId,
      topics: [
        {
          name: topic,
          partitionOffsets: ends
            .filter((p) => missing.has(p.partition))
            .map((p) => ({ partition: p.partition, offset: fromStart ? p.low : p.high })),
        },
      ],
    });
    if ((await this.#withoutOffsets(groupId, topic, ends)).size > 0)
      throw Object.assign(new Error('the broker did not keep the initial offsets'), { canRetry: true });
  }

  async #withoutOffsets(
    groupId: string,
    topic: string,
    ends: readonly PartitionEnds[],
  ): Promise<Set<number>> {
    const committed = await this.committed(groupId, [topic]);
    const at = committed.get(topic) ?? [];
    const known = new Map(at.map((p) => [p.partition, p.offset]));
    return new Set(ends.filter((p) => (known.get(p.partition) ?? -1n) < 0n).map((p) => p.partition));
  }

  /** The committed offsets of `groupId` on `topics` (offset -1: none), per topic. */
  async committed(
    groupId: string,
    topics: readonly string[],
  ): Promise<Map<string, { partition: number; offset: bigint }[]>> {
    const [result] = await this.#admin.listConsumerGroupOffsets({ groups: [groupId] });
    const wanted = new Set(topics);
    const offsets = new Map<string, { partition: number; offset: bigint }[]>();
    for (const t of result?.topics ?? []) {
      if (!wanted.has(t.name)) continue;
      offsets.set(
        t.name,
        t.partitions.map((p) => ({ partition: p.partitionIndex, offset: p.committedOffset })),
      );
    }
    return offsets;
  }

  /** Each partition's low and high watermarks of `topic`. */
  async ends(topic: string): Promise<(PartitionEnds & { low: bigint; high: bigint })[]> {
    const metadata = await this.#admin.metadata({ topics: [topic] });
    const count = metadata.topics.get(topic)?.partitionsCount ?? 0;
    const request = (timestamp: bigint) =>
      this.#admin.listOffsets({
        topics: [
          {
            name: topic,
            partitions: Array.from({ length: count }, (_, i) => ({ partitionIndex: i, timestamp })),
          },
        ],
      });
    // ListOffsets timestamps: -2 = earliest, -1 = latest
    const [lows, highs] = await Promise.all([request(-2n), request(-1n)]);
    const low = new Map((lows[0]?.partitions ?? []).map((p) => [p.partitionIndex, p.offset]));
    return (highs[0]?.partitions ?? []).map((p) => ({
      partition: p.partitionIndex,
      low: low.get(p.partitionIndex) ?? 0n,
      high: p.offset,
    }));
  }

  /**
   * A group's lag as the kafkajs driver's `lag` (adapter-kafka's lag.ts): over every partition of
   * the topic and of the group's retry topic, the high watermark minus the committed offset (else
   * the low watermark), within `timeoutMs`.
   *
   * @throws CarrierError `INVALID_ARGUMENT` when the topic or the group's retry topic does not
   *   exist, `TIMEOUT` past `timeoutMs` (or `signal`), `CONNECTION` when the cluster does not answer.
   */
  async lag(topic: string, group: string, timeoutMs: number, signal?: AbortSignal): Promise<ConsumerLag> {
    const retry = retryTopic(topic, group);
    const what = `lag of ${topic}/${group}`;
    try {
      const messages = await withDeadline({ what, ms: timeoutMs, signal }, async () => {
        const existing = new Set(await retrying(() => this.#admin.listTopics(), timeoutMs));
        if (!existing.has(topic) || !existing.has(retry))
          throw kafkaError(
            'INVALID_ARGUMENT',
            `no group ${group} on topic ${topic} (topic ${retry} missing)`,
          );
        const [committed, topicEnds, retryEnds] = await retrying(
          () =>
            Promise.all([
              this.committed(consumerGroupId(topic, group), [topic, retry]),
              this.ends(topic),
              this.ends(retry),
            ]),
          timeoutMs,
        );
        return behind(topicEnds, committed.get(topic)) + behind(retryEnds, committed.get(retry));
      });
      return { messages, source: 'kafka committed offsets (topic + retry topic)' };
    } catch (cause) {
      if (cause instanceof DeadlineError) throw kafkaError('TIMEOUT', what, cause);
      if (cause instanceof CarrierError) throw cause;
      throw kafkaError('CONNECTION', `cannot read the ${what}`, cause);
    }
  }

  /** Deletes a consumer group (its members must have left). */
  deleteGroup(groupId: string): Promise<void> {
    return this.#admin.deleteGroups({ groups: [groupId] });
  }

  close(): Promise<void> {
    return this.#admin.close();
  }
}

/** Kafka's INVALID_TOPIC_EXCEPTION (a name Kafka refuses). */
function invalidTopic(error: unknown): boolean {
  return hasBrokerError(error, 'INVALID_TOPIC_EXCEPTION');
}
