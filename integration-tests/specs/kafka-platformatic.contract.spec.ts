import { describeTransportContract } from '@carrier/contract';
import { inject } from 'vitest';
import { restartableBroker } from '../src/restartable.js';
import { harnessSchemaRegistry } from '../src/schema-registry.js';
import {
  KAFKA_CONTRACT_CAPABILITIES,
  KAFKA_CONTRACT_QUERY,
  KAFKA_CONTRACT_SKIP,
} from './kafka-contract-support.js';

// The whole conformance suite on the @platformatic/kafka driver (`?client=platformatic`), with
// the kafkajs driver's group timeouts, capabilities and skips (kafka.contract.spec.ts).
const QUERY = `client=platformatic&${KAFKA_CONTRACT_QUERY}`;

describeTransportContract({
  schemaRegistry: harnessSchemaRegistry,
  name: 'kafka (platformatic)',
  // docs/concepts.md: the log keeps it, but a group created later starts at the end
  publishWithoutGroup: 'dropped',
  url: () => {
    const url = inject('brokers').kafka;
    return `${url}${url.includes('?') ? '&' : '?'}${QUERY}`;
  },
  capabilities: KAFKA_CONTRACT_CAPABILITIES,
  skip: KAFKA_CONTRACT_SKIP,
  timeoutMs: 45_000,
  // the reconnect case restarts a Kafka broker of its own, with this driver
  broker: restartableBroker('kafka', QUERY),
});
