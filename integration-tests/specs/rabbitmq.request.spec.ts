import { exchangeName, groupQueueName } from '@carrier/adapter-rabbitmq';
import { freshName, waitFor } from '@carrier/contract';
import { type Carrier, connect } from '@carrier/core';
import amqp from 'amqplib';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import '../src/context.js';

// Request/reply between Carrier and plain amqplib clients, the way the RabbitMQ RPC tutorial does
// it (docs/brokers/rabbitmq.md, "Request/reply"): `reply_to` and `correlation_id` are the AMQP
// properties, the reply goes to the default exchange with the reply address as routing key.

const url = () => inject('brokers').rabbitmq;

describe('rabbitmq request/reply with native amqplib clients', () => {
  let carrier: Carrier;
  let native: amqp.ChannelModel;

  beforeAll(async () => {
    carrier = await connect(url());
    native = await amqp.connect(url());
  });

  afterAll(async () => {
    await carrier?.close();
    await native?.close();
  });

  it('a Carrier handler answers a native requester using direct reply-to', async () => {
    const topic = freshName('rmq-rr-native-client');
    await carrier.subscribe(topic, { group: 'pricing' }, async (m) => {
      await m.reply({ price: 42, for: m.body }, { headers: { currency: 'EUR' } });
    });
    const channel = await native.createChannel();
    const replies: amqp.ConsumeMessage[] = [];
    await channel.consume('amq.rabbitmq.reply-to', (msg) => msg && replies.push(msg), { noAck: true });
    channel.publish(exchangeName(topic), '', Buffer.from('"sku-1"'), {
      replyTo: 'amq.rabbitmq.reply-to',
      correlationId: 'native-1',
      contentType: 'application/json',
    });
    await waitFor(() => replies.length > 0, 10_000, 'the reply to the native request');
    const reply = replies[0]!;
    expect(reply.properties.correlationId).toBe('native-1');
    expect(reply.properties.headers?.currency).toBe('EUR');
    expect(reply.properties.contentType).toBe('application/json');
    expect(JSON.parse(reply.content.toString())).toEqual({ price: 42, for: 'sku-1' });
    await channel.close();
  });

  it('a native responder answers a Carrier request (reply_to and correlation_id properties)', async () => {
    const topic = freshName('rmq-rr-native-server');
    await carrier.declare(topic, ['pricing']);
    const channel = await native.createChannel();
    await channel.consume(groupQueueName(topic, 'pricing'), (msg) => {
      if (!msg) return;
      const { replyTo, correlationId } = msg.properties;
      channel.sendToQueue(replyTo, Buffer.from(`priced ${msg.content.toString()}`), {
        correlationId,
        contentType: 'text/plain; charset=utf-8',
      });
      channel.ack(msg);
    });
    const reply = await carrier.request(topic, 'sku-9', { timeoutMs: 10_000 });
    expect(reply.body).toBe('priced sku-9');
    await channel.close();
  });

  it('a reply to a requester that is gone is dropped by the broker, not queued', async () => {
    const topic = freshName('rmq-rr-gone');
    const held: Array<() => void> = [];
    const outcomes: unknown[] = [];
    await carrier.subscribe(topic, { group: 'pricing' }, async (m) => {
      await new Promise<void>((resolve) => held.push(() => resolve()));
      outcomes.push(
        await m.reply('late').then(
          () => 'ok',
          (e: unknown) => e,
        ),
      );
    });
    const requester = await connect(url());
    const waiting = requester.request(topic, 'x', { timeoutMs: 30_000 }).catch((e: unknown) => e);
    await waitFor(() => held.length === 1, 10_000, 'the server to take the request');
    await requester.close();
    expect((await waiting) as { code?: string }).toMatchObject({ code: 'CLOSED' });
    held[0]!();
    await waitFor(() => outcomes.length === 1, 10_000, 'the reply to the closed requester');
    expect(outcomes).toEqual(['ok']);
    // the publishing channel survived: the next request works
    const again = await connect(url());
    try {
      held.length = 0;
      const next = again.request(topic, 'y', { timeoutMs: 10_000 });
      await waitFor(() => held.length === 1, 10_000, 'the server to take the next request');
      held[0]!();
      expect((await next).body).toBe('late');
    } finally {
      await again.close();
    }
  });
});
