import { createTransport } from '@carrier/adapter-rabbitmq';
import { freshName } from '@carrier/contract';
import type { DeadLetterDelivery, Delivery, Transport } from '@carrier/core';
import { afterEach, beforeAll, describe, expect, inject, it } from 'vitest';
import '../src/context.js';
import { probe } from '../src/probes.js';
import { Inbox, wireMessage } from './attempt-child-support.js';

// Quorum queues of RabbitMQ 4.x have a delivery limit of 20 by default (3.x: none): a message
// returned to the queue more than 20 times is dead-lettered by the broker (to Carrier's DLQ, the
// group queue's dead-letter route). How that meets Carrier's retries (docs/brokers/rabbitmq.md,
// "Quorum queues' delivery limit"):
// - retry() republishes a copy and acks the original, so the broker's count starts again with each
//   attempt: a retry policy of more than 20 attempts runs to its end on every version;
// - crash redeliveries (abort, a killed consumer) are counted by the broker: past 20 of them, the
//   broker dead-letters the message, with reason `delivery_limit` in the dead letter.

const url = () => `${inject('brokers').rabbitmq}?queueType=quorum`;
let major = 0;
beforeAll(async () => {
  const { version } = await probe('rabbitmq', inject('brokers').rabbitmq);
  major = Number(version?.split('.')[0]);
});

const open: Transport[] = [];
afterEach(async () => {
  await Promise.allSettled(open.splice(0).map((t) => t.close()));
});
async function transport(): Promise<Transport> {
  const t = await createTransport(new URL(url()), { onError: () => {} });
  open.push(t);
  return t;
}
async function subscribe(t: Transport, topic: string): Promise<Inbox<Delivery>> {
  const inbox = new Inbox<Delivery>();
  await t.subscribe(topic, 'g', { prefetch: 1, ordered: false }, inbox.sink);
  return inbox;
}

describe('rabbitmq quorum queues: the delivery limit (20 by default from 4.0)', () => {
  it('retry() past 20 attempts: every attempt is delivered, the broker never dead-letters a retried copy', {
    timeout: 120_000,
  }, async () => {
    const topic = freshName('limit-retry');
    const t = await transport();
    await t.declare(topic, ['g']);
    const id = freshName('m');
    await t.publish(topic, [wireMessage(id)]);
    const inbox = await subscribe(t, topic);
    for (let attempt = 1; attempt <= 25; attempt++) {
      const d = await inbox.next(10_000, `attempt ${attempt}`);
      expect(d.message.id).toBe(id);
      expect(d.attempt).toBe(attempt);
      if (attempt < 25) await d.retry(0);
      else await d.ack();
    }
    expect(await inbox.quietFor(300)).toBe(true);
  });

  it('more than 20 crash redeliveries: RabbitMQ 4 dead-letters the message into the DLQ with reason delivery_limit', {
    timeout: 180_000,
  }, async (ctx) => {
    if (major < 4) ctx.skip(`RabbitMQ ${major}.x quorum queues have no default delivery limit`);
    const topic = freshName('limit-crash');
    const first = await transport();
    await first.declare(topic, ['g']);
    const id = freshName('m');
    await first.publish(topic, [wireMessage(id)]);
    // delivered, then the consumer crashes (abort: the broker returns the message and counts it)
    let holder = first;
    let delivered = 0;
    for (;;) {
      const inbox = await subscribe(holder, topic);
      const d = await inbox.next(10_000, `delivery ${delivered + 1}`).catch(() => undefined);
      if (!d) break; // not redelivered any more: dead-lettered
      expect(d.message.id).toBe(id);
      delivered++;
      expect(delivered).toBeLessThanOrEqual(21);
      await holder.abort();
      open.splice(open.indexOf(holder), 1);
      holder = await transport();
    }
    // the first delivery and 20 redeliveries, then the limit
    expect(delivered).toBe(21);
    const letters = new Inbox<DeadLetterDelivery>();
    await holder.subscribeDeadLetters(topic, 'g', { prefetch: 1 }, letters.sink);
    const letter = await letters.next(10_000, 'the dead letter');
    expect(letter.message.id).toBe(id);
    expect(letter.info?.reason).toBe('dead-lettered by RabbitMQ: delivery_limit');
    await letter.ack();
  });
});
