import { randomUUID } from 'node:crypto';
import {
  fromRecord,
  JOIN_TIMEOUT_MS,
  type KafkaUrlOptions,
  kafkaError,
  REPLY_GROUP_PREFIX,
  REPLY_TOPIC,
  replyAddress,
} from '@carrier/adapter-kafka/driver-kit';
import type { WireMessage } from '@carrier/core';
import { withDeadline } from '@carrier/core/kit';
import { Consumer, type Message, type MessagesStream } from '@platformatic/kafka';
import type { ClientOptions } from './client-options.js';
import { refusal } from './errors.js';
import { toRead } from './records.js';
import type { AdminTopology } from './topology.js';

/** Pause before a destroyed messages stream is opened again, in ms (as the receiver's). */
const REOPEN_MS = 1_000;

/** What a {@link ReplyInbox} needs of the connection. */
export interface ReplyInboxSettings {
  readonly client: ClientOptions;
  readonly topology: AdminTopology;
  /** The URL's `maxWaitTimeMs`, `sessionTimeoutMs`, `heartbeatIntervalMs`. */
  readonly maxWaitTimeMs: number;
  readonly sessionTimeoutMs: number;
  readonly heartbeatIntervalMs: number;
  /** The connection's URL options (for the message of a refused join). */
  readonly options: KafkaUrlOptions;
  readonly sink: (reply: WireMessage) => void;
  readonly onError: (error: Error) => void;
}

/**
 * The reply consumer of one requester connection on @platformatic/kafka: the kafkajs driver's
 * design (adapter-kafka's replies.ts: the shared reply topic `carrier..replies`, a group of its own
 * `carrier..replies..<uuid>` that commits nothing, only the records keyed by its requester id) with
 * a messages stream in `manual` mode starting at the topic's end when opened; the stream keeps its
 * positions across rejoins, and one destroyed by a fetch failure is opened again (after 1 s) where
 * it stopped.
 */
export class ReplyInbox {
  readonly id = randomUUID();
  readonly address = replyAddress(this.id);
  readonly groupId = `${REPLY_GROUP_PREFIX}${this.id}`;
  readonly #settings: ReplyInboxSettings;
  readonly #consumer: Consumer;
  readonly #key: Buffer;
  /** Next offset to read per partition: the topic's end when opened, then past every record seen. */
  readonly #next = new Map<number, bigint>();
  #stream: MessagesStream<Buffer, Buffer, Buffer, Buffer> | undefined;
  #state: 'open' | 'closed' = 'open';

  constructor(settings: ReplyInboxSettings) {
    this.#settings = settings;
    this.#key = Buffer.from(this.id);
    this.#consumer = new Consumer({
      ...settings.client,
      groupId: this.groupId,
      sessionTimeout: settings.sessionTimeoutMs,
      heartbeatInterval: settings.heartbeatIntervalMs,
      maxWaitTime: Math.min(100, settings.maxWaitTimeMs),
      autocommit: false,
      autocreateTopics: false,
    });
    this.#consumer.on('error', (error: Error) => this.#trouble(error));
  }

  /**
   * Starts reading at the reply topic's current end and resolves after the first group join: from
   * then on every reply to {@link ReplyInbox.address} reaches the sink.
   *
   * @throws CarrierError `CONNECTION` when the consumer cannot join within 60 s; the code of
   *   `brokerRefusal` (adapter-kafka's refusals.ts) when Kafka refuses the join.
   */
  async open(): Promise<void> {
    try {
      for (const { partition, high } of await this.#settings.topology.ends(REPLY_TOPIC))
        this.#next.set(partition, high);
      const joined = new Promise<void>((resolve) =>
        this.#consumer.once('consumer:group:join', () => resolve()),
      );
      await withDeadline({ what: `group join of ${this.groupId}`, ms: JOIN_TIMEOUT_MS }, async () => {
        await this.#open();
        await joined;
      });
    } catch (cause) {
      this.#state = 'closed';
      await this.#shutDown(true);
      throw (
        refusal(cause, { kind: 'group join', group: this.groupId }, this.#settings.options) ??
        kafkaError('CONNECTION', 'cannot start the reply consumer', cause)
      );
    }
  }

  async #open(): Promise<void> {
    const stream = await this.#consumer.consume({
      topics: [REPLY_TOPIC],
      mode: 'manual',
      // a partition added later: from its start
      fallbackMode: 'earliest',
      offsets: [...this.#next].map(([partition, offset]) => ({ topic: REPLY_TOPIC, partition, offset })),
      autocommit: false,
      maxWaitTime: Math.min(100, this.#settings.maxWaitTimeMs),
    });
    this.#stream = stream;
    stream.on('data', (message: Message<Buffer, Buffer, Buffer, Buffer>) => this.#read(message));
    stream.on('error', (error: Error) => this.#trouble(error));
    stream.on('close', () => {
      if (this.#stream !== stream) return;
      this.#stream = undefined;
      this.#reopen();
    });
  }

  #reopen(): void {
    if (this.#state !== 'open') return;
    setTimeout(() => {
      if (this.#state !== 'open' || this.#stream !== undefined) return;
      this.#open().catch((error: unknown) => {
        this.#trouble(error instanceof Error ? error : new Error(String(error)));
        this.#reopen();
      });
    }, REOPEN_MS);
  }

  #trouble(error: Error): void {
    if (this.#state !== 'open') return;
    this.#settings.onError(kafkaError('CONNECTION', 'the reply consumer failed', error));
  }

  #read(message: Message<Buffer, Buffer, Buffer, Buffer>): void {
    this.#next.set(message.partition, message.offset + 1n);
    const key = message.key as Buffer | null | undefined;
    if (this.#state !== 'open' || !key?.equals(this.#key)) return;
    const { message: reply } = fromRecord(REPLY_TOPIC, message.partition, toRead(message));
    this.#settings.sink({ ...reply, key: undefined }); // the key was the requester id
  }

  async #shutDown(force: boolean): Promise<void> {
    const stream = this.#stream;
    this.#stream = undefined;
    await stream?.close().catch(() => {});
    await new Promise<void>((resolve) => this.#consumer.close(force, () => resolve()));
  }

  /** Leaves the group and deletes it (best effort: an undeleted group goes at Kafka's next cleanup). Idempotent. */
  async close(): Promise<void> {
    if (this.#state === 'closed') return;
    this.#state = 'closed';
    await this.#shutDown(false);
    await this.#settings.topology.deleteGroup(this.groupId).catch(() => {});
  }

  /** Disconnects without deleting the group (a crash, as far as the broker can tell). */
  async abort(): Promise<void> {
    if (this.#state === 'closed') return;
    this.#state = 'closed';
    await this.#shutDown(true);
  }
}
