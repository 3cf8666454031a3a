import { describeTransportContract } from '@carrier/contract';
import { inject } from 'vitest';
import { restartableBroker } from '../src/restartable.js';
import { harnessSchemaRegistry } from '../src/schema-registry.js';

// The whole conformance suite against the harness's Kafka (KRaft, local process or container).
// Kafka group joins and rebalances take seconds, so waits get a longer deadline than on memory.
// The crash cases wait for the group to give up a member that died without leaving: shorter group
// timeouts than the defaults (adapter README, "Deadlines and liveness") keep them fast —
// `sessionTimeoutMs=6000` (the broker's minimum; default 10 000) and `rebalanceTimeoutMs=10000`
// (default 30 000; a rebalance waits that long for a member that does not rejoin, and a revoked
// partition waits up to 7 s for its handlers, far longer than any handler of the suite).
describeTransportContract({
  schemaRegistry: harnessSchemaRegistry,
  name: 'kafka',
  // docs/concepts.md: the log keeps it, but a group created later starts at the end
  publishWithoutGroup: 'dropped',
  url: () => {
    const url = inject('brokers').kafka;
    return `${url}${url.includes('?') ? '&' : '?'}sessionTimeoutMs=6000&rebalanceTimeoutMs=10000`;
  },
  capabilities: {
    lag: true,
    fanOut: true,
    competingConsumers: true,
    perKeyOrder: true,
    nativeDelay: false,
    redrive: true,
    // delayed publish through the delay topic and its movers (docs/brokers/kafka.md)
    maxPublishDelayMs: 7 * 24 * 3_600_000,
    maxNativePublishDelayMs: 0,
    publishDelayPrecisionMs: 1_100,
    replay: true,
    requestReply: true,
  },
  skip: {
    'asking an existing group for another start is TOPOLOGY_CONFLICT':
      'Kafka records nothing of how a group was created: only committed offsets, whose metadata every commit rewrites (docs/brokers/kafka.md, "Where a new group starts")',
  },
  timeoutMs: 45_000,
  // the reconnect case restarts a Kafka broker of its own (KRaft, one node: the log and the group offsets persist)
  broker: restartableBroker('kafka', 'sessionTimeoutMs=6000&rebalanceTimeoutMs=10000'),
});
