import { randomUUID } from 'node:crypto';
import type { WireMessage } from '@carrier/core';
import { withDeadline } from '@carrier/core/kit';
import type { Admin, Consumer, ConsumerConfig, Kafka, KafkaMessage } from 'kafkajs';
import { kafkaError, retrying } from './errors.js';
import { kafkajsRefusal } from './refusals.js';
import type { KafkaUrlOptions } from './url.js';
import { fromRecord } from './wire.js';

/**
 * Request/reply on Kafka: one reply topic shared by every requester of the cluster,
 * {@link REPLY_TOPIC}. A requester connection reads it with a consumer group of its own
 * (`carrier..replies..<uuid>`: kafkajs cannot assign partitions by hand, so a consumer needs a
 * group) and keeps only the records whose key is its requester id; the reply address
 * `carrier..replies:<uuid>` tells a server both. The same design as Spring Kafka's shared reply
 * topic (`ReplyingKafkaTemplate.setSharedReplyTopic`), chosen over a topic per connection: a topic
 * that is deleted while a kafkajs producer has written to it poisons that producer's metadata
 * (every later refresh fails with UNKNOWN_TOPIC_OR_PARTITION, and a send to the deleted topic
 * stalls ~20 s in retries), so a server replying to requesters that come and go would break; a
 * shared topic is created once and never deleted. See docs/brokers/kafka.md, "Request/reply".
 */

/** The shared reply topic. `..` marks a Carrier-made name: no portable topic name contains it. */
export const REPLY_TOPIC = 'carrier..replies';
/** Prefix of the consumer group of each requester connection (followed by its requester id). */
export const REPLY_GROUP_PREFIX = 'carrier..replies..';
/**
 * Retention of the reply topic, in ms (also its segment roll time, since Kafka deletes only closed
 * segments): a reply nobody reads (its requester gave up or is gone) is deleted within about twice
 * this plus the broker's retention check interval (`log.retention.check.interval.ms`, 5 min).
 */
export const REPLY_RETENTION_MS = 300_000;
/** Topic settings of {@link REPLY_TOPIC}. */
export const REPLY_TOPIC_CONFIG = [
  { name: 'retention.ms', value: String(REPLY_RETENTION_MS) },
  { name: 'segment.ms', value: String(REPLY_RETENTION_MS) },
];
/** Longest the reply consumer's first group join may take, in ms. */
const JOIN_TIMEOUT_MS = 60_000;
const REQUESTER_ID = /^[A-Za-z0-9-]{1,64}$/;

/** The reply address of requester `id`: `carrier..replies:<id>`. */
export function replyAddress(id: string): string {
  return `${REPLY_TOPIC}:${id}`;
}

/** The requester id of a reply address, or `undefined` when it is not a Carrier reply address. */
export function requesterOf(address: string): string | undefined {
  const prefix = `${REPLY_TOPIC}:`;
  if (!address.startsWith(prefix)) return undefined;
  const id = address.slice(prefix.length);
  return REQUESTER_ID.test(id) ? id : undefined;
}

/** What a {@link ReplyInbox} needs of the connection. */
export interface ReplyInboxSettings {
  readonly kafka: Kafka;
  readonly admin: Admin;
  readonly consumerConfig: Omit<ConsumerConfig, 'groupId'>;
  /** The connection's URL options (for the message of a refused join). */
  readonly options: KafkaUrlOptions;
  readonly sink: (reply: WireMessage) => void;
  readonly onError: (error: Error) => void;
}

/**
 * The reply consumer of one requester connection. It commits nothing: its group has no offsets,
 * so once the consumer has left (close) or its session expired (crash) the group is empty with no
 * offsets, which Kafka's group coordinator deletes at its next offsets cleanup
 * (`offsets.retention.check.interval.ms`, 10 min by default); `close()` deletes it at once.
 */
