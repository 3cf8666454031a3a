import type { ChildProcess } from 'node:child_process';
import { describe, it } from 'vitest';
import '../src/context.js';
import { privateBroker } from '../src/faults.js';
import { expectClean } from '../src/history/index.js';
import { describeResult, runKafkaDurability } from './kafka-durability-support.js';

// A group of two members (one in this process, one a child process) handles 10,000 messages while
// the broker is killed with SIGKILL and restarted and the child member is killed and replaced:
// the history checker finds nothing lost, nothing phantom and per-key order intact; duplicates and
// unavailability are printed. Repeated runs: soak/.

describe('kafka durability', () => {
  it('a group handles all of 10000 messages through a broker kill -9 and a member kill -9', {
    timeout: 600_000,
  }, async () => {
    const kafka = await privateBroker('kafka');
    const children = new Set<ChildProcess>();
    try {
      const result = await runKafkaDurability({ kafka, total: 10_000, stallMs: 120_000, children });
      console.log(`[kafka durability] ${describeResult(result)}`);
      expectClean(result.report, { order: true });
    } finally {
      for (const child of children) child.kill('SIGKILL');
      await kafka.dispose();
    }
  });
});
