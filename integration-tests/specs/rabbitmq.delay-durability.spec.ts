import { delayLadderName } from '@carrier/adapter-rabbitmq';
import amqp from 'amqplib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import '../src/context.js';
import { type PrivateBroker, privateBroker } from '../src/faults.js';
import { describeDelayResult, runDelayDurability } from './delay-durability-support.js';

// Delayed publish survives a broker kill -9 (docs/brokers/rabbitmq.md, "Delayed publish"): 1,000
// delayed messages wait in the publish-delay ladder of a RabbitMQ node of this spec's own, which
// is killed with SIGKILL once every publish is confirmed and started again. Both groups receive
// all of them, none early. Quorum queues (the default) and classic queues.

let rabbit: PrivateBroker;
beforeAll(async () => {
  rabbit = await privateBroker('rabbitmq');
}, 180_000);
afterAll(async () => {
  await rabbit?.dispose();
});

describe('rabbitmq delayed publish durability', () => {
  for (const mode of ['quorum', 'classic'] as const) {
    it(`${mode} queues: 1000 delayed messages through a broker kill -9, none early, none lost`, {
      timeout: 240_000,
    }, async () => {
      const result = await runDelayDurability({
        broker: rabbit,
        url: `${rabbit.url}?queueType=${mode}`,
        total: 1_000,
        minDelayMs: 8_000,
        spreadMs: 20_000,
        budgetMs: Number(process.env.DELAY_BUDGET ?? 180_000),
        diagnose: (topic) => queueDepths(rabbit.url, mode, topic),
      });
      console.log(`[rabbitmq ${mode} delay durability] ${describeDelayResult(result)}`);
      expect(result.early).toEqual([]);
      expect(result.received).toEqual({ g1: 1_000, g2: 1_000 });
    });
  }
});

/** Messages ready in each non-empty ladder queue of `mode` and in the groups' queues. */
async function queueDepths(url: string, mode: 'quorum' | 'classic', topic: string): Promise<string> {
  const connection = await amqp.connect(url);
  try {
    const names = [...Array(32).keys()].map((level) => delayLadderName(mode, level));
    names.push(`carrier:${topic}:g1`, `carrier:${topic}:g2`);
    const depths: string[] = [];
    for (const name of names) {
      const channel = await connection.createChannel();
      const { messageCount } = await channel.checkQueue(name).catch(() => ({ messageCount: -1 }));
      if (messageCount !== 0) depths.push(`${name}: ${messageCount}`);
      await channel.close().catch(() => {});
    }
    return `queues: ${depths.join(', ') || 'all empty'}`;
  } finally {
    await connection.close();
  }
}
