import { freshName, waitFor } from '@carrier/contract';
import { type Carrier, CarrierError, connect, type Message } from '@carrier/core';
import kafkajs from 'kafkajs';
import { afterEach, describe, expect, inject, it } from 'vitest';
import '../src/context.js';
import { kafkaBrokers } from '../src/urls.js';

// When a settlement fails (here: the retry topic refuses the copy as too large), the record is
// read again from Kafka and handed out again with attempt + 1, at once; it holds no other record
// of its partition back, and records settled after it are not delivered again.

describe('kafka failed settlement', () => {
  const open: Carrier[] = [];
  afterEach(async () => {
    await Promise.allSettled(open.splice(0).map((c) => c.close()));
  });

  it('a record whose retry copy is refused comes back with attempt + 1 and holds nothing back', {
    timeout: 60_000,
  }, async () => {
    const url = `${inject('brokers').kafka}?partitions=1`;
    const topic = freshName('settlefail');
    const admin = new kafkajs.Kafka({
      brokers: kafkaBrokers(inject('brokers').kafka),
      logLevel: kafkajs.logLevel.NOTHING,
    }).admin();
    await admin.connect();
    try {
      // the group's retry topic accepts only small records: the retry copy of 'big' is refused
      await admin.createTopics({
        topics: [
          {
            topic: `${topic}..g.retry`,
            numPartitions: 1,
            configEntries: [{ name: 'max.message.bytes', value: '1000' }],
          },
        ],
      });
    } finally {
      await admin.disconnect();
    }
    const errors: Error[] = [];
    const carrier = await connect(url, { onError: (e) => errors.push(e) });
    open.push(carrier);
    const seen: string[] = [];
    await carrier.subscribe(
      topic,
      { group: 'g', concurrency: 4, retry: { maxAttempts: 3, initialDelayMs: 1 } },
      async (m: Message) => {
        seen.push(`${m.id}@${m.attempt}`);
        if (m.id === 'big') throw new Error('always fails');
      },
    );
    await carrier.publish(topic, 'x'.repeat(2_000), { id: 'big' });
    for (let i = 0; i < 5; i++) await carrier.publish(topic, `small ${i}`, { id: `small-${i}` });
    const dead: string[] = [];
    const dlq = await carrier.deadLetters(topic, 'g').subscribe(async (d) => {
      dead.push(`${d.message.id}:${d.attempts}`);
    });
    await waitFor(() => dead.length === 1, 45_000, 'big dead-lettered after its third attempt');
    await dlq.close();
    expect(dead).toEqual(['big:3']);
    expect(seen.filter((s) => s.startsWith('big@'))).toEqual(['big@1', 'big@2', 'big@3']);
    // every small one handled exactly once: nothing held back, nothing delivered again
    expect(seen.filter((s) => s.startsWith('small-')).sort()).toEqual(
      Array.from({ length: 5 }, (_, i) => `small-${i}@1`),
    );
    expect(errors.some((e) => e instanceof CarrierError && e.code === 'SETTLE_FAILED')).toBe(true);
  });
});
