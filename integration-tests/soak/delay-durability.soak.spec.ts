import { afterAll, describe, expect, it } from 'vitest';
import '../src/context.js';
import { describeDelayResult, runDelayDurability } from '../specs/delay-durability-support.js';
import { type PrivateBroker, privateBroker } from '../src/faults.js';
import { expectClean } from '../src/history/index.js';

// Delayed publish through a broker kill -9, larger and repeated (`npm run soak -- delay-durability`;
// CARRIER_SOAK_REPEAT runs per broker, default 3), each on a fresh private broker with the
// broker's default settings: RabbitMQ keeps `dead_letter_worker_publisher_confirm_timeout` at its
// 3 minutes (the CI spec shortens it), so a quorum hop interrupted by the crash may come minutes
// late; the budget allows for it. Per run: 5,000 delayed messages per lane (RabbitMQ: quorum and
// classic ladders; Kafka: one), two groups each, all received, none early.

const REPEAT = Number(process.env.CARRIER_SOAK_REPEAT ?? 3);
let broker: PrivateBroker | undefined;

afterAll(async () => {
  await broker?.dispose();
}, 60_000);

const LANES = {
  rabbitmq: (url: string) => ({ quorum: `${url}?queueType=quorum`, classic: `${url}?queueType=classic` }),
  kafka: (url: string) => ({ kafka: url }),
};

describe('delayed publish durability (soak)', () => {
  for (const name of ['rabbitmq', 'kafka'] as const) {
    it(`${name}: ${REPEAT} runs of 5,000 delayed messages per lane through a broker kill -9`, async () => {
      for (let run = 1; run <= REPEAT; run++) {
        broker = await privateBroker(name);
        try {
          const result = await runDelayDurability({
            broker,
            lanes: LANES[name](broker.url),
            total: 5_000,
            minDelayMs: 30_000,
            spreadMs: 60_000,
            budgetMs: 900_000,
          });
          console.log(`[${name} delay durability soak] run ${run}/${REPEAT}: ${describeDelayResult(result)}`);
          for (const lane of Object.values(result.lanes)) {
            expect(lane.early).toEqual([]);
            expect(lane.received).toEqual({ g1: 5_000, g2: 5_000 });
            expectClean(lane.report, { order: false });
          }
        } finally {
          await broker.dispose();
          broker = undefined;
        }
      }
    });
  }
});
