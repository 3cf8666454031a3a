import { randomUUID } from 'node:crypto';
import { SendMessageCommand, type SQSClient } from '@aws-sdk/client-sqs';
import type { DeadLetterDelivery, DeadLetterInfo, Delivery, WireMessage } from '@carrier/core';
import { awsError } from './errors.js';
import { native } from './native.js';
import type { Lease, Receiver } from './receiver.js';
import type { GroupQueues } from './topology.js';
import { decodeMessage, encodeMessage, fifoToken } from './wire.js';

/**
 * Gives a message back unprocessed (release(), a message received after stop, one left at close):
 * on a standard queue a copy that keeps its attempt number replaces it (SQS counts every receive,
 * and a receive that no handler settled-with-failure must not count; the correction travels in the
 * copy's attributes, so it holds in every process), visible at once. If the copy cannot be sent the
 * original is made visible again instead (its next attempt is then one higher). On FIFO queues it
 * is made visible again (a copy would go behind the rest of its key): there a release counts.
 */
export async function giveBack(
  sqs: SQSClient,
  receiver: Receiver,
  queues: GroupQueues,
  lease: Lease,
): Promise<void> {
  if (queues.fifo) return receiver.changeVisibility(lease, 0);
  const { message, attempt } = decodeMessage(lease.message);
  const encoded = encodeMessage(message, { attemptOffset: attempt - 1 });
  try {
    await sqs.send(
      new SendMessageCommand({
        QueueUrl: queues.queueUrl,
        MessageBody: encoded.body,
        MessageAttributes: encoded.attributes,
      }),
    );
  } catch {
    return receiver.changeVisibility(lease, 0);
  }
  await receiver.delete(lease);
}

/**
 * Send a copy of `message` with its dead-letter info to the group's dead-letter queue.
 * @throws CarrierError `SETTLE_FAILED` when SQS did not take it.
 */
async function sendDeadLetter(
  sqs: SQSClient,
  queues: GroupQueues,
  message: WireMessage,
  info: DeadLetterInfo,
): Promise<void> {
  const encoded = encodeMessage(message, { deadLetter: info });
  try {
    await sqs.send(
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

/**
 * The delivery of one group message: ack deletes it; retry hides it for the delay (visibility,
 * whole seconds rounded up); deadLetter sends a copy to the dead-letter queue, then deletes it;
 * release gives it back (see {@link giveBack}). Each settles once (see `Receiver.settle`).
 */
export function groupDelivery(
  sqs: SQSClient,
  receiver: Receiver,
  queues: GroupQueues,
  lease: Lease,
): Delivery {
  const { message, attempt } = decodeMessage(lease.message);
  return {
    message,
    attempt,
    lease: lease.lost.signal,
    ack: () => receiver.settle(lease, () => receiver.delete(lease), message.id),
    retry: (delayMs) =>
      receiver.settle(lease, () => receiver.changeVisibility(lease, Math.ceil(delayMs / 1_000)), message.id),
    deadLetter: (info) =>
      receiver.settle(
        lease,
        async () => {
          await sendDeadLetter(sqs, queues, message, info);
          await receiver.delete(lease);
        },
        message.id,
      ),
    release: () => receiver.settle(lease, () => giveBack(sqs, receiver, queues, lease)),
    native: (token) => (token === native.message ? native.message.wrap(lease.message) : undefined),
  };
}

/** The delivery of one dead letter: ack deletes it, release makes it visible again at once. */
export function deadLetterDelivery(receiver: Receiver, lease: Lease): DeadLetterDelivery {
  const { message, deadLetter, attempt } = decodeMessage(lease.message);
  return {
    message,
    info: deadLetter ?? { reason: 'unknown', attempts: attempt, failedAt: message.publishedAt },
    ack: () => receiver.settle(lease, () => receiver.delete(lease)),
    release: () => receiver.settle(lease, () => receiver.changeVisibility(lease, 0)),
  };
}
