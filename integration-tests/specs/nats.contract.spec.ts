import { describeTransportContract } from '@carrier/contract';
import { inject } from 'vitest';
import '../src/context.js';
import { restartableBroker } from '../src/restartable.js';
import { harnessSchemaRegistry } from '../src/schema-registry.js';

// The whole conformance suite against the harness's nats-server. A crashed member's delivery comes
// back after the group consumer's ack_wait: `ackWaitMs=4000` (default 10 000, docs/brokers/nats.md)
// keeps the crash cases fast; running handlers renew their lease every ackWaitMs / 3 (1.3 s).
describeTransportContract({
  schemaRegistry: harnessSchemaRegistry,
  name: 'nats',
  // docs/brokers/nats.md: an interest stream acknowledges it and keeps it for no one
  publishWithoutGroup: 'dropped',
  url: () => {
    const url = inject('brokers').nats;
    return `${url}${url.includes('?') ? '&' : '?'}ackWaitMs=4000`;
  },
  capabilities: {
    lag: true,
    fanOut: true,
    competingConsumers: true,
    perKeyOrder: false,
    nativeDelay: true,
    redrive: true,
    // the default interest retention keeps nothing for a group created later
    replay: false,
    // JetStream message schedules (server 2.12+; the harness pins 2.15): ten years, no max_age
    maxPublishDelayMs: 315_360_000_000,
    maxNativePublishDelayMs: 315_360_000_000,
    publishDelayPrecisionMs: 1_000,
  },
  timeoutMs: 30_000,
  // the reconnect case restarts a nats-server of its own (JetStream file store: streams persist)
  broker: restartableBroker('nats', 'ackWaitMs=4000'),
});
