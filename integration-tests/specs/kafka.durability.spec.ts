import { describe, it } from 'vitest';
import '../src/context.js';
import { checkKafkaDurability } from './kafka-durability-support.js';

// A group of two members (one in this process, one a child process) handles 10,000 messages while
// the broker is killed with SIGKILL and restarted and the child member is killed and replaced:
// the history checker finds nothing lost, nothing phantom and per-key order intact; duplicates and
// unavailability are printed. Repeated runs: soak/. The same on the platformatic driver:
// kafka-platformatic.durability.spec.ts.

describe('kafka durability', () => {
  it('a group handles all of 10000 messages through a broker kill -9 and a member kill -9', {
    timeout: 600_000,
  }, async () => {
    await checkKafkaDurability('kafka durability');
  });
});
