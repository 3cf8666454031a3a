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

// The SQS the tests run on (moto through brokers/sqs/moto_server.py) must keep the promises of AWS
// that Carrier's tests count on; raw client, no Carrier code. moto compared a FIFO message's
// deduplication id only with the messages still in the queue, so an SDK retry of a
// SendMessageBatch whose first attempt was stored re-delivered the messages of that batch already
// consumed (CI: "many members of one group on one connection" saw one message handled twice with
// nothing failed). AWS accepts the copy and does not deliver it for 5 minutes from the first send,
// deleted or not (SQS Developer Guide, "Using the message deduplication ID").
// The concurrent-receive half of the launcher's fixes is a soak: soak/sqs.moto-receive.soak.spec.ts.

let sqs: SQSClient | undefined;
const queues: string[] = [];

afterEach(async () => {
  for (const QueueUrl of queues.splice(0))
    await sqs?.send(new DeleteQueueCommand({ QueueUrl })).catch(() => {});
  sqs?.destroy();
  sqs = undefined;
});

async function fifoQueue(): Promise<{ client: SQSClient; QueueUrl: string }> {
  const { endpoint, region } = sqsEndpoint(inject('brokers').sqs);
  const client = new SQSClient({ endpoint, region, credentials: awsCredentials(), maxAttempts: 1 });
  sqs = client;
  const { QueueUrl } = await client.send(
    new CreateQueueCommand({
      QueueName: `${freshName('test-broker')}.fifo`,
      Attributes: { FifoQueue: 'true', VisibilityTimeout: '60' },
    }),
  );
  if (!QueueUrl) throw new Error('CreateQueue returned no QueueUrl');
  queues.push(QueueUrl);
  return { client, QueueUrl };
}

describe('the SQS the tests run on', { timeout: 60_000 }, () => {
  it('a FIFO batch sent again with the same deduplication ids is accepted and not delivered again, though its messages were deleted', async () => {
    const { client, QueueUrl } = await fifoQueue();
    const batch = new SendMessageBatchCommand({
      QueueUrl,
      Entries: Array.from({ length: 10 }, (_, i) => ({
        Id: String(i),
        MessageBody: `m${i}`,
        MessageGroupId: `k${i}`,
        MessageDeduplicationId: `d${i}`,
      })),
    });
    const first = await client.send(batch);
    expect(first.Failed ?? []).toEqual([]);
    // consume and delete half of them, as a fast consumer does before a retried send arrives
    const bodies: string[] = [];
    while (bodies.length < 5) {
      const out = await client.send(
        new ReceiveMessageCommand({ QueueUrl, MaxNumberOfMessages: 5 - bodies.length, WaitTimeSeconds: 1 }),
      );
      const messages = out.Messages ?? [];
      bodies.push(...messages.map((m) => m.Body ?? ''));
      if (messages.length > 0)
        await client.send(
          new DeleteMessageBatchCommand({
            QueueUrl,
            Entries: messages.map((m, i) => ({ Id: String(i), ReceiptHandle: m.ReceiptHandle })),
          }),
        );
    }
    const again = await client.send(batch);
    expect(again.Failed ?? [], 'the copy is accepted').toEqual([]);
    expect(again.Successful?.length).toBe(10);
    // everything left: the other five, once each (the visibility timeout, 60 s, outlasts the test)
    for (;;) {
      const out = await client.send(
        new ReceiveMessageCommand({ QueueUrl, MaxNumberOfMessages: 10, WaitTimeSeconds: 1 }),
      );
      const messages = out.Messages ?? [];
      if (messages.length === 0) break;
      bodies.push(...messages.map((m) => m.Body ?? ''));
    }
    expect(bodies.sort()).toEqual(Array.from({ length: 10 }, (_, i) => `m${i}`).sort());
  });
});
