import { afterAll, beforeAll, describe, it } from 'vitest';
import { publishThroughResets } from '../specs/kafka-publish-resets-support.js';
import { type Proxied, proxied } from '../specs/network-faults-support.js';

// specs/kafka.publish-resets.spec.ts repeated: CARRIER_SOAK_REPEAT rounds (default 10) of 3 resets
// each, on one private broker behind the proxy.

const ROUNDS = Number(process.env.CARRIER_SOAK_REPEAT ?? 10);
if (!Number.isInteger(ROUNDS) || ROUNDS < 1)
  throw new Error('CARRIER_SOAK_REPEAT must be a positive integer');

describe('kafka publishing through connection resets, repeated', () => {
  let b: Proxied;
  beforeAll(async () => {
    b = await proxied('kafka');
  }, 180_000);
  afterAll(async () => {
    await b?.dispose();
  });

  for (let round = 1; round <= ROUNDS; round++) {
    it(`round ${round}/${ROUNDS}: a publish that resolves during connection resets is stored`, async () => {
      const r = await publishThroughResets(b, 3);
      console.log(
        `[kafka publish resets soak] round ${round}: ${r.published} publishes, ${r.resolved} resolved (all stored), ${r.rejected} rejected; ${r.report.summary}`,
      );
    }, 180_000);
  }
});
