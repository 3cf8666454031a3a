import { afterAll, describe, it } from 'vitest';
import '../src/context.js';
import { runSqsDelayDurability } from '../specs/sqs-delay-durability-support.js';
import { type PrivateBroker, privateBroker } from '../src/faults.js';

// Full-size SQS delayed-publish durability runs (opt-in, `npm run soak`): 1,000 delayed messages
// per mode on Carrier's own delay path, the first consumer crashed while it holds the first half.
// moto handles 10–20 messages/s end to end on a 2-core machine: a few minutes per mode.

let moto: PrivateBroker | undefined;

afterAll(async () => {
  await moto?.dispose();
}, 60_000);

describe('sqs delayed publish durability (soak)', () => {
  for (const [name, mode] of [
    ['SNS fan-out (standard queues)', ''],
    ['FIFO queues', 'fifo=true'],
  ] as const) {
    it(`1,000 delayed messages through ${name}: consumer crashed while holding them, none lost, none early`, async () => {
      moto ??= await privateBroker('sqs');
      await runSqsDelayDurability({
        url: moto.url,
        mode,
        total: 1_000,
        budgetMs: 900_000,
        label: `sqs delay durability soak (${name})`,
      });
    }, 1_800_000);
  }
});
