import { afterAll, beforeAll, describe, it } from 'vitest';
import {
  BATCH_RESET,
  type Proxied,
  proxied,
  resetMidBatch,
  resetMidPublish,
  silentAtConnect,
  silentMidConsumption,
} from '../specs/network-faults-support.js';
import { BROKERS, type BrokerName } from '../src/types.js';

// The network-fault cases of specs/network-faults.spec.ts, repeated: CARRIER_SOAK_REPEAT rounds
// (default 5) per broker, each round every case on a fresh topic. Only brokers named in
// CARRIER_SOAK_BROKERS (comma-separated, default all four) run.

const ROUNDS = Number(process.env.CARRIER_SOAK_REPEAT ?? 5);
if (!Number.isInteger(ROUNDS) || ROUNDS < 1)
  throw new Error('CARRIER_SOAK_REPEAT must be a positive integer');
const only = process.env.CARRIER_SOAK_BROKERS?.split(',').map((s) => s.trim());
const brokers = BROKERS.filter((b) => !only || only.includes(b));

const report = (line: string) => console.log(`[network faults soak] ${line}`);

describe.each(brokers.map((name) => [name] as [BrokerName]))('network faults, repeated: %s', (name) => {
  let b: Proxied;
  beforeAll(async () => {
    b = await proxied(name);
  }, 180_000);
  afterAll(async () => {
    await b?.dispose();
  });

  for (let round = 1; round <= ROUNDS; round++) {
    it(`round ${round}/${ROUNDS}: connect to a silent endpoint`, async () => {
      await silentAtConnect(b, (l) => report(`round ${round}: ${l}`));
    }, 120_000);
    it(`round ${round}/${ROUNDS}: silent connection mid-consumption`, async () => {
      await silentMidConsumption(b, (l) => report(`round ${round}: ${l}`));
    }, 180_000);
    it(`round ${round}/${ROUNDS}: reset mid-publish`, async () => {
      await resetMidPublish(b, (l) => report(`round ${round}: ${l}`));
    }, 180_000);
    it.runIf(BATCH_RESET[name] !== undefined)(
      `round ${round}/${ROUNDS}: reset mid-batch`,
      async () => {
        await resetMidBatch(b, (l) => report(`round ${round}: ${l}`));
      },
      120_000,
    );
  }
});
