import { describeTransportContract } from '@carrier/contract';
import { inject } from 'vitest';
import '../src/context.js';
import { sqsRestartSkip } from '../src/restartable.js';
import { harnessSchemaRegistry } from '../src/schema-registry.js';

/** The harness's sqs:// URL with extra options. */
function withOptions(options: string): () => string {
  return () => {
    const url = inject('brokers').sqs;
    return `${url}${url.includes('?') ? '&' : '?'}${options}`;
  };
}

// Both modes use a visibility timeout of 5 s instead of 15 s (adapter README, "Deadlines and
// liveness"): a crashed member's message comes back within about 6 s, so the crash cases stay fast.

// FIFO mode: FIFO SNS topics and FIFO queues; key → MessageGroupId, so per-key order holds across a group.
describeTransportContract({
  schemaRegistry: harnessSchemaRegistry,
  name: 'sqs fifo=true',
  // docs/brokers/sqs.md: SNS drops it
  publishWithoutGroup: 'dropped',
  url: withOptions('fifo=true&visibilityTimeout=5'),
  capabilities: {
    lag: true,
    fanOut: true,
    competingConsumers: true,
    perKeyOrder: true,
    redrive: true,
    replay: false,
    requestReply: true,
    maxMessageBytes: 193_536,
    // FIFO queues have no per-message DelaySeconds: one visibility hold, up to 12 h less a minute
    maxPublishDelayMs: 43_140_000,
    maxNativePublishDelayMs: 0,
    publishDelayPrecisionMs: 2_000,
  },
  timeoutMs: 45_000,
  // A release on a FIFO queue is ChangeMessageVisibility 0, which SQS counts as a receive (a copy
  // would go behind the rest of its message group): docs/concepts.md, "Duplicates and attempts".
  releaseChargesAttempt: true,
  skip: {
    ...sqsRestartSkip,
    // Finding (issue 14), reproduced 3 of 3 runs on moto, no error reported to onError: two members
    // of one ordered group ran handlers of one key at once, once even out of order (key-7 #9 on
    // member 1 started while #10 ran on member 0), although SQS hands out a group's next message
    // only once the one in flight is deleted. Likely moto's, not the adapter's: moto's
    // receive_message reads the set of in-flight groups without a lock, so concurrent
    // ReceiveMessage calls (one per member) can each take a message of the same group. To confirm
    // against AWS or another emulator.
    'keeps per-key order across several members of one ordered group':
      'two members ran handlers of one key at once, once out of order, on moto FIFO (issue 14 finding; likely moto’s unlocked receive)',
  },
});

// Queue-only mode, for accounts without SNS: one SQS queue per topic, one group per topic (fan-out UNSUPPORTED).
describeTransportContract({
  schemaRegistry: harnessSchemaRegistry,
  name: 'sqs sns=false',
  // docs/brokers/sqs.md: the topic's queue keeps it for the first group
  publishWithoutGroup: 'kept',
  // 1 s long polls: a close waits for them (FIFO consumers above do not long-poll)
  url: withOptions('sns=false&waitTimeSeconds=1&visibilityTimeout=5'),
  capabilities: {
    lag: true,
    fanOut: false,
    competingConsumers: true,
    perKeyOrder: false,
    redrive: true,
    replay: false,
    requestReply: true,
    maxMessageBytes: 783_360,
    // DelaySeconds up to 900 s, Carrier's path beyond, up to 7 days
    maxPublishDelayMs: 604_800_000,
    maxNativePublishDelayMs: 900_000,
    publishDelayPrecisionMs: 1_000,
  },
  // standard queues may, rarely, deliver a message twice on their own (docs/concepts.md)
  duplicatesWithoutFailure: true,
  timeoutMs: 45_000,
  skip: sqsRestartSkip,
});
