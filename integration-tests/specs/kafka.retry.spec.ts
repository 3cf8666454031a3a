import { freshName, waitFor } from '@carrier/contract';
import { type Carrier, connect, type Message } from '@carrier/core';
import { afterEach, describe, expect, inject, it } from 'vitest';
import '../src/context.js';

// Retry through the group's retry topic: a delayed retry does not stall the partition (later
// records keep flowing), honours the delay, and reaches only the failing group.

const TIMEOUT_MS = 30_000;

describe('kafka retry topic', () => {
  const open: Carrier[] = [];
  afterEach(async () => {
    await Promise.allSettled(open.splice(0).map((c) => c.close()));
  });

  it('a delayed retry does not stall its partition and reaches only the failing group', async () => {
    const c = await connect(`${inject('brokers').kafka}?partitions=1`);
    open.push(c);
    const topic = freshName('retry-flow');
    const slow: { n: number; attempt: number; at: number }[] = [];
    const other: string[] = [];
    const initialDelayMs = 2_000;
    await c.subscribe(
      topic,
      { group: 'slow', retry: { maxAttempts: 2, initialDelayMs, maxDelayMs: initialDelayMs } },
      (m: Message) => {
        const { n } = m.body as { n: number };
        slow.push({ n, attempt: m.attempt, at: performance.now() });
        if (n === 0 && m.attempt === 1) throw new Error('not yet');
      },
    );
    await c.subscribe(topic, { group: 'other' }, (m: Message) => {
      other.push(m.id);
    });
    const ids = (
      await c.publishBatch(
        topic,
        Array.from({ length: 6 }, (_, n) => ({ body: { n } })),
      )
    ).map((r) => r.id);
    await waitFor(() => slow.some((s) => s.n === 0 && s.attempt === 2), TIMEOUT_MS, 'the retry of record 0');
    await waitFor(() => other.length >= 6, TIMEOUT_MS, 'the other group');

    const first = slow.find((s) => s.n === 0 && s.attempt === 1)!;
    const retried = slow.find((s) => s.n === 0 && s.attempt === 2)!;
    const later = slow.filter((s) => s.n > 0);
    expect(later.map((s) => s.n)).toEqual([1, 2, 3, 4, 5]);
    expect(
      later.every((s) => s.at < retried.at),
      'later records were not held behind the retry',
    ).toBe(true);
    // equal jitter: the delay lies in [d/2, d]
    expect(retried.at - first.at).toBeGreaterThanOrEqual(initialDelayMs / 2 - 15);
    expect([...other].sort()).toEqual([...ids].sort()); // once each: the retry copy went to 'slow' only
  });
});
