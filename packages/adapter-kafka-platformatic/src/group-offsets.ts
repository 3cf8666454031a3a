import type { CommittedOffsets } from '@carrier/adapter-kafka/driver-kit';
import { Connection, type Consumer, offsetCommitV8, offsetFetchV8 } from '@platformatic/kafka';
import type { ClientOptions } from './client-options.js';

/** One partition's commit as adapter-kafka's `OffsetCommits` passes it (kafkajs' `commitOffsets` shape). */
export interface PartitionCommit {
  readonly topic: string;
  readonly partition: number;
  readonly offset: string;
  readonly metadata?: string | null;
}

/**
 * Commits and reads a group's offsets WITH their metadata, over a connection of its own to the
 * group coordinator. @platformatic/kafka 1.35's `consumer.commit()` always sends null metadata and
 * `listCommittedOffsets()` drops it; Carrier keeps each partition's delivery counts there (see
 * adapter-kafka's offsets.ts), in the same format as the kafkajs driver, so that a group can move
 * from one driver to the other keeping its attempt counts. Commits carry the consumer's current
 * generation and member id, so the coordinator refuses those of a member that lost its partitions.
 */
export class GroupOffsets {
  readonly #consumer: Consumer;
  readonly #client: ClientOptions;
  #connection: Promise<Connection> | undefined;

  constructor(consumer: Consumer, client: ClientOptions) {
    this.#consumer = consumer;
    this.#client = client;
  }

  /** Commits `commits` (offset = next record to read) for the consumer's current generation. */
  async commit(commits: readonly PartitionCommit[]): Promise<void> {
    const topics = new Map<string, offsetCommitV8.OffsetCommitRequestTopic>();
    for (const { topic, partition, offset, metadata } of commits) {
      let entry = topics.get(topic);
      if (!entry) {
        entry = { name: topic, partitions: [] };
        topics.set(topic, entry);
      }
      entry.partitions.push({
        partitionIndex: partition,
        committedOffset: BigInt(offset),
        committedLeaderEpoch: -1,
        committedMetadata: metadata ?? null,
      });
    }
    const consumer = this.#consumer;
    await this.#call((connection) =>
      offsetCommitV8.api.async(
        connection,
        consumer.groupId,
        consumer.generationId,
        consumer.memberId ?? '',
        null,
        [...topics.values()],
      ),
    );
  }

  /** The committed offsets and metadata of `assignment`'s partitions (keys `topic\u0000partition`). */
  async committed(assignment: ReadonlyMap<string, readonly number[]>): Promise<CommittedOffsets> {
    const topics = [...assignment].map(([name, partitions]) => ({
      name,
      partitionIndexes: [...partitions],
    }));
    const result = new Map<string, { offset: number; metadata: string | null }>();
    if (topics.length === 0) return result;
    const response = await this.#call((connection) =>
      offsetFetchV8.api.async(
        connection,
        [{ groupId: this.#consumer.groupId, memberId: null, memberEpoch: -1, topics }],
        false,
      ),
    );
    for (const group of response.groups)
      for (const topic of group.topics)
        for (const p of topic.partitions)
          result.set(`${topic.name}\u0000${p.partitionIndex}`, {
            offset: Number(p.committedOffset),
            metadata: p.metadata ?? null,
          });
    return result;
  }

  /** Runs `request` on the coordinator connection; a failed request drops it (the next finds the coordinator again). */
  async #call<T>(request: (connection: Connection) => Promise<T>): Promise<T> {
    this.#connection ??= this.#connect();
    const connecting = this.#connection;
    try {
      return await request(await connecting);
    } catch (error) {
      if (this.#connection === connecting) {
        this.#connection = undefined;
        void connecting.then((c) => c.close()).catch(() => {});
      }
      throw error;
    }
  }

  #connect(): Promise<Connection> {
    const connecting: Promise<Connection> = this.#connectTo(() => connecting);
    return connecting;
  }

  async #connectTo(self: () => Promise<Connection>): Promise<Connection> {
    const id = await this.#consumer.findGroupCoordinator();
    const metadata = await this.#consumer.metadata({ topics: [] });
    const broker = metadata.brokers.get(id);
    if (!broker) throw new Error(`group coordinator ${id} is not in the cluster metadata`);
    const { clientId, connectTimeout, requestTimeout, tls, sasl } = this.#client;
    const connection = new Connection(clientId, {
      ...(connectTimeout === undefined ? {} : { connectTimeout }),
      ...(requestTimeout === undefined ? {} : { requestTimeout }),
      ...(tls === undefined ? {} : { tls }),
      ...(sasl === undefined ? {} : { sasl }),
    });
    // a connection of our own has no pool listening to it: an 'error' event would be thrown. A
    // broken connection is dropped; the next request connects again (to the coordinator of then).
    const drop = () => {
      if (this.#connection === self()) this.#connection = undefined;
    };
    connection.on('error', drop);
    connection.on('close', drop);
    try {
      await connection.connect(broker.host, broker.port);
    } catch (error) {
      void Promise.resolve(connection.close()).catch(() => {});
      throw error;
    }
    return connection;
  }

  async close(): Promise<void> {
    const connecting = this.#connection;
    this.#connection = undefined;
    await connecting?.then((c) => c.close()).catch(() => {});
  }
}
