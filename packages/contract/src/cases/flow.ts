import { expect } from 'vitest';
import type { ContractCase } from '../case.js';
import {
  countingFactory,
  type DeliveryLog,
  type OutstandingCounter,
  observingFactory,
} from '../counting-transport.js';
import { expectCode } from '../expect-code.js';
import { freshName, gate, sleep } from '../support.js';

const theme = 'order and flow control';

export const perKeyOrder: ContractCase = {
  name: 'keeps per-key order with concurrency > 1 while different keys run in parallel',
  theme,
  async run({ carrier, until }) {
    const c = await carrier();
    const topic = freshName('order');
    if (!c.capabilities.perKeyOrder) {
      await expectCode(
        c.subscribe(topic, { group: 'g', ordered: true }, () => {}),
        'UNSUPPORTED',
      );
      return;
    }
    const seen = new Map<string, number[]>();
    let inFlight = 0;
    let maxInFlight = 0;
    let total = 0;
    await c.subscribe(topic, { group: 'g', concurrency: 8, ordered: true }, async (m) => {
      inFlight++;
      maxInFlight = Math.max(maxInFlight, inFlight);
      const { key, seq } = m.body as { key: string; seq: number };
      await sleep((seq * 7) % 11);
      seen.set(key, [...(seen.get(key) ?? []), seq]);
      inFlight--;
      total++;
    });
    const entries = [];
    for (let seq = 0; seq < 20; seq++)
      for (const key of ['a', 'b', 'c', 'd']) entries.push({ body: { key, seq }, key });
    await c.publishBatch(topic, entries);
    await until(() => total >= 80, '80 messages');
    for (const key of ['a', 'b', 'c', 'd'])
      expect(seen.get(key)).toEqual(Array.from({ length: 20 }, (_, i) => i));
    expect(maxInFlight).toBeGreaterThan(1);
  },
};

export const perKeyOrderAcrossMembers: ContractCase = {
  name: 'keeps per-key order across several members of one ordered group',
  theme,
  needs: ['perKeyOrder'],
  timeouts: 8,
  async run({ carrier, until, sizes, note }) {
    const members = 3;
    const keys = 10;
    const perKey = Math.ceil(sizes.orderedMessages / keys);
    const topic = freshName('order-members');
    const errors: string[] = [];
    const connections = await Promise.all(
      Array.from({ length: members }, () => carrier({ onError: (error) => errors.push(String(error)) })),
    );
    // the group is declared ordered before any member exists (RabbitMQ: a single-active-consumer
    // queue from the start), and half the messages wait in it before the members join
    await connections[0]!.declare(topic, ['g'], { ordered: true });
    // per key: the sequence numbers in the order their handling started, and whether one was running
    const started = new Map<string, number[]>();
    const running = new Map<string, string>(); // key → `#seq@attempt on member n`
    const overlaps: string[] = [];
    const byMember = new Array<number>(members).fill(0);
    const entries = [];
    for (let seq = 0; seq < perKey; seq++)
      for (let k = 0; k < keys; k++) entries.push({ body: { key: `key-${k}`, seq }, key: `key-${k}` });
    const half = Math.floor(perKey / 2) * keys;
    for (let i = 0; i < half; i += 500)
      await connections[0]!.publishBatch(topic, entries.slice(i, Math.min(i + 500, half)));
    await Promise.all(
      connections.map((c, member) =>
        c.subscribe(topic, { group: 'g', concurrency: 4, prefetch: 8, ordered: true }, async (m) => {
          const { key, seq } = m.body as { key: string; seq: number };
          const run = `#${seq}@${m.attempt} on member ${member}`;
          if (running.has(key)) overlaps.push(`${key}${run} started while ${running.get(key)} ran`);
          running.set(key, run);
          started.set(key, [...(started.get(key) ?? []), seq]);
          byMember[member]!++;
          await sleep(seq % 3);
          running.delete(key);
        }),
      ),
    );
    for (let i = half; i < entries.length; i += 500)
      await connections[0]!.publishBatch(topic, entries.slice(i, i + 500));
    const firsts = (key: string) => [...new Set(started.get(key) ?? [])];
    await until(
      () => Array.from({ length: keys }, (_, k) => firsts(`key-${k}`).length).every((n) => n >= perKey),
      `${entries.length} keyed messages`,
    );
    expect(overlaps, `handlers of one key running at once (errors: ${JSON.stringify(errors)})`).toEqual([]);
    for (let k = 0; k < keys; k++) {
      // a redelivery may repeat a message, but a message is never first handled before an earlier one
      expect(firsts(`key-${k}`), `first handlings of key-${k}`).toEqual(
        Array.from({ length: perKey }, (_, i) => i),
      );
    }
    const handled = byMember.reduce((a, b) => a + b, 0);
    await note(
      `${entries.length} messages, ${handled - entries.length} redelivered; per member ${byMember.join('/')}`,
    );
  },
};

