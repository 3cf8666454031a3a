import { afterAll, beforeAll, describe, it } from 'vitest';
import { publishThroughResets } from './kafka-publish-resets-support.js';
import { type Proxied, proxied } from './network-faults-support.js';

// A private Kafka broker whose advertised listener is the proxy (see network-faults-support.ts);
// soak/kafka.publish-resets.soak.spec.ts repeats this many times.

describe('kafka publishing through connection resets', () => {
  let b: Proxied;
  beforeAll(async () => {
    b = await proxied('kafka');
  }, 180_000);
  afterAll(async () => {
    await b?.dispose();
  });

  it('a publish that resolves during connection resets is stored', async () => {
    const r = await publishThroughResets(b, 3);
    console.log(
      `[kafka publish resets] ${r.published} publishes over 3 resets: ${r.resolved} resolved (all stored), ${r.rejected} rejected; ${r.report.summary}`,
    );
  }, 180_000);
});
