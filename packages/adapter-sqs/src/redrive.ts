import { randomUUID } from 'node:crypto';
import {
  ChangeMessageVisibilityBatchCommand,
  DeleteMessageBatchCommand,
  type Message,
  ReceiveMessageCommand,
  SendMessageBatchCommand,
  type SQSClient,
} from '@aws-sdk/client-sqs';
import { CarrierError } from '@carrier/core';
import { MAX_BATCH_ENTRIES } from './batcher.js';
import { awsError, TRANSPORT } from './errors.js';
import type { GroupQueues } from './topology.js';
import { decodeMessage, encodeMessage, fifoToken } from './wire.js';

/**
 * Move up to `max` dead letters of a group back to its queue, 10 at a time: receive from the
 * dead-letter queue, send copies (attempt and dead-letter attributes removed), delete the letters
 * sent and make the others visible again. `ensureOpen` is called before each batch. Resolves with
 * how many moved.
 *
 * @throws CarrierError `CLOSED` (from `ensureOpen`); `PUBLISH_FAILED` when some copies were not
 *   accepted; `CONNECTION` when a call failed (a failed delete leaves letters that were copied, which
 *   then appear twice).
 */
export async function redrive(
  sqs: SQSClient,
  queues: GroupQueues,
  max: number,
  ensureOpen: () => void,
): Promise<number> {
  let moved = 0;
  while (moved < max) {
    ensureOpen();
    const letters = await receiveLetters(
      sqs,
      queues.deadLetterQueueUrl,
      Math.min(MAX_BATCH_ENTRIES, max - moved),
    );
    if (letters.length === 0) break;
    const sent = await sendCopies(sqs, queues, letters);
    const done = letters.filter((_, i) => sent.has(String(i)));
    const notSent = letters.filter((_, i) => !sent.has(String(i)));
    if (done.length > 0) await deleteLetters(sqs, queues.deadLetterQueueUrl, done);
    moved += done.length;
    if (notSent.length > 0) {
      await releaseLetters(sqs, queues.deadLetterQueueUrl, notSent);
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

async function receiveLetters(sqs: SQSClient, queueUrl: string, count: number): Promise<Message[]> {
  try {
    const out = await sqs.send(
      new ReceiveMessageCommand({
        QueueUrl: queueUrl,
        MaxNumberOfMessages: count,
        // long poll of 1 s: asks every SQS server, where a short poll samples only some
        WaitTimeSeconds: 1,
        VisibilityTimeout: 60,
        MessageAttributeNames: ['All'],
        MessageSystemAttributeNames: ['ApproximateReceiveCount', 'SentTimestamp'],
      }),
    );
    return (out.Messages ?? []).filter((m) => m.ReceiptHandle);
  } catch (error) {
    throw awsError('SQS ReceiveMessage (redrive)', error);
  }
}

/** Send the copies of `letters` to the group queue; resolves with the batch ids (`"0"`, `"1"`, …) sent. */
async function sendCopies(sqs: SQSClient, queues: GroupQueues, letters: Message[]): Promise<Set<string>> {
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
  try {
    const out = await sqs.send(new SendMessageBatchCommand({ QueueUrl: queues.queueUrl, Entries: copies }));
    return new Set((out.Successful ?? []).map((s) => s.Id ?? ''));
  } catch (error) {
    await releaseLetters(sqs, queues.deadLetterQueueUrl, letters);
    throw awsError('SQS SendMessageBatch (redrive)', error);
  }
}

async function deleteLetters(sqs: SQSClient, queueUrl: string, done: Message[]): Promise<void> {
  try {
    await sqs.send(
      new DeleteMessageBatchCommand({
        QueueUrl: queueUrl,
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

/** Make `letters` visible again at once (best effort). */
async function releaseLetters(sqs: SQSClient, queueUrl: string, letters: Message[]): Promise<void> {
  await sqs
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
