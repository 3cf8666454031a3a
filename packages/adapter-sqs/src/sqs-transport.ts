import { randomUUID } from 'node:crypto';
import { PublishBatchCommand, type SNSClient } from '@aws-sdk/client-sns';
import {
  ChangeMessageVisibilityBatchCommand,
  DeleteMessageBatchCommand,
  type Message,
  ReceiveMessageCommand,
  SendMessageBatchCommand,
  SendMessageCommand,
  type SQSClient,
} from '@aws-sdk/client-sqs';
import {
  type Capabilities,
  CarrierError,
  type DeadLetterDelivery,
  type DeadLetterInfo,
  type Delivery,
  type PublishFailure,
  type Transport,
  type TransportSubscribeOptions,
  type TransportSubscription,
  type WireMessage,
} from '@carrier/core';
import { MAX_BATCH_ENTRIES } from './batcher.js';
import { type Lease, MAX_VISIBILITY_SECONDS, QueueConsumer } from './consumer.js';
import { guardClient } from './deadline.js';
import { awsError, closedError, TRANSPORT } from './errors.js';
import { batchFailures, chunk, type Entry } from './publish-batches.js';
import { type GroupQueues, Topology } from './topology.js';
import type { SqsSettings } from './url.js';
import { decodeMessage, encodeMessage, fifoToken } from './wire.js';

/** SNS message limit (body plus attributes), also the SNS PublishBatch request limit. */
export const SNS_MAX_BYTES = 262_144;
/** SQS message limit (body plus attributes), also the SendMessageBatch request limit. */
export const SQS_MAX_BYTES = 1_048_576;
/** Bytes kept free for Carrier's attributes when computing `maxMessageBytes`. */
export const METADATA_ALLOWANCE = 4_096;
/** Longest retry delay: the 12-hour visibility limit, less one hour for the handler that ran before. */
export const SQS_MAX_DELAY_MS = (MAX_VISIBILITY_SECONDS - 3_600) * 1_000;
/** Parallel batch calls of one standard (non-FIFO) publish. */
const PUBLISH_PARALLELISM = 4;

/** The largest message a caller can send: what still fits after base64 (4/3) and Carrier's attributes. */
export function maxMessageBytes(limit: number): number {
  return Math.floor(((limit - METADATA_ALLOWANCE) * 3) / 4);
}

/**
 * Carrier over Amazon SQS with SNS fan-out. SNS mode: a topic is an SNS topic, a group an SQS queue
 * subscribed with raw message delivery. Queue-only mode (`sns=false`): a topic is one SQS queue with a
 * single group. FIFO mode (`fifo=true`, or a topic whose name ends in `.fifo`): FIFO topics and
 * queues, key → MessageGroupId, id → MessageDeduplicationId.
 */
export class SqsTransport implements Transport {
  readonly name = TRANSPORT;
  readonly capabilities: Capabilities;
  readonly #sqs: SQSClient;
  readonly #sns: SNSClient | undefined;
  readonly #settings: SqsSettings;
  readonly #topology: Topology;
  readonly #onError: (error: Error) => void;
  readonly #consumers = new Set<QueueConsumer>();
  /** Receives in flight (cancelled only by abort()). */
  readonly #receives = new Set<AbortController>();
  /** Every SQS/SNS call in flight (close waits for them). */
  readonly #calls = new Set<Promise<unknown>>();
  /** publish() calls in flight (close waits for them). */
  readonly #publishes = new Set<Promise<void>>();
  readonly #limit: number;
  /** Set when close() or abort() starts: no new operation is accepted. */
  #closed = false;
  #closing: Promise<void> | undefined;
  #aborted = false;

