import { describeTransportContract } from '@carrier/contract';
import { inject } from 'vitest';
import '../src/context.js';

// The whole conformance suite against the harness's SQS + SNS emulator, in the default mode:
// SNS fan-out, standard (non-FIFO) queues. Waits are long enough for a message left unsettled by a
// crashed member to come back after the default 15 s visibility timeout.
describeTransportContract({
  name: 'sqs',
  url: () => inject('brokers').sqs,
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
