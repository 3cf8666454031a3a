import { consumerName, topicStream } from '@carrier/adapter-nats';
import { freshName, gate, waitFor } from '@carrier/contract';
import { type Carrier, CarrierError, connect } from '@carrier/core';
import { DiscardPolicy, jetstreamManager } from '@nats-io/jetstream';
import { connect as natsConnect } from '@nats-io/transport-node';
import { afterEach, describe, expect, inject, it } from 'vitest';
import '../src/context.js';
import { natsConnectOptions } from '../src/urls.js';

// NATS-specific semantics beyond the contract: what per-key order holds, leases kept alive while a
// handler runs longer than ack_wait, and the layout Carrier creates on the server.

const url = () => inject('brokers').nats;
const open: Carrier[] = [];
async function carrier(query = ''): Promise<Carrier> {
  const c = await connect(`${url()}${query}`);
  open.push(c);
  return c;
}

/** Polls an asynchronous probe every 50 ms until it returns a value; fails after `timeoutMs`. */
async function eventually<T>(
  timeoutMs: number,
  what: string,
  probe: () => Promise<T | undefined>,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

afterEach(async () => {
  await Promise.allSettled(open.splice(0).map((c) => c.close()));
});

describe('nats semantics', () => {
  it('ordered: true is refused (UNSUPPORTED): a JetStream group hands out messages to every member', async () => {
    const c = await carrier();
    const error = await c
      .subscribe(freshName('ord'), { group: 'g', ordered: true }, () => {})
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(CarrierError);
    expect((error as CarrierError).code).toBe('UNSUPPORTED');
  });

  it('one member per group: per-key order holds (stream order) with concurrency > 1', async () => {
    const c = await carrier();
    const topic = freshName('order');
    const seen = new Map<string, number[]>();
    let inFlight = 0;
    let maxInFlight = 0;
    let total = 0;
    await c.subscribe(topic, { group: 'g', concurrency: 8 }, async (m) => {
      inFlight++;
      maxInFlight = Math.max(maxInFlight, inFlight);
      const { key, seq } = m.body as { key: string; seq: number };
      await new Promise((resolve) => setTimeout(resolve, (seq * 7) % 11));
      seen.set(key, [...(seen.get(key) ?? []), seq]);
      inFlight--;
      total++;
    });
    const entries = [];
    for (let seq = 0; seq < 40; seq++)
      for (const key of ['a', 'b', 'c', 'd']) entries.push({ body: { key, seq }, key });
    await c.publishBatch(topic, entries);
    await waitFor(() => total >= 160, 30_000, '160 messages');
    for (const key of ['a', 'b', 'c', 'd'])
      expect(seen.get(key)).toEqual(Array.from({ length: 40 }, (_, i) => i));
    expect(maxInFlight).toBeGreaterThan(1);
  });

  it('a handler running longer than ack_wait keeps its lease (+WPI): no redelivery to another member', async () => {
    const ackWaitMs = 1_500;
    const slow = await carrier(`?ackWaitMs=${ackWaitMs}`);
    const other = await carrier(`?ackWaitMs=${ackWaitMs}`);
    const topic = freshName('lease');
    const calls: Array<{ id: string; attempt: number; member: string }> = [];
    const release = gate();
    let started = 0;
    await slow.subscribe(topic, { group: 'g' }, async (m) => {
      calls.push({ id: m.id, attempt: m.attempt, member: 'slow' });
      started = Date.now();
      await release.promise;
    });
    const { id } = await slow.publish(topic, { long: true });
    await waitFor(() => calls.length >= 1, 20_000, 'the slow handler to start');
    await other.subscribe(topic, { group: 'g' }, (m) => {
      calls.push({ id: m.id, attempt: m.attempt, member: 'other' });
    });
    // the property is about time: hold the handler for more than three ack_wait periods
    await waitFor(() => Date.now() - started > 3 * ackWaitMs + 500, 20_000, 'three ack_wait periods');
    release.open();
    const nc = await natsConnect(natsConnectOptions(url()));
    try {
      const jsm = await jetstreamManager(nc);
      const info = await eventually(10_000, 'the ack to reach the server', async () => {
        const i = await jsm.consumers.info(topicStream(topic), consumerName('g'));
        return i.num_ack_pending === 0 ? i : undefined;
      });
      expect(info.num_ack_pending).toBe(0);
      expect(info.num_redelivered).toBe(0);
    } finally {
      await nc.close();
    }
    expect(calls).toEqual([{ id, attempt: 1, member: 'slow' }]);
  });

  it("raises a group's max_ack_pending to a member's prefetch, and never lowers it", async () => {
    const c = await carrier('?maxAckPending=2');
    const topic = freshName('map');
    await c.declare(topic, ['g']);
    const nc = await natsConnect(natsConnectOptions(url()));
    try {
      const jsm = await jetstreamManager(nc);
      expect((await jsm.consumers.info(topicStream(topic), 'g')).config.max_ack_pending).toBe(2);
      await c.subscribe(topic, { group: 'g', concurrency: 5 }, () => {});
      const info = await jsm.consumers.info(topicStream(topic), 'g');
      expect(info.config.max_ack_pending).toBe(5);
      expect(info.config.filter_subjects).toHaveLength(2); // the update kept the rest of the config
      await c.subscribe(topic, { group: 'g', concurrency: 3 }, () => {});
      expect((await jsm.consumers.info(topicStream(topic), 'g')).config.max_ack_pending).toBe(5);
    } finally {
      await nc.close();
    }
  });

  it('PUBLISH_FAILED names exactly the messages the server refused; the others are stored', async () => {
    const c = await carrier();
    const topic = freshName('partial');
    const nc = await natsConnect(natsConnectOptions(url()));
    try {
      const jsm = await jetstreamManager(nc);
      // an operator-made stream with Carrier's subjects that takes only 3 messages
      await jsm.streams.add({
        name: topicStream(topic),
        subjects: [`carrier.${topic}`, `carrier-redrive.${topicStream(topic).slice(8)}.*`],
        max_msgs: 3,
        discard: DiscardPolicy.New,
      });
      const entries = Array.from({ length: 10 }, (_, i) => ({ body: { i }, id: `p-${i}` }));
      const error = await c.publishBatch(topic, entries).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(CarrierError);
      const failed = (error as CarrierError).failures;
      expect((error as CarrierError).code).toBe('PUBLISH_FAILED');
      expect(failed).toHaveLength(7);
      for (const f of failed) expect(f.id).toBe(`p-${f.index}`);
      const stored: string[] = [];
      for (let seq = 1; seq <= 3; seq++) {
        const m = await jsm.streams.getMessage(topicStream(topic), { seq });
        stored.push(m!.header.get('Carrier-Id'));
      }
      const failedIds = new Set(failed.map((f) => f.id));
      expect(stored.filter((id) => failedIds.has(id))).toEqual([]);
      expect(new Set([...stored, ...failedIds])).toEqual(new Set(entries.map((e) => e.id)));
      await jsm.streams.delete(topicStream(topic));
    } finally {
      await nc.close();
    }
  });

  it('a foreign stream on carrier.<topic> is a TOPOLOGY_CONFLICT, never a silent takeover', async () => {
    const c = await carrier();
    const topic = freshName('foreign');
    const nc = await natsConnect(natsConnectOptions(url()));
    const foreign = `FOREIGN_${topicStream(topic).slice(8)}`;
    try {
      const jsm = await jetstreamManager(nc);
      await jsm.streams.add({ name: foreign, subjects: [`carrier.${topic}`] });
      const sub = await c.subscribe(topic, { group: 'g' }, () => {}).catch((e: unknown) => e);
      expect(sub).toBeInstanceOf(CarrierError);
      expect((sub as CarrierError).code).toBe('TOPOLOGY_CONFLICT');
      const pub = await c.publish(topic, 'x').catch((e: unknown) => e);
      expect(pub).toBeInstanceOf(CarrierError);
      expect((pub as CarrierError).code).toBe('PUBLISH_FAILED');
      expect((pub as CarrierError).failures).toHaveLength(1);
      expect(((pub as CarrierError).cause as CarrierError).code).toBe('TOPOLOGY_CONFLICT');
      await jsm.streams.delete(foreign);
    } finally {
      await nc.close();
    }
  });

  it('creates one stream per topic, a durable consumer per group and a dead-letter stream', async () => {
    const c = await carrier();
    const topic = `orders.${freshName('layout')}`;
    await c.declare(topic, ['billing', 'ship.ping']);
    const nc = await natsConnect(natsConnectOptions(url()));
    try {
      const jsm = await jetstreamManager(nc);
      const stream = await jsm.streams.info(topicStream(topic));
      expect(stream.config.subjects).toEqual([
        `carrier.${topic}`,
        `carrier-redrive.${topicStream(topic).slice(8)}.*`,
      ]);
      expect(stream.config.storage).toBe('file');
      expect(stream.config.retention).toBe('interest');
      const billing = await jsm.consumers.info(topicStream(topic), 'billing');
      expect(billing.config.ack_policy).toBe('explicit');
      expect(billing.config.durable_name).toBe('billing');
      expect(billing.config.filter_subjects).toEqual([
        `carrier.${topic}`,
        `carrier-redrive.${topicStream(topic).slice(8)}.billing`,
      ]);
      const shipping = await jsm.consumers.info(topicStream(topic), consumerName('ship.ping'));
      expect(shipping.name).toBe('ship_Dping');
      const dlq = await jsm.streams.info(`CARRIER-DLQ_${topicStream(topic).slice(8)}`);
      expect(dlq.config.retention).toBe('limits');
    } finally {
      await nc.close();
    }
  });
});
