import type { WireMessage } from '@carrier/core';
import { publishFailed } from '@carrier/core/kit';
import kafkajs, {
  type ICustomPartitioner,
  type Kafka,
  type Producer as KafkaProducer,
  type Message,
} from 'kafkajs';
import { closedError, kafkaError, TRANSPORT } from './errors.js';
import { RECORD_OVERHEAD_BYTES, toRecord } from './wire.js';

// kafkajs is CommonJS: Node's ESM loader only sees its default export
const { Partitioners } = kafkajs;

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
  return (args) => {
    let partition = chosenPartition.get(args.message);
    if (partition === undefined || !args.partitionMetadata.some((p) => p.partitionId === partition)) {
      partition = inner(args);
      chosenPartition.set(args.message, partition);
    }
    return partition;
  };
};

/**
 * The partition {@link pinnedPartitioner} chose for a record object. Every send passes fresh
 * objects, so an entry belongs to one send.
 */
const chosenPartition = new WeakMap<Message, number>();

/**
 * Indexes (into `sent`) of records whose partition is missing from the send's result.
 *
 * kafkajs sends one produce request per partition leader and, when one of them fails, retries the
 * whole send but skips every broker that already answered. When the failed broker's partitions
 * moved meanwhile to a broker that answered (a leader killed: its partitions get a new leader
 * among the others), their records are never sent, and the send still resolves, with results for
 * the partitions that were written only. Seen on a three-node cluster with the leader killed with
 * -9 (integration-tests/specs/cluster.failover.spec.ts): 13 records of one partition confirmed and
 * never stored. Those records are reported not confirmed (`PUBLISH_FAILED`), so that the caller
 * publishes them again.
 */
