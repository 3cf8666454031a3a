import { freshName, waitFor } from '@carrier/contract';
import { type Carrier, CarrierError, connect } from '@carrier/core';
import kafkajs from 'kafkajs';
import { afterEach, describe, expect, inject, it } from 'vitest';
import '../src/context.js';
import { kafkaBrokers } from '../src/urls.js';

// ?client=platformatic declares topics, reads lag and answers requests on @platformatic/kafka (not on
// its internal kafkajs transport): the topics it creates must be the kafkajs driver's (partitions, replication,
// retention of retry and dead-letter topics, min.insync.replicas), and both drivers must read the
// same lag of a group.

const CONFIGS = ['retention.ms', 'min.insync.replicas'] as const;

interface Shape {
  partitions: number;
  replicas: number[];
  /** Topic-level (dynamic) configs only: what the creation set. */
  configs: Record<string, string | undefined>;
}

/** Each topic's partition count, replica counts and topic-level configs, read with a plain kafkajs admin. */
async function shapes(topics: readonly string[]): Promise<Shape[]> {
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
        configNames: [...CONFIGS],
      })),
    });
    const { topics: metadata } = await admin.fetchTopicMetadata({ topics: [...topics] });
    return topics.map((name) => {
      const entries = resources.find((r) => r.resourceName === name)?.configEntries ?? [];
      const configs: Record<string, string | undefined> = {};
      for (const c of CONFIGS) {
        const e = entries.find((x) => x.configName === c);
        configs[c] = e !== undefined && e.configSource === 1 ? e.configValue : undefined;
      }
      const partitions = metadata.find((m) => m.name === name)?.partitions ?? [];
      return { partitions: partitions.length, replicas: partitions.map((p) => p.replicas.length), configs };
    });
  } finally {
    await admin.disconnect();
  }
}

describe('kafka ?client=platformatic administration (declare, lag)', () => {
  const open: Carrier[] = [];
  afterEach(async () => {
    await Promise.allSettled(open.splice(0).map((c) => c.close()));
  });

  async function carrier(client: 'kafkajs' | 'platformatic', extra = ''): Promise<Carrier> {
    const c = await connect(`${inject('brokers').kafka}?client=${client}${extra}`);
    open.push(c);
    return c;
  }

  it('declares the same topics as the kafkajs driver: partitions, replication, retention, min.insync.replicas', {
    timeout: 60_000,
  }, async () => {
    const extra = '&partitions=3&replicationFactor=1&minInsyncReplicas=1';
    const plat = await carrier('platformatic', extra);
    const kjs = await carrier('kafkajs', extra);
    const [a, b] = [freshName('plat-decl'), freshName('kjs-decl')];
    await plat.declare(a, ['billing']);
    await kjs.declare(b, ['billing']);
    const names = (t: string) => [t, `${t}..billing.retry`, `${t}..billing.dlq`];
    const [fromPlat, fromKjs] = await Promise.all([shapes(names(a)), shapes(names(b))]);
    expect(fromPlat).toEqual(fromKjs);
    expect(fromPlat.map((s) => s.partitions)).toEqual([3, 3, 3]);
    expect(fromPlat.map((s) => s.configs['min.insync.replicas'])).toEqual(['1', '1', '1']);
    expect(fromPlat[2]?.configs['retention.ms']).toBe('-1');
    expect(plat.capabilities.maxMessageBytes).toBe(kjs.capabilities.maxMessageBytes);
  });

  it('reads the same lag as the kafkajs driver, down to 0 once every message is handled', {
    timeout: 60_000,
  }, async () => {
    const plat = await carrier('platformatic', '&partitions=2');
    const kjs = await carrier('kafkajs', '&partitions=2');
    const topic = freshName('plat-lag');
    await plat.declare(topic, ['g']);
    for (let i = 0; i < 4; i++) await plat.publish(topic, `m${i}`, { key: `k${i}` });
    expect((await plat.lag(topic, 'g')).messages).toBe(4);
    expect((await kjs.lag(topic, 'g')).messages).toBe(4);
    const handled: string[] = [];
    await plat.subscribe(topic, { group: 'g' }, (m) => {
      handled.push(m.id);
    });
    await waitFor(() => handled.length === 4, 30_000, 'the 4 messages handled');
    const deadline = Date.now() + 30_000;
    for (;;) {
      const { messages } = await plat.lag(topic, 'g');
      if (messages === 0) break;
      if (Date.now() > deadline) throw new Error(`the lag stayed at ${messages}`);
      await new Promise((r) => setTimeout(r, 100));
    }
    expect((await kjs.lag(topic, 'g')).messages).toBe(0);
  });

  // both drivers share the reply topic and the reply address format (adapter-kafka's replies.ts)
  it("request/reply across drivers: a platformatic requester gets a kafkajs server's reply and back", {
    timeout: 60_000,
  }, async () => {
    const plat = await carrier('platformatic');
    const kjs = await carrier('kafkajs');
    for (const [server, client] of [
      [kjs, plat],
      [plat, kjs],
    ] as const) {
      const topic = freshName('plat-rr');
      await server.subscribe(topic, { group: 'server' }, async (m) => {
        await m.reply({ echo: m.body });
      });
      const reply = await client.request(topic, { n: 1 }, { timeoutMs: 30_000 });
      expect(reply.body).toEqual({ echo: { n: 1 } });
    }
  });

  it("a subscription moves its topic's delayed messages after their publisher is gone", {
    timeout: 60_000,
  }, async () => {
    const publisher = await connect(`${inject('brokers').kafka}?client=platformatic`);
    const topic = freshName('plat-delay-mover');
    await publisher.declare(topic, ['g']);
    const { id } = await publisher.publish(topic, 'later', { delayMs: 2_000 });
    await publisher.close(); // its mover stops before the message is due
    const subscriber = await carrier('platformatic');
    const received: string[] = [];
    await subscriber.subscribe(topic, { group: 'g' }, (m) => {
      received.push(m.id);
    });
    await waitFor(() => received.includes(id), 40_000, 'the delayed message, moved by the subscriber');
    expect(received).toEqual([id]);
  });

  it('refuses the lag of a group that does not exist with INVALID_ARGUMENT', {
    timeout: 30_000,
  }, async () => {
    const plat = await carrier('platformatic');
    const topic = freshName('plat-nolag');
    await plat.declare(topic, []);
    const error = await plat.lag(topic, 'nobody').catch((e: unknown) => e);
    expect(error).toBeInstanceOf(CarrierError);
    expect((error as CarrierError).code).toBe('INVALID_ARGUMENT');
  });
});
