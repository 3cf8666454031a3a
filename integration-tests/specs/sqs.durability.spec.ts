import type { ChildProcess } from 'node:child_process';
import { afterAll, describe, it } from 'vitest';
import '../src/context.js';
import { type PrivateBroker, privateBroker } from '../src/faults.js';
import { runSqsDurability } from './sqs-durability-support.js';

// CI size of the SQS durability run (see sqs-durability-support.ts): 600 messages, the consumer
// process killed -9 after 200 and restarted. moto handles about 10 messages/s end to end on a 2-core
// machine under a load average of 15 (about 20/s when quiet), hence the size (1,000 took 80 s under
// that load). Everything must be done within a 90 s budget; past it
// the test fails with the missing ids and the queue state, well before vitest's own timeout, and
// the private emulator and the consumer processes are stopped whatever happens (also from
// afterAll, should the test time out). The 10,000-message run is soak/sqs.durability.soak.spec.ts.

const children = new Set<ChildProcess>();
let moto: PrivateBroker | undefined;

afterAll(async () => {
  for (const c of children) c.kill('SIGKILL');
  await moto?.dispose();
}, 60_000);

describe('sqs durability', () => {
  it('600 messages: consumer process killed -9 mid-stream and restarted, nothing lost', async () => {
    moto = await privateBroker('sqs');
    try {
      await runSqsDurability({
        url: moto.url,
        total: 600,
        killAt: 200,
        maxBacklog: 300,
        budgetMs: 90_000,
        visibilityTimeoutSeconds: 10,
        label: 'sqs durability',
        children,
      });
    } finally {
      await moto.dispose();
    }
  }, 140_000);
});
