import { describeTransportContract } from '@carrier/contract';
import { describe, expect, it } from 'vitest';
import { harnessSchemaRegistry } from '../src/schema-registry.js';
import { versionedBroker } from '../src/versioned.js';
import { natsPin } from '../src/versions.js';

// The second version of the NATS matrix (integration-tests/README.md, "Broker versions"): the
// contract suite (quick profile in `npm test`) on the oldest nats-server line Carrier supports,
// 2.10, with a nats-server of this file's own (free ports, stopped in afterAll). The same options
// as nats.contract.spec.ts, which runs on the newest pinned line.
const LINE = '2.10';
const QUERY = 'ackWaitMs=4000';
const nats = versionedBroker('nats', LINE, QUERY);

describe(`nats-server ${LINE}`, () => {
  it(`runs the pinned ${natsPin(LINE).version}`, () => {
    expect(nats.version()).toBe(`nats-server ${natsPin(LINE).version.replace(/^v/, '')}`);
  });
});

describeTransportContract({
  schemaRegistry: harnessSchemaRegistry,
  name: `nats ${LINE}`,
  publishWithoutGroup: 'dropped',
  url: () => nats.url(),
  capabilities: {
    lag: true,
    fanOut: true,
    competingConsumers: true,
    perKeyOrder: false,
    nativeDelay: true,
    redrive: true,
    replay: false,
  },
  timeoutMs: 30_000,
  // the reconnect case restarts this file's own broker (no other case runs meanwhile)
  broker: nats.restartable,
});
