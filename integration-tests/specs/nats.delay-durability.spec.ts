import { duplicates, freshName, waitFor } from '@carrier/contract';
import { connect } from '@carrier/core';
import { describe, expect, it } from 'vitest';
import '../src/context.js';
import { privateBroker } from '../src/faults.js';

// Durability of delayed publish on NATS (JetStream message schedules): 1,000 delayed messages,
// due 3 to 12 s after they were published, all confirmed; then nats-server is killed with SIGKILL
// and started again on the same JetStream store while they are pending. Every one must reach each
// of two groups after its time, none early; duplicates are counted and printed. The broker is
// private to this test (its own ports and store), so killing it disturbs no other spec.

const TOTAL = 1_000;
const BATCH = 100;
const GROUPS = ['billing', 'audit'] as const;
/** Timers and clocks may be a few ms apart (the contract suite's tolerance). */
const EARLY_TOLERANCE_MS = 15;

describe('nats delayed publish durability', () => {
  it('1,000 delayed messages survive kill -9 and restart of nats-server: each group gets every one after its time', async () => {
    const nats = await privateBroker('nats');
    const url = `${nats.url}?requestTimeoutMs=2000`;
    const asyncErrors: string[] = [];
    const onError = (e: Error) => asyncErrors.push(e.message);
    const publisher = await connect(url, { onError });
    const consumer = await connect(url, { onError });
    try {
      const topic = freshName('delay-durable');
      const arrivals = new Map<string, Array<{ id: string; at: number }>>(GROUPS.map((g) => [g, []]));
      for (const group of GROUPS) {
        await consumer.subscribe(topic, { group, concurrency: 32 }, (m) => {
          arrivals.get(group)!.push({ id: m.id, at: Date.now() });
        });
      }
      const start = Date.now();
      const due = new Map<string, number>();
      for (let first = 0; first < TOTAL; first += BATCH) {
        const entries = Array.from({ length: BATCH }, (_, i) => {
          const n = first + i;
          const deliverAt = new Date(start + 3_000 + Math.floor((n * 9_000) / TOTAL));
          due.set(`d-${n}`, deliverAt.getTime());
          return { id: `d-${n}`, body: { n }, deliverAt };
        });
        await publisher.publishBatch(topic, entries);
      }
      const publishedAt = Date.now();
      const early = () =>
        [...arrivals.values()].flat().filter((a) => a.at < due.get(a.id)! - EARLY_TOLERANCE_MS);
      const beforeKill = [...arrivals.values()].flat().length;

      // most schedules must still be pending when the server dies, or this proves nothing
      expect(beforeKill, 'deliveries before the kill').toBeLessThan(TOTAL);
      await nats.kill9();
      expect(nats.isRunning()).toBe(false);
      await nats.start();
      const upAt = Date.now();

      const complete = () => GROUPS.every((g) => new Set(arrivals.get(g)!.map((a) => a.id)).size >= TOTAL);
      await waitFor(complete, 90_000, `all ${TOTAL} delayed messages in both groups`);
      await new Promise((resolve) => setTimeout(resolve, 1_500));

      const lines = [
        `[nats delay durability] published ${TOTAL} in ${publishedAt - start} ms; ${beforeKill} deliveries before the kill`,
        `nats-server killed and answering again ${upAt - publishedAt} ms after the last publish`,
      ];
      for (const group of GROUPS) {
        const got = arrivals.get(group)!;
        const dups = duplicates(got.map((a) => a.id));
        const late = Math.max(...got.map((a) => a.at - due.get(a.id)!));
        lines.push(
          `${group}: ${got.length} deliveries, ${dups.size} ids more than once, latest ${late} ms after its time`,
        );
        const missing = [...due.keys()].filter((id) => !got.some((a) => a.id === id));
        expect(missing, `${group} missing`).toEqual([]);
      }
      lines.push(
        `asynchronous errors reported: ${asyncErrors.length}${asyncErrors[0] ? ` (first: ${asyncErrors[0]})` : ''}`,
      );
      console.log(lines.join('\n'));
      expect(early(), 'delivered before their time').toEqual([]);
    } finally {
      await Promise.allSettled([publisher.close(), consumer.close()]);
      await nats.dispose();
    }
  }, 180_000);
});
