import { describeTransportContract } from '@carrier/contract';
import { inject } from 'vitest';
import { restartableBroker } from '../src/restartable.js';
import { harnessSchemaRegistry } from '../src/schema-registry.js';
import {
  KAFKA_CONTRACT_CAPABILITIES,
  KAFKA_CONTRACT_QUERY,
  KAFKA_CONTRACT_SKIP,
} from './kafka-contract-support.js';

// The whole conformance suite against the harness's Kafka (KRaft, local process or container), on
// the default driver (kafkajs). Kafka group joins and rebalances take seconds, so waits get a
// longer deadline than on memory; shorter group timeouts than the defaults (adapter README,
// "Deadlines and liveness") keep the crash cases fast (see kafka-contract-support.ts).
describeTransportContract({
  schemaRegistry: harnessSchemaRegistry,
  name: 'kafka',
  // docs/concepts.md: the log keeps it, but a group created later starts at the end
  publishWithoutGroup: 'dropped',
  url: () => {
    const url = inject('brokers').kafka;
    return `${url}${url.includes('?') ? '&' : '?'}${KAFKA_CONTRACT_QUERY}`;
  },
  capabilities: KAFKA_CONTRACT_CAPABILITIES,
  skip: KAFKA_CONTRACT_SKIP,
  timeoutMs: 45_000,
  // the reconnect case restarts a Kafka broker of its own (KRaft, one node: the log and the group offsets persist)
  broker: restartableBroker('kafka', KAFKA_CONTRACT_QUERY),
});
