import { createTransport } from '@carrier/adapter-nats';
import { freshName } from '@carrier/contract';
import type { Delivery, Transport } from '@carrier/core';
import { afterEach, describe, expect, inject, it } from 'vitest';
import '../src/context.js';
import { Inbox, spawnHolder, wireMessage } from './attempt-child-support.js';

// Delivery.attempt on NATS JetStream at the transport SPI: the server counts every delivery
// (num_delivered), a `-NAK` included; a release must not charge an attempt, a crash must.
// ack_wait is 1 s so that crashed deliveries come back quickly.

const url = () => `${inject('brokers').nats}?ackWaitMs=1000`;
const open: Transport[] = [];
async function transport(): Promise<Transport> {
  const t = await createTransport(new URL(url()), { onError: () => {} });
  open.push(t);
  return t;
}

afterEach(async () => {
  await Promise.allSettled(open.splice(0).map((t) => t.close()));
});

describe('nats attempts', () => {
  it('release() keeps the attempt; abort() and SIGKILL of the consumer each add one, across processes', {
    timeout: 60_000,
  }, async () => {
    const topic = freshName('attempts');
    const group = 'g';
    const id = freshName('m');
    const first = await transport();
    await first.declare(topic, [group]);
    await first.publish(topic, [wireMessage(id)]);

    // 1: first delivery, released twice: still attempt 1
    const a = new Inbox<Delivery>();
    await first.subscribe(topic, group, { prefetch: 1, ordered: false }, a.sink);
    expect((await a.next(10_000)).attempt).toBe(1);
    await a.items[0]!.release();
    const again = await a.next(5_000, 'the released delivery');
    expect(again.attempt).toBe(1);
    await again.release();
    expect((await a.next(5_000)).attempt).toBe(1);

    // 2: abort() (a crash stand-in) while holding it: the next member sees attempt 2
    await first.abort();
    const second = await transport();
    const b = new Inbox<Delivery>();
    const subB = await second.subscribe(topic, group, { prefetch: 1, ordered: false }, b.sink);
    const afterAbort = await b.next(10_000, 'the redelivery after abort()');
    expect(afterAbort.message.id).toBe(id);
    expect(afterAbort.attempt).toBe(2);

    // 3: released at shutdown (stop, release, close, as core does) by this process: a new process must see the same attempt (2)
    await subB.stop();
    await afterAbort.release();
    await subB.close();
    await second.close();

    // 4: a child process gets it (attempt 2) and is killed with SIGKILL: the next member sees 3
    const holder = spawnHolder('@carrier/adapter-nats', url(), topic, group);
    try {
      const held = await holder.first;
      expect(held).toEqual({ attempt: 2, id });
    } finally {
      await holder.kill();
    }
    const third = await transport();
    const c = new Inbox<Delivery>();
    await third.subscribe(topic, group, { prefetch: 1, ordered: false }, c.sink);
    const afterKill = await c.next(10_000, 'the redelivery after SIGKILL');
    expect(afterKill.attempt).toBe(3);
    // a retry charges one as before
    await afterKill.retry(0);
    expect((await c.next(5_000, 'the retried delivery')).attempt).toBe(4);
    await c.items[1]!.ack();
  });
});
