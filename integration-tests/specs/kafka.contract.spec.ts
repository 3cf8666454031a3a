import { describeTransportContract } from '@carrier/contract';
import { inject } from 'vitest';

// The whole conformance suite against the harness's Kafka (KRaft, local process or container).
// Kafka group joins and rebalances take seconds, so waits get a longer deadline than on memory.
describeTransportContract({
  name: 'kafka',
  url: () => inject('brokers').kafka,
  capabilities: {
    fanOut: true,
    competingConsumers: true,
    perKeyOrder: true,
    nativeDelay: false,
    redrive: true,
  },
  timeoutMs: 45_000,
});
