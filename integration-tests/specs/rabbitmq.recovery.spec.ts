import { randomUUID } from 'node:crypto';
import { createTransport } from '@carrier/adapter-rabbitmq';
import { waitFor } from '@carrier/contract';
import { type Carrier, CarrierError, connect, type Delivery, type WireMessage } from '@carrier/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import '../src/context.js';
import { type PrivateBroker, privateBroker } from '../src/faults.js';

// Connection recovery and durability on a RabbitMQ of this file's own (privateBroker), so stopping
// and killing it disturbs no other spec. Publishers retry what was rejected; every message that was
// confirmed must be handled; duplicates are counted and printed (at-least-once allows them).

const fresh = (prefix: string) => `${prefix}-${randomUUID().slice(0, 8)}`;
const TOTAL = 10_000;
const BATCH = 100;
let rabbit: PrivateBroker;
let url: string;

beforeAll(async () => {
  rabbit = await privateBroker('rabbitmq');
  url = `${rabbit.url}?recoveryTimeout=120000`;
}, 240_000);

afterAll(async () => {
  await rabbit?.dispose();
});

function wire(id: string, body = id): WireMessage {
  return {
    id,
    headers: {},
    contentType: 'text/plain; charset=utf-8',
    body: new TextEncoder().encode(body),
    publishedAt: new Date(),
  };
}

async function stream(fault: 'stop-start' | 'kill-9'): Promise<void> {
  const errors: CarrierError[] = [];
  const onError = (e: Error) => {
    if (e instanceof CarrierError) errors.push(e);
  };
  const carriers: Carrier[] = [];
  try {
    const pub = await connect(url, { onError });
    const sub = await connect(url, { onError });
    carriers.push(pub, sub);
    const topic = fresh(`durable-${fault}`);
    const handled = new Map<string, number>();
    let handledAfterFault = 0;
    let faultDone = false;
    await sub.subscribe(topic, { group: 'g', concurrency: 16 }, (m) => {
      handled.set(m.id, (handled.get(m.id) ?? 0) + 1);
      if (faultDone) handledAfterFault++;
    });

    const confirmed = new Set<string>();
    const rejections = new Map<string, number>();
    let republished = 0;
    const publishing = (async () => {
      for (let start = 0; start < TOTAL; start += BATCH) {
        let pending = Array.from({ length: BATCH }, (_, i) => ({
          id: `m-${start + i}`,
          body: { n: start + i },
        }));
        while (pending.length > 0) {
          try {
            await pub.publishBatch(topic, pending);
            for (const p of pending) confirmed.add(p.id);
            pending = [];
          } catch (error) {
            // in-flight publishes during the outage: rejected with a coded error naming exactly the failures
            expect(error).toBeInstanceOf(CarrierError);
            const e = error as CarrierError;
            rejections.set(e.code, (rejections.get(e.code) ?? 0) + 1);
            expect(e.code).toBe('PUBLISH_FAILED');
            const failed = new Set(e.failures.map((f) => f.id));
            expect(failed.size).toBeGreaterThan(0);
            for (const p of pending) if (!failed.has(p.id)) confirmed.add(p.id);
            pending = pending.filter((p) => failed.has(p.id));
            republished += pending.length;
          }
        }
      }
    })();

    await waitFor(() => confirmed.size >= TOTAL * 0.3, 120_000, '30% of the stream confirmed');
    const handledBefore = handled.size;
    const faultStarted = performance.now();
    if (fault === 'stop-start') await rabbit.stop();
    else await rabbit.kill9();
    await rabbit.start();
    faultDone = true;
    const outageMs = Math.round(performance.now() - faultStarted);
    await publishing;
    const drainStarted = performance.now();
    await waitFor(
      () => [...confirmed].every((id) => handled.has(id)),
      180_000,
      'every confirmed message handled',
    );
    const drainMs = Math.round(performance.now() - drainStarted);

    const duplicates = [...handled.values()].reduce((n, count) => n + count - 1, 0);
    const codes = Object.fromEntries(
      errors.reduce((m, e) => m.set(e.code, (m.get(e.code) ?? 0) + 1), new Map<string, number>()),
    );
    console.log(
      `[rabbitmq ${fault}] confirmed ${confirmed.size}/${TOTAL}, handled ${handled.size} distinct ` +
        `(${handledBefore} before the fault), duplicates ${duplicates}, publish rejections ${JSON.stringify(Object.fromEntries(rejections))} ` +
        `(${republished} messages republished), async errors ${JSON.stringify(codes)}, broker down+up ${outageMs} ms, ` +
        `drain after publishing ${drainMs} ms`,
    );
    expect(confirmed.size).toBe(TOTAL);
    expect(handledAfterFault, 'the consumer resumed by itself').toBeGreaterThan(0);
    expect(
      errors.some((e) => e.code === 'CONNECTION'),
      'the outage was reported',
    ).toBe(true);
  } finally {
    await Promise.allSettled(carriers.map((c) => c.close()));
  }
}

