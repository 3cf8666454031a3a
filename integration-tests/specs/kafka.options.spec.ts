import { freshName } from '@carrier/contract';
import { type Carrier, connect } from '@carrier/core';
import kafkajs from 'kafkajs';
import { afterEach, describe, expect, inject, it } from 'vitest';
import '../src/context.js';
import { kafkaBrokers } from '../src/urls.js';

// URL options that change what Carrier creates on the broker (docs/brokers/kafka.md).

describe('kafka URL options', () => {
  const open: Carrier[] = [];
  afterEach(async () => {
    await Promise.allSettled(open.splice(0).map((c) => c.close()));
  });

  async function partitionCounts(topics: string[]): Promise<number[]> {
    const admin = new kafkajs.Kafka({
      brokers: kafkaBrokers(inject('brokers').kafka),
      logLevel: kafkajs.logLevel.NOTHING,
    }).admin();
    await admin.connect();
    try {
      const { topics: found } = await admin.fetchTopicMetadata({ topics });
      return topics.map((t) => found.find((f) => f.name === t)?.partitions.length ?? 0);
    } finally {
      await admin.disconnect();
    }
  }

  it('creates the topic, its retry and dead-letter topics with ?partitions', async () => {
    const c = await connect(`${inject('brokers').kafka}?partitions=5&clientId=carrier-options-spec`);
    open.push(c);
    const topic = freshName('opts');
    await c.declare(topic, ['billing']);
    expect(await partitionCounts([topic, `${topic}..billing.retry`, `${topic}..billing.dlq`])).toEqual([
      5, 5, 5,
    ]);
  });

  // provisioning=off, for both drivers: kafka-refusals-support.ts
});
