import { PublishBatchCommand, type SNSClient } from '@aws-sdk/client-sns';
import { SendMessageBatchCommand, type SQSClient } from '@aws-sdk/client-sqs';
import { CarrierError, type WireMessage } from '@carrier/core';
import { nothingPublished, publishFailed } from '@carrier/core/kit';
import { delayPath, sendDelay } from './delay.js';
import { awsError, TRANSPORT } from './errors.js';
import { batchFailures, chunk, type Entry } from './publish-batches.js';
import type { Topology } from './topology.js';
import type { SqsSettings } from './url.js';
import { encodeMessage, fifoToken } from './wire.js';

/** SNS message limit (body plus attributes), also the SNS PublishBatch request limit, in bytes. */
const SNS_MAX_BYTES = 262_144;
/** SQS message limit (body plus attributes), also the SendMessageBatch request limit, in bytes. */
const SQS_MAX_BYTES = 1_048_576;
/** Bytes kept free for Carrier's attributes when computing `maxMessageBytes`. */
const METADATA_ALLOWANCE = 4_096;
/** Parallel batch calls of one standard (non-FIFO) publish. */
const PUBLISH_PARALLELISM = 4;

/** The largest message a caller can send: what still fits after base64 (4/3) and Carrier's attributes. */
export function maxMessageBytes(limit: number): number {
  return Math.floor(((limit - METADATA_ALLOWANCE) * 3) / 4);
}

/** One batch call: resolves with the entries that were not accepted, by position in the publish. */
type Send = (chunk: Entry[]) => Promise<Map<number, Error>>;

/** FIFO ids of a published message: key (else id) → MessageGroupId, id → MessageDeduplicationId. */
function fifoIds(message: WireMessage): { MessageGroupId: string; MessageDeduplicationId: string } {
  return {
    MessageGroupId: fifoToken(message.key ?? message.id),
    MessageDeduplicationId: fifoToken(message.id),
  };
}

/**
 * Publishes to a topic: SNS PublishBatch in SNS mode, SQS SendMessageBatch to the topic's queue in
 * queue-only mode; batches of up to 10 entries within the request size limit, up to 4 in parallel
 * (FIFO topics: one after the other, so that a key's order survives).
 */
export class Producer {
  /** Byte limit of one message and of one batch request (SNS or SQS). */
  readonly limit: number;

  constructor(
    private readonly sqs: SQSClient,
    private readonly sns: SNSClient | undefined,
    private readonly topology: Topology,
    private readonly settings: SqsSettings,
  ) {
    this.limit = settings.sns ? SNS_MAX_BYTES : SQS_MAX_BYTES;
  }

  /**
   * Publish `messages` to `topic` (see `Transport.publish`).
   *
   * A delayed message (`deliverAt`) takes its topic's delay path (delay.ts): `DelaySeconds` on a
   * standard queue, its due time in `carrier-meta` for the receiver to hold.
   *
   * @throws CarrierError `MESSAGE_TOO_LARGE` when one is over the limit once encoded (nothing is
   *   sent); `UNSUPPORTED` for a delay a FIFO topic cannot hold (nothing is sent);
   *   `PUBLISH_FAILED` naming the messages not accepted.
   */
  async publish(topic: string, messages: readonly WireMessage[]): Promise<void> {
    const fifo = this.topology.fifo(topic);
    const path = delayPath(this.settings.sns, fifo);
    const now = Date.now();
    const entries: Entry[] = messages.map((message, index) => {
      const delay = sendDelay(message, path, now);
      return {
        index,
        message,
        encoded: encodeMessage(message, { deliverAt: delay.deliverAt }),
        delaySeconds: delay.delaySeconds,
      };
    });
    for (const e of entries) {
      if (e.encoded.size > this.limit) {
        throw new CarrierError(
          'MESSAGE_TOO_LARGE',
          `message ${e.index} is ${e.encoded.size} bytes once encoded for ${this.settings.sns ? 'SNS' : 'SQS'}, over its limit of ${this.limit}`,
          { transport: TRANSPORT },
        );
      }
    }
    let send: Send;
    try {
      send = await this.#sender(topic, fifo);
    } catch (cause) {
      throw nothingPublished(TRANSPORT, topic, messages, cause);
    }
    const chunks = chunk(entries, this.limit);
    const failed = fifo ? await sendInOrder(send, chunks) : await sendInParallel(send, chunks);
    if (failed.size > 0) throw publishFailed(TRANSPORT, topic, messages, failed);
  }

  /** The batch call for `topic`, once its topic (SNS mode) or queue (queue-only mode) is in place. */
  async #sender(topic: string, fifo: boolean): Promise<Send> {
    if (this.settings.sns) {
      const arn = await this.topology.topicArn(topic);
      return (chunk) => this.#publishSns(arn, chunk, fifo);
    }
    const url = await this.topology.topicQueueUrl(topic);
    return (chunk) => this.#sendSqs(url, chunk, fifo);
  }

  async #publishSns(topicArn: string, chunk: Entry[], fifo: boolean): Promise<Map<number, Error>> {
    const out = await this.sns!.send(
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
    const out = await this.sqs.send(
      new SendMessageBatchCommand({
        QueueUrl: queueUrl,
        Entries: chunk.map((e) => ({
          Id: String(e.index),
          MessageBody: e.encoded.body,
          MessageAttributes: e.encoded.attributes,
          ...(e.delaySeconds ? { DelaySeconds: e.delaySeconds } : {}),
          ...(fifo ? fifoIds(e.message) : {}),
        })),
      }),
    );
    return batchFailures(chunk, out.Successful, out.Failed);
  }
}

/** Send one chunk; a failed call fails each of its entries. */
async function sendChunk(send: Send, c: Entry[], failed: Map<number, Error>): Promise<void> {
  try {
    for (const [i, e] of await send(c)) failed.set(i, e);
  } catch (error) {
    const e = awsError('publish', error, 'PUBLISH_FAILED');
    for (const x of c) failed.set(x.index, e);
  }
}

/** One call after the other, so that the order of a key survives; after a failure the rest is not sent. */
async function sendInOrder(send: Send, chunks: Entry[][]): Promise<Map<number, Error>> {
  const failed = new Map<number, Error>();
  for (const c of chunks) {
    if (failed.size > 0) {
      const e = new Error('not sent: an earlier batch of this FIFO publish failed');
      for (const x of c) failed.set(x.index, e);
      continue;
    }
    await sendChunk(send, c, failed);
  }
  return failed;
}

/** Up to {@link PUBLISH_PARALLELISM} calls at a time. */
async function sendInParallel(send: Send, chunks: Entry[][]): Promise<Map<number, Error>> {
  const failed = new Map<number, Error>();
  let next = 0;
  const worker = async () => {
    while (next < chunks.length) await sendChunk(send, chunks[next++]!, failed);
  };
  await Promise.all(Array.from({ length: Math.min(PUBLISH_PARALLELISM, chunks.length) }, worker));
  return failed;
}