describe('rabbitmq connection recovery', () => {
  it(`${TOTAL} messages while the broker is stopped and restarted mid-stream: nothing confirmed is lost`, async () => {
    await stream('stop-start');
  }, 600_000);

  it(`${TOTAL} messages while the broker is killed with SIGKILL mid-stream: nothing confirmed is lost`, async () => {
    await stream('kill-9');
  }, 600_000);

  it('a publish during an outage waits for the connection up to recoveryTimeout, then fails with PUBLISH_FAILED', async () => {
    const impatient = await connect(`${rabbit.url}?recoveryTimeout=1500`, { onError: () => {} });
    const patient = await connect(url, { onError: () => {} });
    try {
      const topic = fresh('outage');
      const got: string[] = [];
      await patient.subscribe(topic, { group: 'g' }, (m) => {
        got.push(m.id);
      });
      await rabbit.stop();
      const failed = await impatient.publish(topic, 'during', { id: 'during' }).then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(failed).toBeInstanceOf(CarrierError);
      expect((failed as CarrierError).code).toBe('PUBLISH_FAILED');
      expect((failed as CarrierError).failures.map((f) => f.id)).toEqual(['during']);
      expect(((failed as CarrierError).cause as CarrierError).code).toBe('CONNECTION');
      // a publish still waiting when the broker is back is confirmed, and the subscription resumed
      const waiting = patient.publish(topic, 'waited', { id: 'waited' });
      await rabbit.start();
      await waiting;
      await waitFor(() => got.includes('waited'), 60_000, 'the resumed subscription');
      expect(got).not.toContain('during');
    } finally {
      await Promise.allSettled([impatient.close(), patient.close()]);
    }
  }, 180_000);

  it('a channel error (406 on a double ack) kills neither other subscriptions nor publishing; the consumer comes back', async () => {
    const errors: Error[] = [];
    const t = await createTransport(new URL(url), { onError: (e) => errors.push(e) });
    try {
      const topic = fresh('chan-err');
      const a: Delivery[] = [];
      const b: string[] = [];
      await t.subscribe(topic, 'a', { prefetch: 4, ordered: false }, (d) => {
        a.push(d);
      });
      await t.subscribe(topic, 'b', { prefetch: 4, ordered: false }, (d) => {
        b.push(d.message.id);
        void d.ack();
      });
      await t.publish(topic, [wire('one')]);
      await waitFor(() => a.length >= 1 && b.includes('one'), 20_000, 'first message on both groups');
      await a[0]!.ack();
      await a[0]!.ack(); // PRECONDITION_FAILED - unknown delivery tag: the broker closes a's channel
      await t.publish(topic, [wire('two')]);
      await waitFor(() => b.includes('two'), 20_000, 'group b unaffected');
      await waitFor(() => a.some((d) => d.message.id === 'two'), 20_000, 'group a consuming again');
      await a.find((d) => d.message.id === 'two')!.ack();
      expect(errors.map(String).join('\n')).not.toMatch(/lost/); // the connection itself stayed up
    } finally {
      await t.close();
    }
  }, 60_000);

  it('a publish the broker refuses (406: above its max_message_size) fails with a code; subscriptions and later publishes go on', async () => {
    const errors: Error[] = [];
    // declare more than the server takes, so the broker itself refuses the message
    const c = await connect(`${url}&maxMessageBytes=200000000`, { onError: (e) => errors.push(e) });
    try {
      const topic = fresh('too-big');
      const got: string[] = [];
      await c.subscribe(topic, { group: 'g' }, (m) => {
        got.push(m.id);
      });
      const big = c.publish(topic, new Uint8Array(130 * 1024 * 1024), { id: 'big' }).then(
        () => undefined,
        (e: unknown) => e,
      );
      const error = await big;
      expect(error).toBeInstanceOf(CarrierError);
      expect((error as CarrierError).code).toBe('PUBLISH_FAILED');
      expect((error as CarrierError).failures.map((f) => f.id)).toEqual(['big']);
      await c.publish(topic, 'after', { id: 'after' });
      await waitFor(() => got.includes('after'), 20_000, 'the subscription still consuming');
      expect(got).not.toContain('big');
      expect(errors.map(String).join('\n')).not.toMatch(/lost/);
    } finally {
      await c.close();
    }
  }, 120_000);

  it('a consumer cancelled by the broker (queue deleted) re-declares its queue and resumes', async () => {
    const errors: Error[] = [];
    const c = await connect(url, { onError: (e) => errors.push(e) });
    const t = await createTransport(new URL(url), { onError: () => {} });
    try {
      const topic = fresh('cancelled');
      const got: string[] = [];
      await c.subscribe(topic, { group: 'g' }, (m) => {
        got.push(m.id);
      });
      await c.publish(topic, 'before', { id: 'before' });
      await waitFor(() => got.includes('before'), 20_000, 'first message');
      // delete the group queue with a plain channel: the broker cancels Carrier's consumer
      const { default: amqp } = await import('amqplib');
      const conn = await amqp.connect(rabbit.url);
      const ch = await conn.createChannel();
      await ch.deleteQueue(`carrier:${topic}:g`);
      await conn.close();
      await waitFor(
        () => errors.some((e) => /cancelled the consumer/.test(e.message)),
        20_000,
        'cancel reported',
      );
      // the queue comes back with the consumer; until then a publish is unroutable (no group bound)
      const deadline = Date.now() + 20_000;
      for (;;) {
        try {
          await c.publish(topic, 'after', { id: 'after' });
          break;
        } catch (e) {
          expect((e as CarrierError).code).toBe('PUBLISH_FAILED');
          if (Date.now() > deadline) throw e;
        }
      }
      await waitFor(() => got.includes('after'), 20_000, 'message after re-subscription');
    } finally {
      await c.close();
      await t.close();
    }
  }, 60_000);
});
