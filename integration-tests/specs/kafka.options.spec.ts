import { freshName } from '@carrier/contract';
import { type Carrier, CarrierError, connect } from '@carrier/core';
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

  it('provisioning=off creates nothing and fails with TOPOLOGY_CONFLICT on a missing topic', async () => {
    const c = await connect(`${inject('brokers').kafka}?provisioning=off`);
    open.push(c);
    const topic = freshName('noprov');
    let error: unknown;
    try {
      await c.publish(topic, 'x');
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(CarrierError);
    expect((error as CarrierError).code).toBe('TOPOLOGY_CONFLICT');
    expect((await partitionCounts([topic]).catch(() => [0]))[0]).toBe(0);
  });
});
