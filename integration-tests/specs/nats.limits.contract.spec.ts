import { describeTransportContract, expectCode, freshName } from '@carrier/contract';
import { connect } from '@carrier/core';
import { describe, expect, inject, it } from 'vitest';
import '../src/context.js';

// The cases that depend on the stream's retention, again with `retention=limits`: a limits stream
// keeps every message for max_age whoever acknowledged it, so a new group can start at the
// stream's start (`capabilities.replay`), and the consumer's deliver_policy records that start.
// The other cases do not depend on retention and run in nats.contract.spec.ts.
describeTransportContract({
  name: 'nats (retention=limits)',
  // docs/brokers/nats.md: a limits stream keeps it, but a group created later starts at the end
  publishWithoutGroup: 'dropped',
  url: () => {
    const url = inject('brokers').nats;
    return `${url}${url.includes('?') ? '&' : '?'}ackWaitMs=4000&retention=limits`;
  },
  capabilities: { fanOut: true, perKeyOrder: false, replay: true, lag: true },
  recordsGroupSettings: ['startFrom'],
  only: [
    'declares the expected capabilities',
    'publishing to a topic with no group has the documented outcome',
    "a new group with startFrom 'now' gets only what is published after it exists",
    "a new group with startFrom 'earliest' gets the messages published before it existed",
    'asking an existing group for another start is TOPOLOGY_CONFLICT',
    'fails with UNSUPPORTED when asked for what the transport cannot do',
    // a limits stream keeps the pending schedules by itself (no holder consumer)
    'delayed publish: no group receives the message before its time, every group once after it',
    'delayed publish in a batch: each entry arrives at its own time',
  ],
  timeoutMs: 30_000,
});

describe('nats: a topic whose stream was created with interest retention', () => {
  it("refuses startFrom 'earliest' with UNSUPPORTED on a retention=limits connection (it would get part of the history, silently)", async () => {
    const base = inject('brokers').nats;
    const sep = base.includes('?') ? '&' : '?';
    const interest = await connect(base);
    const limits = await connect(`${base}${sep}retention=limits`);
    try {
      const topic = freshName('interest-then-earliest');
      await interest.declare(topic, ['a']);
      await interest.publish(topic, 'before the late group');
      expect(limits.capabilities.replay).toBe(true);
      await expectCode(
        limits.subscribe(topic, { group: 'late', startFrom: 'earliest' }, () => {}),
        'UNSUPPORTED',
      );
    } finally {
      await Promise.all([interest.close(), limits.close()]);
    }
  });
});
