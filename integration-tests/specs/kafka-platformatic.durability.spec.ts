import type { ChildProcess } from 'node:child_process';
import { describe, it } from 'vitest';
import '../src/context.js';
import { privateBroker } from '../src/faults.js';
import { expectClean } from '../src/history/index.js';
import { describeResult, runKafkaDurability } from './kafka-durability-support.js';

// kafka.durability.spec.ts on the @platformatic/kafka driver (`?client=platformatic`): a group of
// two members handles 10,000 messages through a broker kill -9 and a member kill -9; nothing lost,
// nothing phantom, per-key order intact.

describe('kafka durability (client=platformatic)', () => {
  it('a group handles all of 10000 messages through a broker kill -9 and a member kill -9', {
    timeout: 600_000,
  }, async () => {
    const kafka = await privateBroker('kafka');
    const children = new Set<ChildProcess>();
    try {
      const result = await runKafkaDurability({
        kafka,
        total: 10_000,
        stallMs: 120_000,
        children,
        query: 'client=platformatic',
      });
      console.log(`[kafka durability, platformatic] ${describeResult(result)}`);
      expectClean(result.report, { order: true });
    } finally {
      for (const child of children) child.kill('SIGKILL');
      await kafka.dispose();
    }
  });
});
