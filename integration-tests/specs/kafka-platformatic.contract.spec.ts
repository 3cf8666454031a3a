import { describeTransportContract } from '@carrier/contract';
import { inject } from 'vitest';
import { restartableBroker } from '../src/restartable.js';
import { harnessSchemaRegistry } from '../src/schema-registry.js';

// The whole conformance suite on the @platformatic/kafka driver (`?client=platformatic`), with the
// same group timeouts and capabilities as the kafkajs driver's suite (kafka.contract.spec.ts).
const QUERY = 'client=platformatic&sessionTimeoutMs=6000&rebalanceTimeoutMs=10000';

describeTransportContract({
  schemaRegistry: harnessSchemaRegistry,
  name: 'kafka (platformatic)',
  publishWithoutGroup: 'dropped',
  url: () => {
    const url = inject('brokers').kafka;
    return `${url}${url.includes('?') ? '&' : '?'}${QUERY}`;
  },
  capabilities: {
    lag: true,
    fanOut: true,
    competingConsumers: true,
    perKeyOrder: true,
    nativeDelay: false,
    redrive: true,
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
  broker: restartableBroker('kafka', QUERY),
});
