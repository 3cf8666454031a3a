import { freshName } from '@carrier/contract';
import { type Carrier, connect } from '@carrier/core';
import { afterEach, describe, expect, inject, it } from 'vitest';
import '../src/context.js';

// Right after Kafka creates a topic its metadata can still be incomplete on the broker that
// answers; declaring many new topics at once must ride that out (bounded retries), not fail.

describe('kafka declare', () => {
  const open: Carrier[] = [];
  afterEach(async () => {
    await Promise.allSettled(open.splice(0).map((c) => c.close()));
  });

  it('ten new topics declared at once all succeed, round after round', { timeout: 120_000 }, async () => {
    const carrier = await connect(inject('brokers').kafka);
    open.push(carrier);
    for (let round = 0; round < 3; round++) {
      const topics = Array.from({ length: 10 }, () => freshName('declare'));
      const results = await Promise.allSettled(topics.map((t) => carrier.declare(t, ['a', 'b'])));
      const failures = results.flatMap((r, i) =>
        r.status === 'rejected' ? [`${topics[i]}: ${String(r.reason)}`] : [],
      );
      expect(failures, `round ${round + 1}`).toEqual([]);
    }
  });

  // docs/brokers/kafka.md, "A new group's position": Kafka records nothing of how a group was
  // created, so another start for an existing group is accepted and changes nothing.
  it("startFrom 'earliest' for an existing group is accepted and keeps its position", {
    timeout: 120_000,
  }, async () => {
    const url = inject('brokers').kafka;
    const a = await connect(url);
    const b = await connect(url);
    open.push(a, b);
    const topic = freshName('keeps');
    const until = async (condition: () => boolean) => {
      const deadline = Date.now() + 60_000;
      while (!condition()) {
        if (Date.now() > deadline) throw new Error('timed out');
        await new Promise((r) => setTimeout(r, 25));
      }
    };
    await a.declare(topic, ['g']);
    const { id: old } = await a.publish(topic, 'before');
    const first: string[] = [];
    const sub = await a.subscribe(topic, { group: 'g' }, (m) => {
      first.push(m.id);
    });
    await until(() => first.includes(old));
    await sub.close(); // its offset is committed past 'before'
    await b.declare(topic, ['g'], { startFrom: 'earliest' });
    const again: string[] = [];
    await b.subscribe(topic, { group: 'g', startFrom: 'earliest' }, (m) => {
      again.push(m.id);
    });
    const { id: next } = await a.publish(topic, 'after');
    await until(() => again.includes(next));
    expect(again, 'the existing group was not moved back to the start').toEqual([next]);
  });
});