export const concurrencyLimit: ContractCase = {
  name: 'never exceeds the concurrency limit',
  theme,
  async run({ carrier, until }) {
    const c = await carrier();
    const topic = freshName('limit');
    let inFlight = 0;
    let maxInFlight = 0;
    let done = 0;
    await c.subscribe(topic, { group: 'g', concurrency: 3 }, async () => {
      inFlight++;
      maxInFlight = Math.max(maxInFlight, inFlight);
      await sleep(15);
      inFlight--;
      done++;
    });
    await c.publishBatch(
      topic,
      Array.from({ length: 30 }, (_, i) => ({ body: i, key: `k${i}` })),
    );
    await until(() => done >= 30, '30 messages');
    expect(maxInFlight).toBeLessThanOrEqual(3);
    expect(maxInFlight).toBeGreaterThan(1);
  },
};

export const concurrencyOneHolds: ContractCase = {
  name: 'concurrency 1 holds the next message until the first is handled and its settlement issued',
  theme,
  needs: ['url'],
  async run({ carrierWrapped, until }) {
    const log: DeliveryLog = { received: [], settled: [] };
    const c = await carrierWrapped((f) => observingFactory(f, log));
    const topic = freshName('conc-one');
    const hold = gate();
    const events: string[] = [];
    let settledBeforeSecond: string[] | undefined;
    await c.subscribe(topic, { group: 'g', concurrency: 1, prefetch: 2 }, async (m) => {
      events.push(`start ${m.body}`);
      if (m.body === 'second') settledBeforeSecond = log.settled.map((s) => `${s.kind} ${s.id}`);
      if (m.body === 'first') await hold.promise;
      events.push(`end ${m.body}`);
    });
    // different keys: per-key order does not hold the second one back, only the concurrency limit does
    const first = await c.publish(topic, 'first', { key: 'k1' });
    await until(() => events.includes('start first'), 'the first handler to start');
    const second = await c.publish(topic, 'second', { key: 'k2' });
    await until(() => log.received.some((r) => r.id === second.id), 'the second delivery handed to core');
    await sleep(500);
    expect(events, 'while the first handler runs').toEqual(['start first']);
    hold.open();
    await until(() => events.includes('end second'), 'the second handler');
    expect(events).toEqual(['start first', 'end first', 'start second', 'end second']);
    expect(settledBeforeSecond, 'settlements issued when the second handler started').toEqual([
      `ack ${first.id}`,
    ]);
  },
};

export const prefetchBound: ContractCase = {
  name: 'never hands out more unsettled deliveries than the prefetch (backpressure)',
  theme,
  needs: ['url'],
  async run({ carrierWrapped, until }) {
    const counter: OutstandingCounter = { now: 0, max: 0 };
    const c = await carrierWrapped((f) => countingFactory(f, counter));
    const topic = freshName('prefetch');
    let done = 0;
    await c.subscribe(topic, { group: 'g', concurrency: 2, prefetch: 3 }, async () => {
      await sleep(10);
      done++;
    });
    await c.publishBatch(
      topic,
      Array.from({ length: 40 }, (_, i) => ({ body: i })),
    );
    await until(() => done >= 40, '40 slow messages');
    expect(counter.max).toBeGreaterThanOrEqual(2);
    expect(counter.max, 'unsettled deliveries at once').toBeLessThanOrEqual(3);
  },
};
