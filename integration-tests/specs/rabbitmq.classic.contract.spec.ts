import { describeTransportContract } from '@carrier/contract';
import { inject } from 'vitest';
import '../src/context.js';
import { restartableBroker } from '../src/restartable.js';
import { harnessSchemaRegistry } from '../src/schema-registry.js';

// The conformance suite again with classic queues (`?queueType=classic`): same guarantees, the
// attempt count relies on Carrier's header and the broker's `redelivered` flag instead of quorum
// queues' `x-delivery-count`.
describeTransportContract({
  schemaRegistry: harnessSchemaRegistry,
  name: 'rabbitmq (classic queues)',
  // docs/brokers/rabbitmq.md: unroutable, PUBLISH_FAILED
  publishWithoutGroup: 'refused',
  url: () => `${inject('brokers').rabbitmq}?queueType=classic`,
  capabilities: {
    lag: true,
    fanOut: true,
    competingConsumers: true,
    perKeyOrder: true,
    nativeDelay: true,
    redrive: true,
    // delayed publish through the ladder of delay queues (docs/brokers/rabbitmq.md)
    maxPublishDelayMs: 2 ** 32 - 1,
    maxNativePublishDelayMs: 0,
    publishDelayPrecisionMs: 1_000,
    replay: false,
    maxHeaders: 1_024,
    maxHeaderBytes: 32_768,
  },
  // a group queue's x-single-active-consumer (declare with ordered); no start: replay is false
  recordsGroupSettings: ['ordered'],
  timeoutMs: 30_000,
  // the reconnect case restarts a RabbitMQ node of its own (durable classic queues, persistent messages)
  broker: restartableBroker('rabbitmq', 'queueType=classic'),
});
