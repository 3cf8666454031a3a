import {
  CreateQueueCommand,
  DeleteMessageBatchCommand,
  DeleteQueueCommand,
  ReceiveMessageCommand,
  SendMessageBatchCommand,
  SQSClient,
} from '@aws-sdk/client-sqs';
import { freshName } from '@carrier/contract';
import { afterEach, describe, expect, inject, it } from 'vitest';
import '../src/context.js';
import { awsCredentials, sqsEndpoint } from '../src/urls.js';

// The SQS the tests run on (moto through brokers/sqs/moto_server.py) hands a FIFO message to one
// receiver at a time, as AWS does: many concurrent ReceiveMessage calls on one queue, raw client,
// no Carrier code. moto's own server took one message on two receives now and then under load
// (CI: "many members of one group on one connection" saw a message handled twice with nothing
// failed); the launcher makes its receive, delete, visibility change and send hold the queue's
// lock. A soak rather than `npm test`: it checks the test broker, not Carrier, and it needs a
// loaded machine to show anything (a CI run at load average 30 still saw one duplicate with only
// the receive locked).

const MESSAGES = 400;
const RECEIVERS = 20;
const TIMEOUT = 180_000;

let sqs: SQSClient | undefined;
const queues: string[] = [];

afterEach(async () => {
  for (const QueueUrl of queues.splice(0))
    await sqs?.send(new DeleteQueueCommand({ QueueUrl })).catch(() => {});
  sqs?.destroy();
  sqs = undefined;
});

describe('moto as the tests run it', () => {
  it(
    `a FIFO message goes to one of ${RECEIVERS} concurrent receivers, once`,
    async () => {
      const { endpoint, region } = sqsEndpoint(inject('brokers').sqs);
      sqs = new SQSClient({ endpoint, region, credentials: awsCredentials(), maxAttempts: 1 });
      const { QueueUrl } = await sqs.send(
        new CreateQueueCommand({
          QueueName: `${freshName('moto-rx')}.fifo`,
          // long enough that no message comes back because its visibility ran out
          Attributes: { FifoQueue: 'true', VisibilityTimeout: '120' },
        }),
      );
      if (!QueueUrl) throw new Error('CreateQueue returned no QueueUrl');
      queues.push(QueueUrl);
      for (let i = 0; i < MESSAGES; i += 10) {
        await sqs.send(
          new SendMessageBatchCommand({
            QueueUrl,
            Entries: Array.from({ length: 10 }, (_, j) => ({
              Id: String(j),
              MessageBody: `m${i + j}`,
              // one group per message: every message is free to go to any receiver
              MessageGroupId: `k${i + j}`,
              MessageDeduplicationId: `d${i + j}`,
            })),
          }),
        );
      }
      const received = new Map<string, number>();
      const deadline = Date.now() + TIMEOUT - 5_000;
      const receiver = async (client: SQSClient) => {
        while (received.size < MESSAGES && Date.now() < deadline) {
          const out = await client.send(
            new ReceiveMessageCommand({ QueueUrl, MaxNumberOfMessages: 2, WaitTimeSeconds: 1 }),
          );
          const messages = out.Messages ?? [];
          for (const m of messages) received.set(m.Body ?? '', (received.get(m.Body ?? '') ?? 0) + 1);
          if (messages.length > 0)
            await client.send(
              new DeleteMessageBatchCommand({
                QueueUrl,
                Entries: messages.map((m, i) => ({ Id: String(i), ReceiptHandle: m.ReceiptHandle })),
              }),
            );
        }
      };
      await Promise.all(Array.from({ length: RECEIVERS }, () => receiver(sqs as SQSClient)));
      const twice = [...received].filter(([, n]) => n > 1).map(([body, n]) => `${body} ×${n}`);
      expect(received.size, 'messages received').toBe(MESSAGES);
      expect(twice, 'messages received more than once').toEqual([]);
    },
    TIMEOUT,
  );
});