export class ReplyInbox {
  readonly id = randomUUID();
  readonly address = replyAddress(this.id);
  readonly groupId = `${REPLY_GROUP_PREFIX}${this.id}`;
  readonly #settings: ReplyInboxSettings;
  readonly #consumer: Consumer;
  readonly #key: Buffer;
  /** Next offset to read per partition: the topic's end when opened, then past every record seen. */
  readonly #next = new Map<number, string>();
  #state: 'open' | 'closed' = 'open';

  constructor(settings: ReplyInboxSettings) {
    this.#settings = settings;
    this.#key = Buffer.from(this.id);
    this.#consumer = settings.kafka.consumer({
      ...settings.consumerConfig,
      groupId: this.groupId,
      maxWaitTimeInMs: 100,
    });
  }

  /**
   * Starts the consumer at the reply topic's current end and resolves after its first group join:
   * from then on every reply to {@link ReplyInbox.address} reaches the sink.
   *
   * @throws CarrierError `CONNECTION` when the consumer cannot join within 60 s; the code of
   *   `brokerRefusal` (refusals.ts) when Kafka refuses the join (`INVALID_ARGUMENT` for
   *   `sessionTimeoutMs`, `AUTH_FAILED`, `TOPOLOGY_CONFLICT`).
   */
  async open(): Promise<void> {
    const { admin } = this.#settings;
    const consumer = this.#consumer;
    try {
      const ends = await retrying(() => admin.fetchTopicOffsets(REPLY_TOPIC));
      for (const { partition, high } of ends) this.#next.set(partition, high);
      const joined = this.#listen();
      await consumer.connect();
      // no committed offsets ever: every (re)join starts where #next says (seek below), and a
      // partition without an entry (added later) from its start
      await consumer.subscribe({ topics: [REPLY_TOPIC], fromBeginning: true });
      await consumer.run({ autoCommit: false, eachBatch: async ({ batch }) => this.#read(batch) });
      await withDeadline({ what: `group join of ${this.groupId}`, ms: JOIN_TIMEOUT_MS }, () => joined);
    } catch (cause) {
      this.#state = 'closed';
      await consumer.disconnect().catch(() => {});
      throw (
        kafkajsRefusal(cause, { kind: 'group join', group: this.groupId }, this.#settings.options) ??
        kafkaError('CONNECTION', 'cannot start the reply consumer', cause)
      );
    }
  }

  #listen(): Promise<void> {
    const consumer = this.#consumer;
    return new Promise<void>((resolve, reject) => {
      let joined = false;
      consumer.on(consumer.events.GROUP_JOIN, () => {
        // a rejoin re-reads from the committed offsets, of which there are none: go on from here
        for (const [partition, offset] of this.#next)
          consumer.seek({ topic: REPLY_TOPIC, partition, offset });
        joined = true;
        resolve();
      });
      consumer.on(consumer.events.CRASH, (event) => {
        if (this.#state === 'closed' || event.payload.restart) return;
        if (!joined) reject(event.payload.error);
        else
          this.#settings.onError(kafkaError('CONNECTION', 'the reply consumer failed', event.payload.error));
      });
    });
  }

  #read(batch: { partition: number; messages: KafkaMessage[] }): void {
    for (const record of batch.messages) {
      this.#next.set(batch.partition, String(Number(record.offset) + 1));
      if (this.#state !== 'open' || !record.key?.equals(this.#key)) continue;
      const { message } = fromRecord(REPLY_TOPIC, batch.partition, record);
      this.#settings.sink({ ...message, key: undefined }); // the key was the requester id
    }
  }

  /** Leaves the group and deletes it (best effort: an undeleted group goes at Kafka's next cleanup). Idempotent. */
  async close(): Promise<void> {
    if (this.#state === 'closed') return;
    this.#state = 'closed';
    await this.#consumer.disconnect().catch(() => {});
    await this.#settings.admin.deleteGroups([this.groupId]).catch(() => {});
  }

  /** Disconnects without deleting the group (a crash, as far as the broker can tell). */
  async abort(): Promise<void> {
    if (this.#state === 'closed') return;
    this.#state = 'closed';
    await this.#consumer.disconnect().catch(() => {});
  }
}
