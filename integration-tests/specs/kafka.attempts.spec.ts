import { createTransport } from '@carrier/adapter-kafka';
import { freshName, waitFor } from '@carrier/contract';
import type { Delivery, Transport, WireMessage } from '@carrier/core';
import { afterEach, describe, expect, inject, it } from 'vitest';
import '../src/context.js';

// Kafka keeps no delivery count, so the adapter keeps one in the group's commit metadata: a
// delivery that was never settled (the consumer was aborted or killed) comes back with attempt + 1,
// a delivery given back with release() comes back with the same attempt. (A consumer killed with
// SIGKILL in its handler, restarted until core dead-letters the message: crash-loop.spec.ts.)

const FAST = 'partitions=1&sessionTimeoutMs=6000&heartbeatIntervalMs=500';

function message(id: string): WireMessage {
  return {
    id,
    headers: {},
    contentType: 'text/plain',
    body: new TextEncoder().encode(id),
    publishedAt: new Date(),
  };
}

describe('kafka delivery count', () => {
  const transports: Transport[] = [];
  afterEach(async () => {
    await Promise.allSettled(transports.splice(0).map((t) => t.close()));
  });

  async function open(url: URL): Promise<Transport> {
    const t = await createTransport(url, { onError: () => {} });
    transports.push(t);
    return t;
  }

  async function firstDelivery(t: Transport, topic: string): Promise<Delivery> {
    let got: Delivery | undefined;
    await t.subscribe(topic, 'g', { prefetch: 4, ordered: false }, (d) => {
      got ??= d;
    });
    await waitFor(() => got !== undefined, 30_000, 'a delivery');
    return got!;
  }

  it('abort() without settling counts the delivery; release() does not', { timeout: 60_000 }, async () => {
    const url = new URL(`${inject('brokers').kafka}?${FAST}`);
    const topic = freshName('attempts');
    const first = await open(url);
    await first.declare(topic, ['g']);
    await first.publish(topic, [message('m')]);
    expect((await firstDelivery(first, topic)).attempt).toBe(1);
    await first.abort(); // a crash, as far as the group can tell

    const second = await open(url);
    const again = await firstDelivery(second, topic);
    expect(again.attempt).toBe(2);
    await again.release();
    await second.close(); // a clean shutdown that gives it back

    const third = await open(url);
    const released = await firstDelivery(third, topic);
    expect(released.message.id).toBe('m');
    expect(released.attempt).toBe(2); // the release did not charge an attempt
    await released.ack();
  });
});
