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
});
