import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import '../src/context.js';
import { type PrivateBroker, privateBroker } from '../src/faults.js';
import { expectClean } from '../src/history/index.js';
import { describeDelayResult, runDelayDurability } from './delay-durability-support.js';

// Delayed publish survives a broker kill -9 (docs/brokers/kafka.md, "Delayed publish"): 1,000
// delayed messages wait in the topic's delay topic on a Kafka broker of this spec's own, which is
// killed with SIGKILL once every publish is confirmed and started again; this connection's mover
// carries on after the restart. Both groups receive all of them, none early.

let kafka: PrivateBroker;
beforeAll(async () => {
  kafka = await privateBroker('kafka');
}, 180_000);
afterAll(async () => {
  await kafka?.dispose();
});

describe('kafka delayed publish durability', () => {
  it('1000 delayed messages through a broker kill -9, none early, none lost', {
    timeout: 300_000,
  }, async () => {
    const result = await runDelayDurability({
      broker: kafka,
      lanes: { kafka: kafka.url },
      total: 1_000,
      minDelayMs: 10_000,
      spreadMs: 10_000,
      budgetMs: 240_000,
    });
    console.log(`[kafka delay durability] ${describeDelayResult(result)}`);
    expect(result.lanes.kafka?.early).toEqual([]);
    expect(result.lanes.kafka?.received).toEqual({ g1: 1_000, g2: 1_000 });
    expectClean(result.lanes.kafka!.report, { order: false });
  });
});
