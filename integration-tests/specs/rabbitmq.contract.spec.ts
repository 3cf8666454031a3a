import { describeTransportContract } from '@carrier/contract';
import { inject } from 'vitest';
import '../src/context.js';
import { rabbitmqDefaultMaxMessageBytes } from '../src/probes.js';
import { restartableBroker } from '../src/restartable.js';
import { harnessSchemaRegistry } from '../src/schema-registry.js';

// The whole conformance suite against the harness's RabbitMQ, with the default quorum queues.
describeTransportContract({
  schemaRegistry: harnessSchemaRegistry,
  name: 'rabbitmq',
  // docs/brokers/rabbitmq.md: unroutable, PUBLISH_FAILED
  publishWithoutGroup: 'refused',
  url: () => inject('brokers').rabbitmq,
  capabilities: {
    lag: true,
    fanOut: true,
    competingConsumers: true,
    perKeyOrder: true,
    nativeDelay: true,
    maxDelayMs: 2 ** 31,
    // the server's default, which the adapter declares from its version: 128 MiB on 3.x, 16 MiB on 4.x
    maxMessageBytes: await rabbitmqDefaultMaxMessageBytes(inject('brokers').rabbitmq),
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
  // the reconnect case restarts a RabbitMQ node of its own (durable quorum queues, persistent messages)
  broker: restartableBroker('rabbitmq'),
});
