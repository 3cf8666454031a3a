import { closeRightAfterSubscribe, describeTransportContract } from '@carrier/contract';
import { inject } from 'vitest';
import '../src/context.js';

// A member closed the moment its first pull request is out. nats-server counts a message it was
// sending to an inbox that was just unsubscribed as delivered, and redelivers it at once with
// delivery count 2 although no handler saw it: a close that abandoned its pull request charged an
// attempt to up to a prefetch of messages (CI, 2026-11-30; 3 runs of the contract case in 15). The
// receiver now keeps the request until the server ends it. Before that fix one run of the case hit
// the race one time in five to twenty here, so it runs twenty times (about 25 s).
describeTransportContract(
  {
    name: 'nats, a member closed right after subscribing',
    publishWithoutGroup: 'dropped',
    url: () => `${inject('brokers').nats}?ackWaitMs=4000`,
    timeoutMs: 30_000,
  },
  Array.from({ length: 20 }, (_, i) => ({
    ...closeRightAfterSubscribe,
    name: `${closeRightAfterSubscribe.name} (run ${i + 1} of 20)`,
  })),
);
