import { describeTransportContract } from '@carrier/contract';
import { inject } from 'vitest';
import '../src/context.js';

// The whole conformance suite against the harness's nats-server. A crashed member's delivery comes
// back after the group consumer's ack_wait (10 s by default), so waits get 30 s.
describeTransportContract({
  name: 'nats',
  url: () => inject('brokers').nats,
  capabilities: {
    fanOut: true,
    competingConsumers: true,
    perKeyOrder: false,
    nativeDelay: true,
    redrive: true,
  },
  timeoutMs: 30_000,
});
