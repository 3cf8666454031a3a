import type { WrittenRecord } from '@carrier/adapter-kafka/driver-kit';
import {
  chunked,
  closedError,
  kafkaError,
  RECORD_OVERHEAD_BYTES,
  TRANSPORT,
  toRecord,
} from '@carrier/adapter-kafka/driver-kit';
import type { WireMessage } from '@carrier/core';
import { publishFailed } from '@carrier/core/kit';
import { compatibilityPartitioner, Producer as KafkaProducer } from '@platformatic/kafka';
import type { ClientOptions } from './client-options.js';
import { toProduced } from './records.js';

/** The outcome of one send: indexes of the records not confirmed, and why. */
export interface SendResult {
  readonly failed: number[];
  readonly error?: unknown;
}

/**
 * Writes records with one idempotent @platformatic/kafka producer (acks=all), one send at a time;
 * a producer whose send failed is closed and the next send starts a fresh one (its sequence state
 * is unknown after a failure, as with kafkajs; see adapter-kafka's producer.ts). Keys are
 * partitioned with murmur2 masked to 31 bits modulo the partition count (`compatibilityPartitioner`),
 * as kafkajs' default partitioner and the Java client: a key lands on the same partition whichever
 * driver wrote it.
 */
export class Producer {
  readonly #client: ClientOptions;
  readonly #maxMessageBytes: number;
  readonly #closed: () => boolean;
  #producer: KafkaProducer | undefined;
  #sending: Promise<unknown> = Promise.resolve();

  constructor(client: ClientOptions, maxMessageBytes: number, closed: () => boolean) {
    this.#client = client;
    this.#maxMessageBytes = maxMessageBytes;
    this.#closed = closed;
  }

  /**
   * Publishes `messages` to `topic` in order; resolves once Kafka confirmed every one.
   *
   * @throws CarrierError `PUBLISH_FAILED` with `failures` for the messages not confirmed.
   */
  async publish(topic: string, messages: readonly WireMessage[]): Promise<void> {
    const { failed, error } = await this.send(
      topic,
      messages.map((m) => toRecord(m)),
    );
    if (failed.length > 0)
      throw publishFailed(
        TRANSPORT,
        topic,
        messages,
        failed.map((index) => [index, error]),
      );
  }

  /**
   * Writes one copy to a Carrier-owned topic (retry, dead letters); resolves once confirmed.
   *
   * @throws CarrierError `SETTLE_FAILED` when Kafka did not confirm it.
   */
  async copy(topic: string, record: WrittenRecord): Promise<void> {
    const { failed, error } = await this.send(topic, [record]);
    if (failed.length > 0)
      throw kafkaError('SETTLE_FAILED', `kafka did not confirm the copy to ${topic}`, error);
  }

  /** Sends records to one topic in chunks that fit the broker's limit, in order; stops at the first failed chunk. */
  send(topic: string, records: readonly WrittenRecord[]): Promise<SendResult> {
    const run = this.#sending.then(() => this.#sendNow(topic, records));
    this.#sending = run.catch(() => {});
    return run;
  }

  /** The producer Carrier sends with (native access); Carrier replaces it after a failed send. */
  native(): KafkaProducer {
    if (this.#closed()) throw closedError();
    this.#producer ??= this.#create();
    return this.#producer;
  }

  async close(): Promise<void> {
    const producer = this.#producer;
    this.#producer = undefined;
    await this.#sending;
    await producer?.close().catch(() => {});
  }

  async #sendNow(topic: string, records: readonly WrittenRecord[]): Promise<SendResult> {
    const chunks = chunked(records, this.#maxMessageBytes + RECORD_OVERHEAD_BYTES / 2);
    for (let c = 0; c < chunks.length; c++) {
      const chunk = chunks[c]!;
      if (this.#closed()) return { failed: chunks.slice(c).flat(), error: closedError() };
      this.#producer ??= this.#create();
      const producer = this.#producer;
      try {
        await producer.send({ messages: chunk.map((i) => toProduced(topic, records[i]!)) });
      } catch (error) {
        if (this.#producer === producer) this.#producer = undefined;
        producer.close(true, () => {});
        return { failed: chunks.slice(c).flat(), error };
      }
    }
    return { failed: [] };
  }

  #create(): KafkaProducer {
    const producer = new KafkaProducer({
      ...this.#client,
      idempotent: true,
      acks: -1,
      autocreateTopics: false,
      partitioner: compatibilityPartitioner,
    });
    // an 'error' event would be thrown without a listener; a failed send rejects its own call
    producer.on('error', () => {});
    return producer;
  }
}
