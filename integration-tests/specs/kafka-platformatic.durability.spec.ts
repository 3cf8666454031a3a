import { describe, it } from 'vitest';
import '../src/context.js';
import { checkKafkaDurability } from './kafka-durability-support.js';

// kafka.durability.spec.ts on the @platformatic/kafka driver (`?client=platformatic`): a group of
// two members handles 10,000 messages through a broker kill -9 and a member kill -9; nothing lost,
// nothing phantom, per-key order intact.

describe('kafka durability (client=platformatic)', () => {
  it('a group handles all of 10000 messages through a broker kill -9 and a member kill -9', {
    timeout: 600_000,
  }, async () => {
    await checkKafkaDurability('kafka durability, platformatic', 'client=platformatic');
  });
});
