import { ChangeMessageVisibilityCommand, GetQueueAttributesCommand } from '@aws-sdk/client-sqs';
import * as kafka from '@carrier/adapter-kafka';
import * as nats from '@carrier/adapter-nats';
import * as rabbitmq from '@carrier/adapter-rabbitmq';
import * as sqs from '@carrier/adapter-sqs';
import { freshName, gate, waitFor } from '@carrier/contract';
import { type Carrier, connect, type Message, type Subscription } from '@carrier/core';
import { afterEach, describe, expect, inject, it } from 'vitest';
import '../src/context.js';

// Native access (carrier.as / subscription.as / message.as) on each broker: every native object
// is obtained through its adapter's typed token and used for one real call to the broker.

const open: Carrier[] = [];
const holds: Array<() => void> = [];
afterEach(async () => {
  for (const release of holds.splice(0)) release();
  await Promise.allSettled(open.splice(0).map((c) => c.close()));
});

/** A connection, a subscription of group `g` on a fresh topic, and one message held in its handler. */
async function heldMessage(url: string, prefix: string) {
  const carrier = await connect(url);
  open.push(carrier);
  const topic = freshName(prefix);
  const hold = gate();
  let held: Message | undefined;
  const subscription: Subscription = await carrier.subscribe(topic, { group: 'g' }, async (m) => {
    held = m;
    await hold.promise;
  });
  const { id } = await carrier.publish(topic, { native: true });
  holds.push(hold.open);
  await waitFor(() => held !== undefined, 20_000, 'the message in the handler');
  return { carrier, topic, subscription, message: held!, id, release: hold.open };
}

describe('native access', () => {
  it('kafka: kafkajs Kafka, admin, producer, consumer and record', { timeout: 90_000 }, async () => {
    const { carrier, topic, subscription, message, release } = await heldMessage(
      inject('brokers').kafka,
      'native-kafka',
    );
    const conn = carrier.as(kafka.native.connection);
    expect(await conn.admin.listTopics()).toContain(topic);
    const producer = await conn.producer();
    await producer.send({ topic, acks: -1, messages: [{ value: 'sent natively' }] });
    const sub = subscription.as(kafka.native.subscription);
    expect(sub.groupId).toBe(kafka.consumerGroupId(topic, 'g'));
    expect((await sub.consumer.describeGroup()).groupId).toBe(sub.groupId);
    const record = message.as(kafka.native.message);
    expect(record.topic).toBe(topic);
    const [partition] = (await conn.admin.fetchTopicOffsets(topic)).filter(
      (p) => p.partition === record.partition,
    );
    expect(BigInt(record.message.offset)).toBeLessThan(BigInt(partition!.high));
    expect(() => carrier.as(nats.native.connection)).toThrow(/UNSUPPORTED|nats/);
    release();
  });

  it('rabbitmq: amqplib connection, consumer channel and ConsumeMessage', { timeout: 60_000 }, async () => {
    const { carrier, topic, subscription, message, id, release } = await heldMessage(
      inject('brokers').rabbitmq,
      'native-rabbit',
    );
    const connection = await carrier.as(rabbitmq.native.connection).connection();
    const channel = await connection.createChannel();
    try {
      const sub = subscription.as(rabbitmq.native.subscription);
      expect(sub.queue).toBe(rabbitmq.groupQueueName(topic, 'g'));
      expect(sub.consumerTag).toBeTypeOf('string');
      const queue = await channel.checkQueue(sub.queue);
      expect(queue.consumerCount).toBe(1);
      const received = message.as(rabbitmq.native.message);
      expect(received.properties.messageId).toBe(id);
      await channel.checkExchange(received.fields.exchange);
    } finally {
      await channel.close();
    }
    release();
  });

  it('nats: nats.js connection, JetStream manager, consumer info and pulled Msg', {
    timeout: 60_000,
  }, async () => {
    const { carrier, topic, subscription, message, release } = await heldMessage(
      inject('brokers').nats,
      'native-nats',
    );
    const conn = carrier.as(nats.native.connection);
    const stream = await conn.manager.streams.info(nats.topicStream(topic));
    expect(stream.state.messages).toBeGreaterThanOrEqual(1);
    await conn.connection.flush();
    const sub = subscription.as(nats.native.subscription);
    const info = await sub.info();
    expect(info.name).toBe(sub.consumer);
    expect(info.num_ack_pending).toBe(1);
    const pulled = message.as(nats.native.message);
    expect(pulled.info?.deliveryCount).toBe(1);
    const stored = await conn.manager.streams.getMessage(sub.stream, { seq: pulled.info!.streamSequence });
    expect(Buffer.from(stored!.data).equals(Buffer.from(pulled.msg.data))).toBe(true);
    release();
  });

  it('sqs: the SQS client, the queue URL and the received Message', { timeout: 60_000 }, async () => {
    const { carrier, subscription, message, id, release } = await heldMessage(
      inject('brokers').sqs,
      'native-sqs',
    );
    const conn = carrier.as(sqs.native.connection);
    const sub = subscription.as(sqs.native.subscription);
    const arn = await conn.sqs.send(
      new GetQueueAttributesCommand({ QueueUrl: sub.queueUrl, AttributeNames: ['QueueArn'] }),
    );
    expect(arn.Attributes?.QueueArn).toMatch(/^arn:/);
    const attributes = await sub.sqs.send(
      new GetQueueAttributesCommand({
        QueueUrl: sub.queueUrl,
        AttributeNames: ['ApproximateNumberOfMessagesNotVisible'],
      }),
    );
    expect(Number(attributes.Attributes?.ApproximateNumberOfMessagesNotVisible)).toBeGreaterThanOrEqual(1);
    const received = message.as(sqs.native.message);
    expect(received.MessageId).toBeTypeOf('string');
    expect(JSON.stringify(received.MessageAttributes ?? {})).toContain(id);
    await conn.sqs.send(
      new ChangeMessageVisibilityCommand({
        QueueUrl: sub.queueUrl,
        ReceiptHandle: received.ReceiptHandle,
        VisibilityTimeout: 60,
      }),
    );
    release();
  });
});