export function unconfirmed(sent: readonly Message[], result: readonly { partition: number }[]): number[] {
  const written = new Set(result.map((r) => r.partition));
  const missing: number[] = [];
  sent.forEach((record, i) => {
    const partition = chosenPartition.get(record);
    if (partition === undefined || !written.has(partition)) missing.push(i);
  });
  return missing;
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

/** Indexes of `records` in consecutive chunks of at most `limit` bytes (a larger record alone). */
export function chunked(records: readonly Message[], limit: number): number[][] {
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
  return chunks;
}

/** Most records that queued sends to one topic are merged into (see `Producer.send`). */
const MAX_MERGED_RECORDS = 1_000;

interface QueuedSend {
  readonly topic: string;
  readonly records: readonly Message[];
  readonly resolve: (result: SendResult) => void;
}

/** The outcome of one send: indexes of the records not confirmed, and why. */
export interface SendResult {
  readonly failed: number[];
  readonly error?: unknown;
}

/** What the producer needs of the connection. */
export interface ProducerSettings {
  readonly kafka: Kafka;
  /** Largest message body the transport accepts, in bytes (`capabilities.maxMessageBytes`). */
  readonly maxMessageBytes: number;
  /** Whether the connection was closed: queued sends then fail with `CLOSED`. */
  readonly closed: () => boolean;
  /** A produce request to `broker` (`host:port`) timed out. */
  readonly onRequestTimeout: (broker: string) => void;
}

/**
 * Writes records with one idempotent kafkajs producer (acks=all, one request in flight), one send
 * at a time; a producer whose send failed is retired and the next send starts a fresh one.
 */
export class Producer {
  readonly #settings: ProducerSettings;
  #producer: Promise<KafkaProducer> | undefined;
  /** Sends waiting for the one running (see {@link Producer.send}). */
  #queue: QueuedSend[] = [];
  #running = false;

  constructor(settings: ProducerSettings) {
    this.#settings = settings;
  }

  /**
   * Publishes `messages` to `topic` in order; resolves once Kafka confirmed every one.
   *
   * @throws CarrierError `PUBLISH_FAILED` with `failures` (index, id, cause) for the messages not
   *   confirmed: those of the first failed chunk and every later one (their fate is unknown).
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
  async copy(topic: string, record: Message): Promise<void> {
    const { failed, error } = await this.send(topic, [record]);
    if (failed.length > 0)
      throw kafkaError('SETTLE_FAILED', `kafka did not confirm the copy to ${topic}`, error);
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
   * PUBLISH_FAILED) its producer id is never used again. Sends to the same topic waiting behind a
   * running one are merged into one send (see `#drain`); a failure fails the merged records from
   * the first unconfirmed chunk on, each caller hearing about its own.
   */
  send(topic: string, records: readonly Message[]): Promise<SendResult> {
    return new Promise<SendResult>((resolve) => {
      this.#queue.push({ topic, records, resolve });
      if (!this.#running) void this.#drain();
    });
  }

  /**
   * Runs the queued sends one at a time. Sends to the same topic that queued up behind a running
   * one go out together as one send (up to {@link MAX_MERGED_RECORDS} records), in queue order:
   * concurrent single publishes then cost one produce request instead of one each, and one send
   * at a time still holds. Each caller hears about its own records only.
   */
  async #drain(): Promise<void> {
    this.#running = true;
    try {
      for (let first = this.#queue.shift(); first; first = this.#queue.shift()) {
        const group = [first];
        let count = first.records.length;
        while (
          this.#queue.length > 0 &&
          this.#queue[0]!.topic === first.topic &&
          count + this.#queue[0]!.records.length <= MAX_MERGED_RECORDS
        ) {
          const next = this.#queue.shift()!;
          group.push(next);
          count += next.records.length;
        }
        const records = group.length === 1 ? first.records : group.flatMap((q) => q.records);
        let result: SendResult;
        try {
          result = await this.#sendNow(first.topic, records);
        } catch (error) {
          result = { failed: records.map((_, i) => i), error };
        }
        if (group.length === 1) {
          first.resolve(result);
          continue;
        }
        const failed = new Set(result.failed);
        let base = 0;
        for (const q of group) {
          const mine = q.records.map((_, i) => i).filter((i) => failed.has(base + i));
          q.resolve(mine.length > 0 ? { failed: mine, error: result.error } : { failed: [] });
          base += q.records.length;
        }
      }
    } finally {
      this.#running = false;
    }
  }

  /** The kafkajs producer Carrier sends with, connected (native access); `CLOSED` once closed. */
  native(): Promise<KafkaProducer> {
    if (this.#settings.closed()) return Promise.reject(closedError());
    return this.#producer ?? this.#connect();
  }

  /** Disconnects the producer (sends queued after this fail with `CLOSED` once `closed()` is true). */
  async close(): Promise<void> {
    const producer = this.#producer;
    this.#producer = undefined;
    await producer?.then((p) => p.disconnect());
  }

  async #sendNow(topic: string, records: readonly Message[]): Promise<SendResult> {
    const chunks = chunked(records, this.#settings.maxMessageBytes + RECORD_OVERHEAD_BYTES / 2);
    for (let c = 0; c < chunks.length; c++) {
      const chunk = chunks[c]!;
      if (this.#settings.closed()) {
        // queued behind a send that was still running at close(): no new producer after close
        return { failed: chunks.slice(c).flat(), error: closedError() };
      }
      const producer = this.#producer ?? this.#connect();
      // fresh objects: the pinned partition of a record belongs to this send only
      const sent = chunk.map((i) => ({ ...records[i]! }));
      try {
        const result = await (await producer).send({ topic, acks: -1, messages: sent });
        const missing = unconfirmed(sent, result);
        if (missing.length > 0) {
          // their batch may have been stored under sequence numbers kafkajs will hand out again
          this.#drop(producer);
          return {
            failed: [...missing.map((m) => chunk[m]!), ...chunks.slice(c + 1).flat()],
            error: new Error(
              `kafka confirmed no write to the partition of ${missing.length} of ${sent.length} records ` +
                '(kafkajs skipped them when it retried the send after a partition leader changed)',
            ),
          };
        }
      } catch (error) {
        this.#drop(producer);
        return { failed: chunks.slice(c).flat(), error };
      }
    }
    return { failed: [] };
  }

  #connect(): Promise<KafkaProducer> {
    const producer = this.#settings.kafka.producer({
      idempotent: true,
      maxInFlightRequests: 1,
      allowAutoTopicCreation: false,
      createPartitioner: pinnedPartitioner,
      retry: { initialRetryTime: 200, retries: 8, maxRetryTime: 5_000 },
    });
    producer.on(producer.events.REQUEST_TIMEOUT, (e) => this.#settings.onRequestTimeout(e.payload.broker));
    const connecting = producer.connect().then(() => producer);
    this.#producer = connecting;
    connecting.catch(() => {
      if (this.#producer === connecting) this.#producer = undefined;
    });
    return connecting;
  }

  /** After a failed send the idempotent producer's sequence state is unknown: start a fresh one. */
  #drop(failed: Promise<KafkaProducer>): void {
    if (this.#producer !== failed) return;
    this.#producer = undefined;
    failed.then((p) => p.disconnect()).catch(() => {});
  }
}
