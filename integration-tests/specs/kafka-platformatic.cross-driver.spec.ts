import { createTransport } from '@carrier/adapter-kafka';
import { native as platformaticNative } from '@carrier/adapter-kafka-platformatic';
import { freshName, waitFor } from '@carrier/contract';
import type { Delivery, Transport, WireMessage } from '@carrier/core';
import { afterEach, describe, expect, inject, it } from 'vitest';
import '../src/context.js';

// The two Kafka drivers (kafkajs, the default, and @platformatic/kafka with ?client=platformatic)
// write the same records and the same commit metadata: a message published by one is consumed
// intact by the other, a key lands on the same partition with either, and a consumer group moves
// from one driver to the other mid-stream without losing or re-handling a settled message.

const FAST = 'sessionTimeoutMs=6000&heartbeatIntervalMs=500&rebalanceTimeoutMs=10000';
type Client = 'kafkajs' | 'platformatic';

function message(id: string, key: string): WireMessage {
  return {
    id,
    key,
    headers: { 'x-trace': `trace-${id}`, 'content-language': 'en' },
    contentType: 'application/json',
    body: new TextEncoder().encode(JSON.stringify({ id, text: 'héllo' })),
    publishedAt: new Date(Date.UTC(2026, 0, 2, 3, 4, 5, 678)),
    metadata: {
      correlationId: `corr-${id}`,
      traceparent: '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01',
      extra: { priority: 'high' },
    },
  };
}

describe('kafka drivers read each other (kafkajs ⇄ platformatic)', () => {
  const transports: Transport[] = [];
  afterEach(async () => {
    await Promise.allSettled(transports.splice(0).map((t) => t.close()));
  });

  async function open(client: Client, extra = ''): Promise<Transport> {
    const url = new URL(`${inject('brokers').kafka}?${FAST}&client=${client}${extra}`);
    const t = await createTransport(url, { onError: () => {} });
    transports.push(t);
    return t;
  }

  /** The first `n` deliveries of group `g` (acked when `ack`, and every ack confirmed). */
  async function collect(t: Transport, topic: string, n: number, ack = true): Promise<Delivery[]> {
    const got: Delivery[] = [];
    const acks: Promise<void>[] = [];
    await t.subscribe(topic, 'g', { prefetch: 16, ordered: false }, (d) => {
      got.push(d);
      if (ack) acks.push(d.ack());
    });
    await waitFor(() => got.length >= n, 30_000, `${n} deliveries`);
    await Promise.all(acks);
    return got;
  }

  for (const [from, to] of [
    ['kafkajs', 'platformatic'],
    ['platformatic', 'kafkajs'],
  ] as const) {
    it(`${from} publishes, a ${to} group consumes every message intact`, { timeout: 90_000 }, async () => {
      const topic = freshName(`xdriver-${from}`);
      const publisher = await open(from);
      const consumer = await open(to);
      await consumer.declare(topic, ['g']);
      const sent = Array.from({ length: 20 }, (_, i) => message(`m${i}`, `k${i % 5}`));
      await publisher.publish(topic, sent);
      const got = await collect(consumer, topic, sent.length);
      expect(got.map((d) => d.message.id).sort()).toEqual(sent.map((m) => m.id).sort());
      for (const d of got) {
        const original = sent.find((m) => m.id === d.message.id)!;
        expect(d.attempt).toBe(1);
        expect(d.message.key).toBe(original.key);
        expect(d.message.headers).toEqual(original.headers);
        expect(d.message.contentType).toBe(original.contentType);
        expect(Buffer.from(d.message.body).equals(Buffer.from(original.body))).toBe(true);
        expect(d.message.publishedAt.toISOString()).toBe(original.publishedAt.toISOString());
        expect(d.message.metadata).toEqual(original.metadata);
      }
    });

    it(`an attempt counted by ${from} is seen by ${to}; a retry's attempt travels too`, {
      timeout: 90_000,
    }, async () => {
      const topic = freshName(`xattempt-${from}`);
      const first = await open(from);
      await first.declare(topic, ['g']);
      await first.publish(topic, [message('crash', 'k'), message('retried', 'k2')]);
      const got = await collect(first, topic, 2, false);
      await got.find((d) => d.message.id === 'retried')!.retry(0);
      await waitFor(() => got.length >= 3, 30_000, 'the retried message again');
      await first.abort(); // a crash: 'crash' and the retried copy were handed out, never settled
      const second = await open(to);
      const again = await collect(second, topic, 2);
      const byId = new Map(again.map((d) => [d.message.id, d.attempt]));
      expect(byId.get('crash')).toBe(2);
      expect(byId.get('retried')).toBe(3); // the retry wrote attempt 2, its handout was counted once more
    });
  }

  it('a key lands on the same partition with either driver', { timeout: 90_000 }, async () => {
    const topic = freshName('xpartition');
    const kafkajs = await open('kafkajs', '&partitions=7');
    const platformatic = await open('platformatic', '&partitions=7');
    await platformatic.declare(topic, ['g']);
    const keys = Array.from({ length: 30 }, (_, i) => `key-${i}-${i * 7919}`);
    await kafkajs.publish(
      topic,
      keys.map((k) => message(`j-${k}`, k)),
    );
    await platformatic.publish(
      topic,
      keys.map((k) => message(`p-${k}`, k)),
    );
    const got = await collect(platformatic, topic, keys.length * 2);
    const partition = (d: Delivery) =>
      platformaticNative.message.unwrap(d.native?.(platformaticNative.message))?.partition;
    const partitions = new Set<number>();
    for (const k of keys) {
      const j = got.find((d) => d.message.id === `j-${k}`)!;
      const p = got.find((d) => d.message.id === `p-${k}`)!;
      expect(partition(p)).toBeTypeOf('number');
      expect(partition(p), k).toBe(partition(j));
      partitions.add(partition(p)!);
    }
    expect(partitions.size).toBeGreaterThan(1); // the keys spread: the comparison can fail
  });

  for (const [before, after] of [
    ['kafkajs', 'platformatic'],
    ['platformatic', 'kafkajs'],
  ] as const) {
    it(`a group that switches from ${before} to ${after} mid-stream loses nothing`, {
      timeout: 120_000,
    }, async () => {
      const topic = freshName(`xswitch-${before}`);
      const publisher = await open('kafkajs');
      await publisher.declare(topic, ['g']);
      const sent = Array.from({ length: 60 }, (_, i) => message(`m${i}`, `k${i % 7}`));
      await publisher.publish(topic, sent.slice(0, 30));
      const first = await open(before);
      const seenFirst = await collect(first, topic, 30);
      await first.close();
      await publisher.publish(topic, sent.slice(30));
      const second = await open(after);
      const seenSecond = await collect(second, topic, 30);
      const ids = [...seenFirst, ...seenSecond].map((d) => d.message.id);
      expect(new Set(ids).size).toBe(ids.length); // nothing settled was handed out again
      expect(ids.sort()).toEqual(sent.map((m) => m.id).sort());
      expect(seenSecond.every((d) => d.attempt === 1)).toBe(true);
    });
  }
});
