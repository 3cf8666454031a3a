import { describe, inject, it } from 'vitest';
import '../src/context.js';
import { bridgeRoundTripProof } from './bridge-support.js';
import { buildCli } from './cli-support.js';

// Issue 9's proof: 20,000 messages Kafka → RabbitMQ and back RabbitMQ → Kafka through two
// `carrier bridge` processes, each SIGKILLed twice while it moves and restarted; then every
// message is back on Kafka unchanged and `carrier bridge --verify` reports zero missing on both
// hops and prints the duplicates the kills caused.
describe('carrier bridge: Kafka → RabbitMQ → Kafka with SIGKILLs', () => {
  it('moves 20,000 messages there and back; --verify reports 0 missing and prints duplicates', async () => {
    await buildCli();
    const { kafka, rabbitmq } = inject('brokers');
    const log = await bridgeRoundTripProof({ a: kafka, b: rabbitmq, total: 20_000, killAt: [3_000, 3_000] });
    console.log(log.join('\n'));
  }, 1_500_000);
});
