import { describeTransportContract } from '@carrier/contract';
import { inject } from 'vitest';
import '../src/context.js';

// The whole conformance suite against the harness's RabbitMQ, with the default quorum queues.
describeTransportContract({
  name: 'rabbitmq',
  // docs/brokers/rabbitmq.md: unroutable, PUBLISH_FAILED
  publishWithoutGroup: 'refused',
  url: () => inject('brokers').rabbitmq,
  capabilities: {
    fanOut: true,
    competingConsumers: true,
    perKeyOrder: true,
    nativeDelay: true,
    maxDelayMs: 2 ** 31,
    maxMessageBytes: 128 * 1024 * 1024,
    redrive: true,
    maxHeaders: 1_024,
    maxHeaderBytes: 32_768,
  },
  timeoutMs: 30_000,
});
