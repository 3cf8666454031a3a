import { describeTransportContract } from '@carrier/contract';
import { inject } from 'vitest';
import '../src/context.js';

// The conformance suite again with classic queues (`?queueType=classic`): same guarantees, the
// attempt count relies on Carrier's header and the broker's `redelivered` flag instead of quorum
// queues' `x-delivery-count`.
describeTransportContract({
  name: 'rabbitmq (classic queues)',
  // docs/brokers/rabbitmq.md: unroutable, PUBLISH_FAILED
  publishWithoutGroup: 'refused',
  url: () => `${inject('brokers').rabbitmq}?queueType=classic`,
  capabilities: {
    fanOut: true,
    competingConsumers: true,
    perKeyOrder: true,
    nativeDelay: true,
    redrive: true,
    maxHeaders: 1_024,
    maxHeaderBytes: 32_768,
  },
  timeoutMs: 30_000,
});
