import { describeTransportContract } from '@carrier/contract';
import { inject } from 'vitest';
import '../src/context.js';
import { sqsRestartSkip } from '../src/restartable.js';
import { harnessSchemaRegistry } from '../src/schema-registry.js';

// The whole conformance suite against the harness's SQS + SNS emulator, in the default mode:
// SNS fan-out, standard (non-FIFO) queues. Options from the adapter README ("Deadlines and
// liveness"): long polls of 1 s instead of the default 5 s (a close waits for its long polls to end,
// and the suite closes often; the default is exercised by sqs.lifecycle.spec.ts), and a visibility
// timeout of 5 s instead of 15 s, so that a crashed member's message comes back within about 6 s
// (running handlers renew it every 5/3 s).
describeTransportContract({
  schemaRegistry: harnessSchemaRegistry,
  name: 'sqs',
  // docs/brokers/sqs.md: SNS drops it
  publishWithoutGroup: 'dropped',
  url: () => {
    const url = inject('brokers').sqs;
    return `${url}${url.includes('?') ? '&' : '?'}waitTimeSeconds=1&visibilityTimeout=5`;
  },
  capabilities: {
    lag: true,
    fanOut: true,
    competingConsumers: true,
    perKeyOrder: false,
    nativeDelay: true,
    redrive: true,
    replay: false,
    requestReply: true,
    maxMessageBytes: 193_536,
    maxDelayMs: 39_600_000,
    // SNS publish has no delay: Carrier's path (the group's receiver holds it), up to 7 days
    maxPublishDelayMs: 604_800_000,
    maxNativePublishDelayMs: 0,
    publishDelayPrecisionMs: 1_000,
  },
  timeoutMs: 45_000,
  // standard queues may, rarely, deliver a message twice on their own (docs/concepts.md)
  duplicatesWithoutFailure: true,
  skip: sqsRestartSkip,
});
