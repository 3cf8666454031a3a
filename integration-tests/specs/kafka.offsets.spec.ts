import { freshName, waitFor } from '@carrier/contract';
import { type Carrier, connect, type Message } from '@carrier/core';
import kafkajs from 'kafkajs';
import { afterEach, describe, expect, inject, it } from 'vitest';
import '../src/context.js';
import { kafkaBrokers } from '../src/urls.js';

// Offsets are committed only up to the first unsettled record of a partition: with concurrency > 1,
// records after a stuck one are acknowledged, yet a crash must not commit past the stuck one. The
// commit metadata says which records after it were done, so the next owner hands out only the
// stuck one again, counting its lost delivery.

const TIMEOUT_MS = 30_000;

async function eventually<T>(what: string, attempt: () => Promise<T | undefined>): Promise<T> {
  const deadline = Date.now() + TIMEOUT_MS;
  for (;;) {
    const value = await attempt();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

describe('kafka offsets', () => {
  const open: Carrier[] = [];
  afterEach(async () => {
    await Promise.allSettled(open.splice(0).map((c) => c.close()));
  });

  it('with concurrency > 1 the committed offset stops at the first unsettled record, and a crash redelivers only that record, with attempt 2', async () => {
    // one partition, so every record is in one offset sequence
    const url = `${inject('brokers').kafka}?partitions=1`;
    const crashing = await connect(url);
    open.push(crashing);
    const topic = freshName('offsets');
    const started: number[] = [];
    const acked = new Set<number>();
    await crashing.subscribe(topic, { group: 'g', concurrency: 4 }, async (m: Message) => {
      const { n } = m.body as { n: number };
      started.push(n);
      if (n === 2) await new Promise(() => {}); // never settles
      acked.add(n);
    });
    await crashing.publishBatch(
      topic,
      Array.from({ length: 8 }, (_, n) => ({ body: { n }, key: `k${n}` })),
    );
    await waitFor(
      () => acked.size === 7 && started.includes(2),
      TIMEOUT_MS,
      '7 acknowledged, record 2 stuck',
    );

    const admin = new kafkajs.Kafka({
      brokers: kafkaBrokers(inject('brokers').kafka),
      logLevel: kafkajs.logLevel.NOTHING,
    }).admin();
    await admin.connect();
    try {
      const committed = await eventually('the commit of offset 2', async () => {
        const [entry] = await admin.fetchOffsets({ groupId: `${topic}..g`, topics: [topic] });
        const offset = entry?.partitions[0]?.offset;
        return offset === '2' ? offset : undefined;
      });
      expect(committed).toBe('2');
      // the later acknowledgements never move it past the stuck record
      const [again] = await admin.fetchOffsets({ groupId: `${topic}..g`, topics: [topic] });
      expect(again?.partitions[0]?.offset).toBe('2');
    } finally {
      await admin.disconnect();
    }

    await crashing.abort();
    const survivor = await connect(url);
    open.push(survivor);
    const redelivered: string[] = [];
    await survivor.subscribe(topic, { group: 'g' }, (m: Message) => {
      redelivered.push(`${(m.body as { n: number }).n}@${m.attempt}`);
    });
    await waitFor(() => redelivered.length >= 1, TIMEOUT_MS, 'record 2 again');
    await survivor.publish(topic, { n: 8 }, { key: 'k8' });
    await waitFor(() => redelivered.length >= 2, TIMEOUT_MS, 'a later record');
    // 0 and 1 were committed, 3..7 recorded as done: only 2 comes back, its lost delivery counted
    expect(redelivered).toEqual(['2@2', '8@1']);
  });
});
