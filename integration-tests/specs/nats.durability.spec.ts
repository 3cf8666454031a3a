import { duplicates, freshName, gate, waitFor } from '@carrier/contract';
import { CarrierError, connect } from '@carrier/core';
import { describe, expect, it } from 'vitest';
import '../src/context.js';
import { privateBroker } from '../src/faults.js';

// Durability of the NATS transport: 10,000 messages through a publisher and a consumer while
// nats-server is killed with SIGKILL and started again on the same JetStream store. Nothing may be
// lost; the consumer must resume by itself (same subscription, no resubscribe); duplicates
// (at-least-once) are counted and printed. The broker is private to this test, so killing it
// disturbs no other spec.

const TOTAL = 10_000;
const BATCH = 100;

describe('nats durability', () => {
  it('10,000 messages survive kill -9 and restart of nats-server: none lost, consumer resumes by itself', async () => {
    const nats = await privateBroker('nats');
    // short request deadlines so publishes caught by the outage fail (and are retried) quickly
    const url = `${nats.url}?requestTimeoutMs=2000`;
    const asyncErrors: string[] = [];
    const publisher = await connect(url, { onError: (e) => asyncErrors.push(`publisher: ${e.message}`) });
    const consumer = await connect(url, { onError: (e) => asyncErrors.push(`consumer: ${e.message}`) });
    try {
      const topic = freshName('durable');
      const received: string[] = [];
      let receivedAfterRestart = 0;
      let restarted = false;
      await consumer.subscribe(topic, { group: 'g', concurrency: 32 }, (m) => {
        received.push(m.id);
        if (restarted) receivedAfterRestart++;
      });

      let publishFailures = 0;
      const failureCodes = new Set<string>();
      let published = 0;
      // the publisher stops at half-way until the broker has been killed, then publishes the
      // second half into the outage
      const killed = gate();
      const publishAll = async () => {
        for (let start = 0; start < TOTAL; start += BATCH) {
          if (start === TOTAL / 2) await killed.promise;
          let pending = Array.from({ length: Math.min(BATCH, TOTAL - start) }, (_, i) => ({
            id: `m-${start + i}`,
            body: { n: start + i },
            key: `k-${(start + i) % 17}`,
          }));
          while (pending.length > 0) {
            try {
              await publisher.publishBatch(topic, pending);
              published += pending.length;
              pending = [];
            } catch (error) {
              // retry exactly the unconfirmed ones with the same ids: the server de-duplicates
              if (!(error instanceof CarrierError)) throw error;
              const failed = new Set(error.failures.map((f) => f.index));
              if (error.code !== 'PUBLISH_FAILED' || failed.size === 0) throw error;
              publishFailures += failed.size;
              for (const f of error.failures) {
                failureCodes.add(
                  f.error instanceof CarrierError ? f.error.code : `not a CarrierError: ${f.error.name}`,
                );
              }
              published += pending.length - failed.size;
              pending = pending.filter((_, i) => failed.has(i));
            }
          }
        }
      };
      const publishing = publishAll();

      await waitFor(
        () => published >= TOTAL / 2 && received.length >= 2_000,
        120_000,
        'traffic both ways before the kill',
      );
      const killedAt = Date.now();
      const atKill = { published, received: received.length };
      await nats.kill9();
      expect(nats.isRunning()).toBe(false);
      killed.open();
      // keep it down until publishes caught by the outage have failed with a coded error
      await waitFor(
        () => publishFailures > 0,
        30_000,
        `publishes during the outage to fail (at the kill: ${JSON.stringify(atKill)})`,
      );
      await nats.start();
      restarted = true;
      const upAt = Date.now();
      await waitFor(() => receivedAfterRestart > 0, 60_000, 'the consumer to resume by itself');
      const resumedAt = Date.now();

      await publishing;
      await waitFor(() => new Set(received).size >= TOTAL, 180_000, `all ${TOTAL} messages`);

      const distinct = new Set(received);
      const dups = duplicates(received);
      const extra = [...dups.values()].reduce((sum, n) => sum + n - 1, 0);
      console.log(
        [
          `[nats durability] killed at ${atKill.published} published / ${atKill.received} received`,
          `published ${published} (publish failures retried: ${publishFailures}, codes: ${[...failureCodes].join(', ')})`,
          `received ${received.length} deliveries, ${distinct.size} distinct, ${dups.size} ids delivered more than once (${extra} extra deliveries)`,
          `outage ${upAt - killedAt} ms (kill -9 until the restarted server answered), consumer resumed ${resumedAt - upAt} ms later`,
          `asynchronous errors reported: ${asyncErrors.length}${asyncErrors.length ? ` (first: ${asyncErrors[0]})` : ''}`,
        ].join('\n'),
      );
      expect(published).toBe(TOTAL);
      // publishes caught by the outage failed with a coded error inside PUBLISH_FAILED, never hung
      for (const code of failureCodes) expect(['TIMEOUT', 'CONNECTION']).toContain(code);
      expect(distinct.size).toBe(TOTAL);
      const missing = Array.from({ length: TOTAL }, (_, i) => `m-${i}`).filter((id) => !distinct.has(id));
      expect(missing).toEqual([]);
    } finally {
      await Promise.allSettled([publisher.close(), consumer.close()]);
      await nats.dispose();
    }
  }, 400_000);
});
