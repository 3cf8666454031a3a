import { afterAll, describe, it } from 'vitest';
import '../src/context.js';
import { type PrivateBroker, privateBroker } from '../src/faults.js';
import { runSqsDelayDurability } from './sqs-delay-durability-support.js';

// CI size of the SQS delayed-publish durability run (see sqs-delay-durability-support.ts): 100
// delayed messages per mode on Carrier's own delay path, the first consumer crashed (aborted) while
// it holds them, a second one takes over. moto keeps nothing across a restart, so the fault is the
// consumer's crash (real SQS is a managed service, with no broker to restart). moto handles 10–20
// messages/s end to end on a 2-core machine, hence the size; the 1,000-message runs are
// soak/sqs.delay-durability.soak.spec.ts. The private emulator is stopped in every path.

let moto: PrivateBroker | undefined;

afterAll(async () => {
  await moto?.dispose();
}, 60_000);

describe('sqs delayed publish durability', () => {
  it('100 delayed messages through SNS fan-out (standard queues): consumer crashed while holding them, none lost, none early', async () => {
    moto ??= await privateBroker('sqs');
    await runSqsDelayDurability({
      url: moto.url,
      mode: '',
      total: 100,
      budgetMs: 60_000,
      label: 'sqs delay durability (sns, standard)',
    });
  }, 120_000);

  it('100 delayed messages on FIFO queues: consumer crashed while holding them, none lost, none early', async () => {
    moto ??= await privateBroker('sqs');
    await runSqsDelayDurability({
      url: moto.url,
      mode: 'fifo=true',
      total: 100,
      budgetMs: 60_000,
      label: 'sqs delay durability (fifo)',
    });
  }, 120_000);
});