  constructor(
    settings: SqsSettings,
    sqs: SQSClient,
    sns: SNSClient | undefined,
    onError: (error: Error) => void,
  ) {
    this.#settings = settings;
    const guard = {
      requestTimeoutMs: settings.requestTimeoutMs,
      track: (call: Promise<unknown>) => {
        this.#calls.add(call);
        const done = () => this.#calls.delete(call);
        call.then(done, done);
      },
    };
    this.#sqs = guardClient(sqs, guard);
    this.#sns = sns ? guardClient(sns, guard) : undefined;
    this.#onError = onError;
    this.#topology = new Topology(this.#sqs, this.#sns, settings);
    this.#limit = settings.sns ? SNS_MAX_BYTES : SQS_MAX_BYTES;
    this.capabilities = {
      fanOut: settings.sns,
      competingConsumers: true,
      perKeyOrder: settings.fifo,
      nativeDelay: true,
      maxDelayMs: SQS_MAX_DELAY_MS,
      maxMessageBytes: maxMessageBytes(this.#limit),
      redrive: true,
    };
  }

  #ensureOpen(): void {
    if (this.#closed) throw closedError();
  }

  async declare(topic: string, groups: readonly string[]): Promise<void> {
    this.#ensureOpen();
    if (!this.#settings.sns && groups.length > 1) {
      throw new CarrierError('UNSUPPORTED', 'queue-only mode (sns=false) has one group per topic', {
        transport: TRANSPORT,
      });
    }
    if (this.#settings.sns) await this.#topology.topicArn(topic);
    else await this.#topology.topicQueueUrl(topic);
    await Promise.all(groups.map((g) => this.#topology.group(topic, g)));
  }

  // ---------------------------------------------------------------- publish

  /**
   * See {@link Transport.publish}. Every call has a deadline (`requestTimeoutMs`); a publish in flight
   * when `close()` starts is finished before the connection closes (only `abort()` fails it).
   *
   * @throws CarrierError `CLOSED` once close() or abort() started; `MESSAGE_TOO_LARGE`;
   *   `PUBLISH_FAILED` naming the messages not accepted.
   */
  publish(topic: string, messages: readonly WireMessage[]): Promise<void> {
    if (this.#closed) return Promise.reject(closedError());
    const p = this.#publish(topic, messages);
    this.#publishes.add(p);
    const done = () => this.#publishes.delete(p);
    p.then(done, done);
    return p;
  }

  async #publish(topic: string, messages: readonly WireMessage[]): Promise<void> {
    const entries: Entry[] = messages.map((message, index) => ({
      index,
      message,
      encoded: encodeMessage(message),
    }));
    for (const e of entries) {
      if (e.encoded.size > this.#limit) {
        throw new CarrierError(
          'MESSAGE_TOO_LARGE',
          `message ${e.index} is ${e.encoded.size} bytes once encoded for ${this.#settings.sns ? 'SNS' : 'SQS'}, over its limit of ${this.#limit}`,
          { transport: TRANSPORT },
        );
      }
    }
    const fifo = this.#topology.fifo(topic);
    let send: (chunk: Entry[]) => Promise<Map<number, Error>>;
    try {
      if (this.#settings.sns) {
        const arn = await this.#topology.topicArn(topic);
        send = (chunk) => this.#publishSns(arn, chunk, fifo);
      } else {
        const url = await this.#topology.topicQueueUrl(topic);
        send = (chunk) => this.#sendSqs(url, chunk, fifo);
      }
    } catch (cause) {
      throw new CarrierError('PUBLISH_FAILED', `cannot publish to ${topic}: ${(cause as Error).message}`, {
        transport: TRANSPORT,
        cause,
        failures: messages.map((m, index) => ({ index, id: m.id, error: cause as Error })),
      });
    }
    const chunks = chunk(entries, this.#limit);
    const failed = new Map<number, Error>();
    const run = async (c: Entry[]) => {
      try {
        for (const [i, e] of await send(c)) failed.set(i, e);
      } catch (error) {
        const e = awsError('publish', error, 'PUBLISH_FAILED');
        for (const x of c) failed.set(x.index, e);
      }
    };
    if (fifo) {
      // one call after the other, so that the order of a key survives; after a failure the rest is not sent
      for (const c of chunks) {
        if (failed.size > 0) {
          const e = new Error('not sent: an earlier batch of this FIFO publish failed');
          for (const x of c) failed.set(x.index, e);
          continue;
        }
        await run(c);
      }
    } else {
      let next = 0;
      const worker = async () => {
        while (next < chunks.length) await run(chunks[next++]!);
      };
      await Promise.all(Array.from({ length: Math.min(PUBLISH_PARALLELISM, chunks.length) }, worker));
    }
    if (failed.size > 0) {
      const failures: PublishFailure[] = [...failed]
        .sort(([a], [b]) => a - b)
        .map(([index, error]) => ({ index, id: messages[index]!.id, error }));
      throw new CarrierError(
        'PUBLISH_FAILED',
        `${failures.length} of ${messages.length} messages to ${topic} were not accepted: ${failures[0]!.error.message}`,
        { transport: TRANSPORT, failures },
      );
    }
  }

  async #publishSns(topicArn: string, chunk: Entry[], fifo: boolean): Promise<Map<number, Error>> {
    const out = await this.#sns!.send(
      new PublishBatchCommand({
        TopicArn: topicArn,
        PublishBatchRequestEntries: chunk.map((e) => ({
          Id: String(e.index),
          Message: e.encoded.body,
          MessageAttributes: e.encoded.attributes,
          ...(fifo ? fifoIds(e.message) : {}),
        })),
      }),
    );
    return batchFailures(chunk, out.Successful, out.Failed);
  }

  async #sendSqs(queueUrl: string, chunk: Entry[], fifo: boolean): Promise<Map<number, Error>> {
    const out = await this.#sqs.send(
      new SendMessageBatchCommand({
        QueueUrl: queueUrl,
        Entries: chunk.map((e) => ({
          Id: String(e.index),
          MessageBody: e.encoded.body,
          MessageAttributes: e.encoded.attributes,
          ...(fifo ? fifoIds(e.message) : {}),
        })),
      }),
    );
    return batchFailures(chunk, out.Successful, out.Failed);
  }

  // ---------------------------------------------------------------- consume

  #consumer(
    queueUrl: string,
    shortPoll: boolean,
    prefetch: number,
    deliver: (lease: Lease) => void,
    giveBack: (l: Lease) => Promise<void>,
  ) {
    const consumer: QueueConsumer = new QueueConsumer({
      sqs: this.#sqs,
      queueUrl,
      prefetch,
      visibilityTimeoutSeconds: this.#settings.visibilityTimeoutSeconds,
      waitTimeSeconds: this.#settings.waitTimeSeconds,
      shortPoll,
      deliver,
      giveBack,
      onError: this.#onError,
      track: (controller) => {
        this.#receives.add(controller);
        return () => this.#receives.delete(controller);
      },
    });
    this.#consumers.add(consumer);
    const subscription: TransportSubscription = {
      stop: () => consumer.stop(),
      close: async () => {
        await consumer.close();
        this.#consumers.delete(consumer);
      },
    };
    return { consumer, subscription };
  }

