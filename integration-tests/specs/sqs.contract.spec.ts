import { describeTransportContract } from '@carrier/contract';
import { inject } from 'vitest';
import '../src/context.js';

// The whole conformance suite against the harness's SQS + SNS emulator, in the default mode:
// SNS fan-out, standard (non-FIFO) queues. Waits are long enough for a message left unsettled by a
// crashed member to come back after the default 15 s visibility timeout. Long polls of 1 s instead
// of the default 5 s: a close waits for its long polls to end, and the suite closes often (the
// default is exercised by sqs.lifecycle.spec.ts).
describeTransportContract({
  name: 'sqs',
  url: () => {
    const url = inject('brokers').sqs;
    return `${url}${url.includes('?') ? '&' : '?'}waitTimeSeconds=1`;
  },
  capabilities: {
    fanOut: true,
    competingConsumers: true,
    perKeyOrder: false,
    nativeDelay: true,
    redrive: true,
    maxMessageBytes: 193_536,
    maxDelayMs: 39_600_000,
  },
  timeoutMs: 45_000,
});
