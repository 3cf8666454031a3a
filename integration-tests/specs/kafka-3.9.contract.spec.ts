import { describeTransportContract } from '@carrier/contract';
import { describe, expect, it } from 'vitest';
import { harnessSchemaRegistry } from '../src/schema-registry.js';
import { versionedBroker } from '../src/versioned.js';
import { kafkaPin } from '../src/versions.js';

// The second version of the Kafka matrix (integration-tests/README.md, "Broker versions"): the
// contract suite (quick profile in `npm test`) on Kafka 3.9, the last line before 4.0, in KRaft
// mode (a static controller quorum; no ZooKeeper), with a broker of this file's own (free ports,
// stopped in afterAll). The same options as kafka.contract.spec.ts, which runs on the newest line.
const LINE = '3.9';
const QUERY = 'sessionTimeoutMs=6000&rebalanceTimeoutMs=10000';
const kafka = versionedBroker('kafka', LINE, QUERY);

describe(`Kafka ${LINE}`, () => {
  it(`runs the pinned ${kafkaPin(LINE).version}`, () => {
    expect(kafka.version()).toBe(`Kafka ${kafkaPin(LINE).version}`);
  });
});

describeTransportContract({
  schemaRegistry: harnessSchemaRegistry,
  name: `kafka ${LINE}`,
  publishWithoutGroup: 'dropped',
  url: () => kafka.url(),
  capabilities: {
    lag: true,
    fanOut: true,
    competingConsumers: true,
    perKeyOrder: true,
    nativeDelay: false,
    redrive: true,
    replay: true,
  },
  skip: {
    'asking an existing group for another start is TOPOLOGY_CONFLICT':
      'Kafka records nothing of how a group was created: only committed offsets, whose metadata every commit rewrites (docs/brokers/kafka.md, "Where a new group starts")',
  },
  timeoutMs: 45_000,
  // the reconnect case restarts this file's own broker (no other case runs meanwhile)
  broker: kafka.restartable,
});
