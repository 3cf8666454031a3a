import { randomUUID } from 'node:crypto';
import {
  CreateTopicCommand,
  DeleteTopicCommand,
  PublishCommand,
  SNSClient,
  SubscribeCommand,
} from '@aws-sdk/client-sns';
import {
  CreateQueueCommand,
  DeleteMessageCommand,
  DeleteQueueCommand,
  GetQueueAttributesCommand,
  ReceiveMessageCommand,
  SQSClient,
} from '@aws-sdk/client-sqs';
import { AckPolicy, jetstream, jetstreamManager } from '@nats-io/jetstream';
import { connect as natsConnect } from '@nats-io/transport-node';
import amqp from 'amqplib';
import { Kafka, logLevel } from 'kafkajs';
import { describe, expect, inject, it } from 'vitest';
import '../src/context.js';
import { awsCredentials, kafkaBrokers, natsConnectOptions, sqsEndpoint } from '../src/urls.js';

// One message through each broker with its raw client: proves the harness gives real, working
// brokers. Every test uses fresh names, so runs never see each other's messages.

const brokers = inject('brokers');
const fresh = (prefix: string) => `${prefix}-${randomUUID().slice(0, 8)}`;

/** Resolves with the first value `attempt` returns that is not undefined; fails after `timeoutMs`. */
async function eventually<T>(
  what: string,
  timeoutMs: number,
  attempt: () => Promise<T | undefined>,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await attempt();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`${what}: nothing after ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

describe('smoke: the harness brokers answer their raw clients', () => {
  it('kafka: produce and consume one message (kafkajs)', async () => {
    const kafka = new Kafka({
      clientId: 'carrier-smoke',
      brokers: kafkaBrokers(brokers.kafka),
      logLevel: logLevel.NOTHING,
    });
    const topic = fresh('smoke');
    const value = `hello ${randomUUID()}`;
    const admin = kafka.admin();
    const producer = kafka.producer({ allowAutoTopicCreation: false });
    const consumer = kafka.consumer({ groupId: fresh('smoke-group') });
    try {
      await admin.connect();
      expect(await admin.createTopics({ topics: [{ topic, numPartitions: 1 }], waitForLeaders: true })).toBe(
        true,
      );
      await producer.connect();
      const [meta] = await producer.send({ topic, acks: -1, messages: [{ key: 'k1', value }] });
      expect(meta?.errorCode).toBe(0);

      await consumer.connect();
      await consumer.subscribe({ topic, fromBeginning: true });
      const received = new Promise<{ key: string; value: string }>((resolve) => {
        void consumer.run({
          eachMessage: async ({ message }) => {
            resolve({ key: message.key?.toString() ?? '', value: message.value?.toString() ?? '' });
          },
        });
      });
      const timeout = new Promise<never>((_, reject) =>
        setTimeout(() => reject(new Error('no Kafka message within 60 s')), 60_000).unref(),
      );
      await expect(Promise.race([received, timeout])).resolves.toEqual({ key: 'k1', value });
    } finally {
      await consumer.disconnect();
      await producer.disconnect();
      await admin.deleteTopics({ topics: [topic] }).catch(() => {});
      await admin.disconnect();
    }
  });

  it('rabbitmq: publish with confirms and get one message from a quorum queue (amqplib)', async () => {
    const conn = await amqp.connect(brokers.rabbitmq);
    const queue = fresh('smoke');
    const body = `hello ${randomUUID()}`;
    try {
      const ch = await conn.createConfirmChannel();
      const q = await ch.assertQueue(queue, { durable: true, arguments: { 'x-queue-type': 'quorum' } });
      expect(q.queue).toBe(queue);
      ch.sendToQueue(queue, Buffer.from(body), { persistent: true, headers: { tenant: 'acme' } });
      await ch.waitForConfirms();
      const msg = await eventually('rabbitmq get', 30_000, async () => (await ch.get(queue)) || undefined);
      expect(msg.content.toString()).toBe(body);
      expect(msg.properties.headers?.tenant).toBe('acme');
      ch.ack(msg);
      await ch.deleteQueue(queue);
      await ch.close();
    } finally {
      await conn.close();
    }
  });

  it('nats: JetStream publish and consume one message', async () => {
    const nc = await natsConnect(natsConnectOptions(brokers.nats));
    const stream = fresh('SMOKE').replace(/-/g, '_');
    const subject = `${stream}.orders`;
    const body = `hello ${randomUUID()}`;
    try {
      const jsm = await jetstreamManager(nc);
      await jsm.streams.add({ name: stream, subjects: [`${stream}.>`] });
      const js = jetstream(nc);
      const ack = await js.publish(subject, body);
      expect(ack.stream).toBe(stream);
      expect(ack.seq).toBe(1);
      await jsm.consumers.add(stream, { durable_name: 'smoke', ack_policy: AckPolicy.Explicit });
      const consumer = await js.consumers.get(stream, 'smoke');
      const msg = await eventually(
        'jetstream next',
        30_000,
        async () => (await consumer.next({ expires: 5_000 })) ?? undefined,
      );
      expect(msg.subject).toBe(subject);
      expect(msg.string()).toBe(body);
      await msg.ackAck();
      await jsm.streams.delete(stream);
    } finally {
      await nc.close();
    }
  });

  it('sqs: SNS -> SQS fan-out with raw delivery, received by long polling', async () => {
    const { endpoint, region } = sqsEndpoint(brokers.sqs);
    const sqs = new SQSClient({ endpoint, region, credentials: awsCredentials() });
    const sns = new SNSClient({ endpoint, region, credentials: awsCredentials() });
    const topicName = fresh('smoke');
    const body = JSON.stringify({ hello: randomUUID() });
    const queues: string[] = [];
    let topicArn: string | undefined;
    try {
      topicArn = (await sns.send(new CreateTopicCommand({ Name: topicName }))).TopicArn!;
      // two groups: each must get its own copy
      for (const group of ['billing', 'shipping']) {
        const queueUrl = (await sqs.send(new CreateQueueCommand({ QueueName: `${topicName}-${group}` })))
          .QueueUrl!;
        queues.push(queueUrl);
        const attrs = await sqs.send(
          new GetQueueAttributesCommand({ QueueUrl: queueUrl, AttributeNames: ['QueueArn'] }),
        );
        await sns.send(
          new SubscribeCommand({
            TopicArn: topicArn,
            Protocol: 'sqs',
            Endpoint: attrs.Attributes!.QueueArn!,
            Attributes: { RawMessageDelivery: 'true' },
          }),
        );
      }
      await sns.send(new PublishCommand({ TopicArn: topicArn, Message: body }));
      for (const queueUrl of queues) {
        const msg = await eventually('sqs receive', 30_000, async () => {
          const r = await sqs.send(
            new ReceiveMessageCommand({ QueueUrl: queueUrl, WaitTimeSeconds: 5, MaxNumberOfMessages: 1 }),
          );
          return r.Messages?.[0];
        });
        expect(msg.Body).toBe(body); // raw delivery: the body as published, no SNS envelope
        await sqs.send(new DeleteMessageCommand({ QueueUrl: queueUrl, ReceiptHandle: msg.ReceiptHandle! }));
      }
    } finally {
      for (const q of queues) await sqs.send(new DeleteQueueCommand({ QueueUrl: q })).catch(() => {});
      if (topicArn) await sns.send(new DeleteTopicCommand({ TopicArn: topicArn })).catch(() => {});
      sqs.destroy();
      sns.destroy();
    }
  });
});
