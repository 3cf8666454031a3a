import { describe, inject, it } from 'vitest';
import '../src/context.js';
import { bridgeRoundTripProof } from './bridge-support.js';
import { buildCli } from './cli-support.js';

// The same proof within RabbitMQ (two topics on one broker), smaller: the bridge mechanics
// (kill, restart, resume, verify) on the broker whose redelivery is immediate.
describe('carrier bridge: RabbitMQ → RabbitMQ → RabbitMQ with SIGKILLs', () => {
  it('moves 4,000 messages there and back; --verify reports 0 missing', async () => {
    buildCli();
    const { rabbitmq } = inject('brokers');
    const log = await bridgeRoundTripProof({ a: rabbitmq, b: rabbitmq, total: 4_000, killAt: [800, 800] });
    console.log(log.join('\n'));
  }, 600_000);
});
