import { afterAll, beforeAll, describe, it } from 'vitest';
import { BROKERS, type BrokerName } from '../src/types.js';
import {
  BATCH_RESET,
  type Proxied,
  proxied,
  resetMidBatch,
  resetMidPublish,
  silentAtConnect,
  silentMidConsumption,
} from './network-faults-support.js';

// Network faults, the same on every broker, through the loopback proxy (src/proxy.ts): a silent
// endpoint at connect, a connection that goes silent mid-consumption (no FIN, no RST), and
// connections reset mid-publish (single publishes on every broker, one large batch on NATS and
// RabbitMQ). What each case expects and the liveness knobs it sets are in
// network-faults-support.ts. `npm run soak` repeats these cases (soak/network-faults.soak.spec.ts).

const report = (line: string) => console.log(`[network faults] ${line}`);

/** Why the batch case is not run on a broker (vitest shows it in the skipped test's name). */
const BATCH_SKIPPED_BECAUSE: Partial<Record<BrokerName, string>> = {
  kafka:
    'a batch is one produce request per partition that kafkajs retries whole; resets are covered by kafka.publish-resets.spec.ts',
  sqs: 'the AWS SDK retries a reset request within requestTimeoutMs; per-entry failures are unit-tested in adapter-sqs publish-batches.test.ts',
};

describe.each(BROKERS.map((name) => [name] as [BrokerName]))('network faults: %s', (name) => {
  let b: Proxied;
  beforeAll(async () => {
    b = await proxied(name);
  }, 120_000);
  afterAll(async () => {
    await b?.dispose();
  });

  it('connect to a silent endpoint rejects with TIMEOUT or CONNECTION within connectTimeoutMs and leaves nothing running', async () => {
    await silentAtConnect(b, report);
  }, 60_000);

  it('a connection that goes silent mid-consumption is reported as CONNECTION within the liveness time, and consumption resumes with nothing lost', async () => {
    await silentMidConsumption(b, report);
  }, 120_000);

  it('connections reset mid-publish: every publish resolves or rejects with a code, and every resolved one is delivered', async () => {
    await resetMidPublish(b, report);
  }, 120_000);

  const batchSkipped = BATCH_RESET[name] === undefined ? ` — skipped: ${BATCH_SKIPPED_BECAUSE[name]}` : '';
  it.runIf(BATCH_RESET[name] !== undefined)(
    `a batch publish cut by a reset rejects with PUBLISH_FAILED naming exactly the unconfirmed messages, and every confirmed one is delivered${batchSkipped}`,
    async () => {
      await resetMidBatch(b, report);
    },
    60_000,
  );
});
