import { randomUUID } from 'node:crypto';
import { waitFor } from '@carrier/contract';
import {
  type Carrier,
  CarrierError,
  connect,
  type DeadLetter,
  type Message,
  NonRetryableError,
} from '@carrier/core';
import amqp from 'amqplib';
import { afterEach, describe, expect, inject, it } from 'vitest';
import '../src/context.js';

// The topology Carrier declares on RabbitMQ: conflicts with existing queues are reported, never
// papered over, and an ordered group (single active consumer) keeps per-key order across members.

const url = () => inject('brokers').rabbitmq;
const fresh = (prefix: string) => `${prefix}-${randomUUID().slice(0, 8)}`;
const TIMEOUT = 30_000;
const open: Carrier[] = [];

async function carrier(): Promise<Carrier> {
  const c = await connect(url());
  open.push(c);
  return c;
}

async function expectCode(promise: Promise<unknown>, code: string): Promise<CarrierError> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(CarrierError);
  expect((error as CarrierError).code).toBe(code);
  return error as CarrierError;
}

afterEach(async () => {
  await Promise.allSettled(open.splice(0).map((c) => c.close()));
});

describe('rabbitmq topology', () => {
  it('refused credentials fail with AUTH_FAILED, and the password appears nowhere', async () => {
    const bad = new URL(url());
    bad.password = 'not-the-password-42';
    const error = await expectCode(connect(bad.href), 'AUTH_FAILED');
    expect(error.transport).toBe('rabbitmq');
    expect(error.message).toMatch(/refused the login/);
    const text = [error.message, String(error), String((error.cause as Error | undefined)?.message)].join(
      '\n',
    );
    expect(text).not.toContain('not-the-password-42');
  });

  it('declares a durable topic exchange, a quorum queue per group bound with #, and its dead-letter queue', async () => {
    const c = await carrier();
    const topic = fresh('topo');
    await c.declare(topic, ['billing']);
    const conn = await amqp.connect(url());
    try {
      const ch = await conn.createChannel();
      ch.on('error', () => {});
      await ch.checkExchange(`carrier:${topic}`);
      // an equivalent re-declaration succeeds only if the arguments match exactly
      await ch.assertQueue(`carrier:${topic}:billing`, {
        durable: true,
        arguments: {
          'x-queue-type': 'quorum',
          'x-dead-letter-exchange': '',
          'x-dead-letter-routing-key': `carrier:${topic}:billing:dlq`,
        },
      });
      await ch.assertQueue(`carrier:${topic}:billing:dlq`, {
        durable: true,
        arguments: { 'x-queue-type': 'quorum' },
      });
      await ch.assertExchange(`carrier:${topic}`, 'topic', { durable: true });
    } finally {
      await conn.close();
    }
  });

  it('reports an existing queue with other arguments as TOPOLOGY_CONFLICT and keeps other work going', async () => {
    const c = await carrier();
    const healthy = fresh('healthy');
    const got: Message[] = [];
    await c.subscribe(healthy, { group: 'g' }, (m) => {
      got.push(m);
    });
    const topic = fresh('conflict');
    const conn = await amqp.connect(url());
    try {
      const ch = await conn.createChannel();
      await ch.assertQueue(`carrier:${topic}:g`, { durable: true }); // a classic queue, made by someone else
      const error = await expectCode(
        c.subscribe(topic, { group: 'g' }, () => {}),
        'TOPOLOGY_CONFLICT',
      );
      expect(error.message).toMatch(/carrier:.*:g/);
      expect(error.transport).toBe('rabbitmq');
      await ch.deleteQueue(`carrier:${topic}:g`);
    } finally {
      await conn.close();
    }
    // the refused declaration closed only its own throwaway channel
    await c.publish(healthy, 'still fine', { id: 'after-conflict' });
    await waitFor(() => got.some((m) => m.id === 'after-conflict'), TIMEOUT, 'the other subscription');
  });

  it('an ordered group refuses a queue made for competing consumers; an unordered member may join an ordered group', async () => {
    const c = await carrier();
    const competing = fresh('competing');
    await c.declare(competing, ['g']);
    await expectCode(
      c.subscribe(competing, { group: 'g', ordered: true }, () => {}),
      'TOPOLOGY_CONFLICT',
    );
    const ordered = fresh('ordered');
    await (await c.subscribe(ordered, { group: 'g', ordered: true }, () => {})).close();
    const c2 = await carrier();
    const got: string[] = [];
    await c2.subscribe(ordered, { group: 'g' }, (m) => {
      got.push(m.id);
    });
    await c2.publish(ordered, 'x', { id: 'x' });
    await waitFor(() => got.includes('x'), TIMEOUT, 'delivery to the unordered member');
  });

  it("what the broker itself dead-letters (a native reject) lands in the group's dead letters", async () => {
    const c = await carrier();
    const topic = fresh('native-reject');
    await c.declare(topic, ['g']);
    const { id } = await c.publish(topic, 'rejected natively', { key: 'k' });
    const conn = await amqp.connect(url());
    try {
      const ch = await conn.createChannel();
      let msg: amqp.GetMessage | false = false;
      const deadline = Date.now() + TIMEOUT;
      while (msg === false && Date.now() < deadline)
        msg = await ch.get(`carrier:${topic}:g`, { noAck: false });
      expect(msg).not.toBe(false);
      if (msg !== false) ch.reject(msg, false);
      await ch.close();
    } finally {
      await conn.close();
    }
    const letters: DeadLetter[] = [];
    await c.deadLetters(topic, 'g').subscribe((l) => {
      letters.push(l);
    });
    await waitFor(() => letters.length >= 1, TIMEOUT, 'the dead letter');
    expect(letters[0]!.message.id).toBe(id);
    expect(letters[0]!.message.key).toBe('k');
    expect(letters[0]!.reason).toBe('dead-lettered by RabbitMQ: rejected');
    expect(letters[0]!.message.body).toBe('rejected natively');
  });

  it("a retry goes through the failing group's own delay queue and reaches that group only", async () => {
    const c = await carrier();
    const topic = fresh('retry-iso');
    const a: Message[] = [];
    const b: Message[] = [];
    await c.subscribe(
      topic,
      { group: 'a', retry: { maxAttempts: 3, initialDelayMs: 100, maxDelayMs: 100 } },
      (m) => {
        a.push(m);
        if (m.attempt === 1) throw new Error('once');
      },
    );
    await c.subscribe(topic, { group: 'b' }, (m) => {
      b.push(m);
    });
    const { id } = await c.publish(topic, 'x');
    await waitFor(() => a.length >= 2 && b.length >= 1, TIMEOUT, 'retry on a, delivery on b');
    const { id: sentinel } = await c.publish(topic, 'sentinel');
    await waitFor(() => b.some((m) => m.id === sentinel), TIMEOUT, 'sentinel on b');
    expect(b.filter((m) => m.id === id)).toHaveLength(1);
    expect(a.filter((m) => m.id === id).map((m) => [m.id, m.attempt])).toEqual([
      [id, 1],
      [id, 2],
    ]);
    // the delay level for 50..100 ms is 64 or 128 ms: one of those queues exists, with its TTL
    const conn = await amqp.connect(url());
    try {
      let found = 0;
      for (const level of [64, 128]) {
        const ch = await conn.createChannel();
        ch.on('error', () => {});
        const ok = await ch.checkQueue(`carrier:${topic}:a:retry:${level}`).then(
          () => true,
          () => false,
        );
        if (ok) {
          found++;
          await ch.close();
        }
      }
      expect(found).toBeGreaterThanOrEqual(1);
    } finally {
      await conn.close();
    }
  });

  it('redrive moves the oldest dead letters first, up to max', async () => {
    const c = await carrier();
    const topic = fresh('redrive-order');
    const failing = await c.subscribe(topic, { group: 'g' }, () => {
      throw new NonRetryableError('no');
    });
    const ids: string[] = [];
    for (let i = 0; i < 5; i++) ids.push((await c.publish(topic, { i })).id);
    const letters: DeadLetter[] = [];
    const reader = await c.deadLetters(topic, 'g').subscribe(
      (l) => {
        letters.push(l);
        throw new Error('keep');
      },
      { concurrency: 5 },
    );
    await waitFor(() => new Set(letters.map((l) => l.message.id)).size >= 5, TIMEOUT, 'five dead letters');
    await reader.close();
    await failing.close();
    const redriven: string[] = [];
    await c.subscribe(topic, { group: 'g' }, (m) => {
      redriven.push(m.id);
    });
    expect(await c.deadLetters(topic, 'g').redrive({ max: 2 })).toBe(2);
    await waitFor(() => redriven.length >= 2, TIMEOUT, 'two redriven');
    expect(redriven).toEqual(ids.slice(0, 2));
    expect(await c.deadLetters(topic, 'g').redrive()).toBe(3);
    await waitFor(() => redriven.length >= 5, TIMEOUT, 'all redriven');
    expect(redriven).toEqual(ids);
  });

  it('ordered: one active member at a time; per-key order holds across a hand-over to another member', async () => {
    const c1 = await carrier();
    const c2 = await carrier();
    const topic = fresh('sac');
    const seen: { key: string; seq: number; member: number }[] = [];
    const handler = (member: number) => async (m: Message) => {
      const { key, seq } = m.body as { key: string; seq: number };
      // member 1 is slow, so it still has handlers in flight when it leaves
      await new Promise((resolve) => setTimeout(resolve, member === 1 ? 20 : (seq * 7) % 5));
      seen.push({ key, seq, member });
    };
    const first = await c1.subscribe(topic, { group: 'g', concurrency: 4, ordered: true }, handler(1));
    await c2.subscribe(topic, { group: 'g', concurrency: 4, ordered: true }, handler(2));
    const keys = ['a', 'b', 'c', 'd'];
    const entries = [];
    for (let seq = 0; seq < 50; seq++) for (const key of keys) entries.push({ body: { key, seq }, key });
    await c1.publishBatch(topic, entries);
    await waitFor(() => seen.length >= 60, TIMEOUT, 'member 1 to handle some');
    await first.close(); // hands over: what member 1 had prefetched goes back to the queue
    await waitFor(() => seen.length >= 200, TIMEOUT, 'all 200 messages');
    const byMember1 = seen.filter((s) => s.member === 1).length;
    const byMember2 = seen.filter((s) => s.member === 2).length;
    console.log(`[rabbitmq ordered] member 1 handled ${byMember1}, member 2 handled ${byMember2}`);
    // single active consumer: member 2 got nothing while member 1 was active
    const firstOf2 = seen.findIndex((s) => s.member === 2);
    expect(seen.slice(firstOf2).every((s) => s.member === 2)).toBe(true);
    expect(byMember2).toBeGreaterThan(0);
    for (const key of keys) {
      expect(seen.filter((s) => s.key === key).map((s) => s.seq)).toEqual(
        Array.from({ length: 50 }, (_, i) => i),
      );
    }
  });
});
