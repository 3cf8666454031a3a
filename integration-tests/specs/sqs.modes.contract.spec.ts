import { describeTransportContract } from '@carrier/contract';
import { inject } from 'vitest';
import '../src/context.js';

/** The harness's sqs:// URL with extra options. */
function withOptions(options: string): () => string {
  return () => {
    const url = inject('brokers').sqs;
    return `${url}${url.includes('?') ? '&' : '?'}${options}`;
  };
}

// FIFO mode: FIFO SNS topics and FIFO queues; key → MessageGroupId, so per-key order holds across a group.
describeTransportContract({
  name: 'sqs fifo=true',
  url: withOptions('fifo=true'),
  capabilities: {
    fanOut: true,
    competingConsumers: true,
    perKeyOrder: true,
    redrive: true,
    maxMessageBytes: 193_536,
  },
  timeoutMs: 45_000,
});

// Queue-only mode, for accounts without SNS: one SQS queue per topic, one group per topic (fan-out UNSUPPORTED).
describeTransportContract({
  name: 'sqs sns=false',
  // 1 s long polls: a close waits for them (FIFO consumers above do not long-poll)
  url: withOptions('sns=false&waitTimeSeconds=1'),
  capabilities: {
    fanOut: false,
    competingConsumers: true,
    perKeyOrder: false,
    redrive: true,
    maxMessageBytes: 783_360,
  },
  timeoutMs: 45_000,
});