  async subscribe(
    topic: string,
    group: string,
    options: TransportSubscribeOptions,
    sink: (delivery: Delivery) => void,
  ): Promise<TransportSubscription> {
    this.#ensureOpen();
    if (options.ordered && !this.#topology.fifo(topic)) {
      throw new CarrierError('UNSUPPORTED', 'per-key order needs FIFO (fifo=true)', { transport: TRANSPORT });
    }
    const queues = await this.#topology.group(topic, group);
    this.#ensureOpen();
    const { consumer, subscription } = this.#consumer(
      queues.queueUrl,
      queues.fifo,
      options.prefetch,
      (lease) => {
        const { message, attempt } = decodeMessage(lease.message);
        sink({
          message,
          attempt,
          lease: lease.lost.signal,
          ack: () => consumer.settle(lease, () => consumer.delete(lease)),
          retry: (delayMs) =>
            consumer.settle(lease, () => consumer.changeVisibility(lease, Math.ceil(delayMs / 1_000))),
          deadLetter: (info) =>
            consumer.settle(lease, async () => {
              await this.#sendDeadLetter(queues, message, info);
              await consumer.delete(lease);
            }),
          release: () => consumer.settle(lease, () => this.#giveBack(consumer, queues, lease)),
        });
      },
      (lease) => this.#giveBack(consumer, queues, lease),
    );
    consumer.start();
    return subscription;
  }

