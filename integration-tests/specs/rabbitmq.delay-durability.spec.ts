import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import '../src/context.js';
import { type PrivateBroker, privateBroker } from '../src/faults.js';
import { expectClean } from '../src/history/index.js';
import { describeDelayResult, runDelayDurability } from './delay-durability-support.js';

// Delayed publish survives a broker kill -9 (docs/brokers/rabbitmq.md, "Delayed publish"): 1,000
// delayed messages per queue mode (quorum and classic ladders, one connection each) wait in the
// publish-delay ladder of a RabbitMQ node of this spec's own, which is killed with SIGKILL once
// every publish is confirmed and started again. Both groups of each mode receive all of them,
// none early.
//
// A quorum queue's at-least-once dead-lettering retries a hop whose target was not ready (right
// after the restart) after `dead_letter_worker_publisher_confirm_timeout`, 3 minutes by default:
// this node sets it to 5 s so that the spec stays short. The soak run
// (soak/delay-durability.soak.spec.ts) keeps the default.

let rabbit: PrivateBroker;
beforeAll(async () => {
  rabbit = await privateBroker('rabbitmq', {
    rabbitAppSettings: ['{dead_letter_worker_publisher_confirm_timeout, 5000}'],
  });
}, 180_000);
afterAll(async () => {
  await rabbit?.dispose();
});

describe('rabbitmq delayed publish durability', () => {
  it('1000 delayed messages per queue mode through a broker kill -9: none early, none lost', {
    timeout: 240_000,
  }, async () => {
    const result = await runDelayDurability({
      broker: rabbit,
      lanes: { quorum: `${rabbit.url}?queueType=quorum`, classic: `${rabbit.url}?queueType=classic` },
      total: 1_000,
      minDelayMs: 6_000,
      spreadMs: 10_000,
      budgetMs: 180_000,
    });
    console.log(`[rabbitmq delay durability] ${describeDelayResult(result)}`);
    for (const lane of Object.values(result.lanes)) {
      expect(lane.early).toEqual([]);
      expect(lane.received).toEqual({ g1: 1_000, g2: 1_000 });
      expectClean(lane.report, { order: false });
    }
  });
});
