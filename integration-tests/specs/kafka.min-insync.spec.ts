import { freshName } from '@carrier/contract';
import { type Carrier, CarrierError, connect } from '@carrier/core';
import kafkajs from 'kafkajs';
import { afterEach, describe, expect, inject, it } from 'vitest';
import '../src/context.js';
import { kafkaBrokers } from '../src/urls.js';

// ?minInsyncReplicas= (docs/brokers/kafka.md, "Clusters"): every topic Carrier creates gets it as
// its min.insync.replicas, with the replication factor. The run's Kafka is a single broker, so the
// value here is 1 — the broker's default too, which is why the test checks that the topic itself
// carries it (a topic-level config) and that a topic created without the option does not.

type Described = { value: string | undefined; topicLevel: boolean; replicas: number[] };

/** `min.insync.replicas` of each topic (its value, whether set on the topic) and its partitions' replica counts. */
async function describeTopics(topics: readonly string[]): Promise<Described[]> {
  const admin = new kafkajs.Kafka({
    brokers: kafkaBrokers(inject('brokers').kafka),
    logLevel: kafkajs.logLevel.NOTHING,
  }).admin();
  await admin.connect();
  try {
    const { resources } = await admin.describeConfigs({
      includeSynonyms: false,
      resources: topics.map((name) => ({
        type: kafkajs.ConfigResourceTypes.TOPIC,
        name,
        configNames: ['min.insync.replicas'],
      })),
    });
    const { topics: metadata } = await admin.fetchTopicMetadata({ topics: [...topics] });
    return topics.map((name) => {
      const entry = resources
        .find((r) => r.resourceName === name)
        ?.configEntries.find((e) => e.configName === 'min.insync.replicas');
      const partitions = metadata.find((m) => m.name === name)?.partitions ?? [];
      return {
        value: entry?.configValue,
        // a dynamic topic config (set at creation), not the broker's default or static config
        topicLevel: entry !== undefined && !entry.isDefault && entry.configSource === 1,
        replicas: partitions.map((p) => p.replicas.length),
      };
    });
  } finally {
    await admin.disconnect();
  }
}

describe('kafka ?minInsyncReplicas=', () => {
  const open: Carrier[] = [];
  afterEach(async () => {
    await Promise.allSettled(open.splice(0).map((c) => c.close()));
  });

  it('sets min.insync.replicas on the topic and its retry, dead-letter and delay topics', {
    timeout: 60_000,
  }, async () => {
    const c = await connect(
      `${inject('brokers').kafka}?minInsyncReplicas=1&replicationFactor=1&partitions=2`,
    );
    open.push(c);
    const topic = freshName('misr');
    await c.declare(topic, ['billing']);
    await c.publish(topic, 'later', { delayMs: 60_000 }); // creates the topic's delay topic
    const names = [topic, `${topic}..billing.retry`, `${topic}..billing.dlq`, `${topic}..delay`];
    const described = await describeTopics(names);
    for (const [i, d] of described.entries()) {
      expect({ topic: names[i], value: d.value, topicLevel: d.topicLevel }).toEqual({
        topic: names[i],
        value: '1',
        topicLevel: true,
      });
      expect(d.replicas.length).toBeGreaterThan(0);
      expect(d.replicas.every((n) => n === 1)).toBe(true);
    }
  });

  it('leaves min.insync.replicas to the broker without the option', { timeout: 60_000 }, async () => {
    const c = await connect(inject('brokers').kafka);
    open.push(c);
    const topic = freshName('misr-none');
    await c.declare(topic, ['billing']);
    const described = await describeTopics([topic, `${topic}..billing.dlq`]);
    expect(described.map((d) => d.topicLevel)).toEqual([false, false]);
  });

  it('refuses at connect more in-sync replicas than the default replication factor of a one-broker cluster', {
    timeout: 30_000,
  }, async () => {
    let error: unknown;
    try {
      open.push(await connect(`${inject('brokers').kafka}?minInsyncReplicas=2`));
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(CarrierError);
    expect((error as CarrierError).code).toBe('INVALID_ARGUMENT');
    expect((error as CarrierError).message).toMatch(
      /minInsyncReplicas \(2\) must not exceed the replication factor \(1\)/,
    );
  });
});