  /**
   * Gives a message back unprocessed (release(), a message received after stop, one left at close):
   * on a standard queue a copy that keeps its attempt number replaces it (SQS counts every receive,
   * and a receive that no handler settled-with-failure must not count; the correction travels in the
   * copy's attributes, so it holds in every process), visible at once. If the copy cannot be sent the
   * original is made visible again instead (its next attempt is then one higher). On FIFO queues it
   * is made visible again (a copy would go behind the rest of its key): there a release counts.
   */
  async #giveBack(consumer: QueueConsumer, queues: GroupQueues, lease: Lease): Promise<void> {
    if (queues.fifo) return consumer.changeVisibility(lease, 0);
    const { message, attempt } = decodeMessage(lease.message);
    const encoded = encodeMessage(message, { attemptOffset: attempt - 1 });
    try {
      await this.#sqs.send(
        new SendMessageCommand({
          QueueUrl: queues.queueUrl,
          MessageBody: encoded.body,
          MessageAttributes: encoded.attributes,
        }),
      );
    } catch {
      return consumer.changeVisibility(lease, 0);
    }
    await consumer.delete(lease);
  }

  async #sendDeadLetter(queues: GroupQueues, message: WireMessage, info: DeadLetterInfo): Promise<void> {
    const encoded = encodeMessage(message, { deadLetter: info });
    try {
      await this.#sqs.send(
        new SendMessageCommand({
          QueueUrl: queues.deadLetterQueueUrl,
          MessageBody: encoded.body,
          MessageAttributes: encoded.attributes,
          ...(queues.fifo
            ? { MessageGroupId: fifoToken(message.key ?? message.id), MessageDeduplicationId: randomUUID() }
            : {}),
        }),
      );
    } catch (error) {
      throw awsError('SQS SendMessage to the dead-letter queue', error, 'SETTLE_FAILED');
    }
  }

  async subscribeDeadLetters(
    topic: string,
    group: string,
    options: Pick<TransportSubscribeOptions, 'prefetch'>,
    sink: (delivery: DeadLetterDelivery) => void,
  ): Promise<TransportSubscription> {
    this.#ensureOpen();
    const queues = await this.#topology.group(topic, group);
    this.#ensureOpen();
    const { consumer, subscription } = this.#consumer(
      queues.deadLetterQueueUrl,
      true,
      options.prefetch,
      (lease) => {
        const { message, deadLetter, attempt } = decodeMessage(lease.message);
        sink({
          message,
          info: deadLetter ?? { reason: 'unknown', attempts: attempt, failedAt: message.publishedAt },
          ack: () => consumer.settle(lease, () => consumer.delete(lease)),
          release: () => consumer.settle(lease, () => consumer.changeVisibility(lease, 0)),
        });
      },
      (lease) => consumer.changeVisibility(lease, 0),
    );
    consumer.start();
    return subscription;
  }

  async redrive(topic: string, group: string, max: number): Promise<number> {
    this.#ensureOpen();
    const queues = await this.#topology.group(topic, group);
    let moved = 0;
    while (moved < max) {
      this.#ensureOpen();
      let letters: Message[];
      try {
        const out = await this.#sqs.send(
          new ReceiveMessageCommand({
            QueueUrl: queues.deadLetterQueueUrl,
            MaxNumberOfMessages: Math.min(MAX_BATCH_ENTRIES, max - moved),
            // long poll of 1 s: asks every SQS server, where a short poll samples only some
            WaitTimeSeconds: 1,
            VisibilityTimeout: 60,
            MessageAttributeNames: ['All'],
            MessageSystemAttributeNames: ['ApproximateReceiveCount', 'SentTimestamp'],
          }),
        );
        letters = (out.Messages ?? []).filter((m) => m.ReceiptHandle);
      } catch (error) {
        throw awsError('SQS ReceiveMessage (redrive)', error);
      }
      if (letters.length === 0) break;
      const copies = letters.map((l, i) => {
        const { message } = decodeMessage(l);
        const encoded = encodeMessage(message);
        return {
          Id: String(i),
          MessageBody: encoded.body,
          MessageAttributes: encoded.attributes,
          ...(queues.fifo
            ? { MessageGroupId: fifoToken(message.key ?? message.id), MessageDeduplicationId: randomUUID() }
            : {}),
        };
      });
      let sent: Set<string>;
      try {
        const out = await this.#sqs.send(
          new SendMessageBatchCommand({ QueueUrl: queues.queueUrl, Entries: copies }),
        );
        sent = new Set((out.Successful ?? []).map((s) => s.Id ?? ''));
      } catch (error) {
        sent = new Set();
        await this.#releaseLetters(queues.deadLetterQueueUrl, letters);
        throw awsError('SQS SendMessageBatch (redrive)', error);
      }
      const done = letters.filter((_, i) => sent.has(String(i)));
      const notSent = letters.filter((_, i) => !sent.has(String(i)));
      if (done.length > 0) {
        try {
          await this.#sqs.send(
            new DeleteMessageBatchCommand({
              QueueUrl: queues.deadLetterQueueUrl,
              Entries: done.map((l, i) => ({ Id: String(i), ReceiptHandle: l.ReceiptHandle! })),
            }),
          );
        } catch (error) {
          throw awsError(
            `SQS DeleteMessageBatch (redrive; ${done.length} letters were copied and may appear twice)`,
            error,
          );
        }
      }
      moved += done.length;
      if (notSent.length > 0) {
        await this.#releaseLetters(queues.deadLetterQueueUrl, notSent);
        throw new CarrierError(
          'PUBLISH_FAILED',
          `redrive: ${notSent.length} dead letters could not be sent back`,
          {
            transport: TRANSPORT,
          },
        );
      }
    }
    return moved;
  }

  async #releaseLetters(queueUrl: string, letters: Message[]): Promise<void> {
    await this.#sqs
      .send(
        new ChangeMessageVisibilityBatchCommand({
          QueueUrl: queueUrl,
          Entries: letters.map((l, i) => ({
            Id: String(i),
            ReceiptHandle: l.ReceiptHandle!,
            VisibilityTimeout: 0,
          })),
        }),
      )
      .catch(() => {});
  }

  // ---------------------------------------------------------------- shutdown

  /**
   * Graceful: refuses new operations (`CLOSED`), finishes the publishes in flight, closes every
   * consumer (each gives back what it holds and waits for its receives in flight, at most
   * `waitTimeSeconds`, giving back what they bring), waits for every call still in flight (each
   * has a deadline), then closes the clients. Idempotent.
   */
  close(): Promise<void> {
    this.#closing ??= this.#close();
    return this.#closing;
  }

  async #close(): Promise<void> {
    if (this.#aborted) return;
    this.#closed = true;
    await Promise.allSettled([...this.#publishes]);
    const consumers = [...this.#consumers];
    await Promise.allSettled(consumers.map((c) => c.close()));
    this.#consumers.clear();
    // batched settlements are sent on the next turn; then wait until nothing is in flight
    for (let i = 0; i < 100; i++) {
      await new Promise((resolve) => setImmediate(resolve));
      if (this.#calls.size === 0) break;
      await Promise.allSettled([...this.#calls]);
    }
    this.#sqs.destroy();
    this.#sns?.destroy();
  }

  async abort(): Promise<void> {
    if (this.#aborted) return;
    this.#aborted = true;
    this.#closed = true;
    for (const c of this.#consumers) c.abort();
    for (const c of this.#receives) c.abort();
    this.#consumers.clear();
    this.#sqs.destroy();
    this.#sns?.destroy();
  }
}

function fifoIds(message: WireMessage): { MessageGroupId: string; MessageDeduplicationId: string } {
  return {
    MessageGroupId: fifoToken(message.key ?? message.id),
    MessageDeduplicationId: fifoToken(message.id),
  };
}
