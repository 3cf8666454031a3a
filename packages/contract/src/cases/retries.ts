import { type DeadLetter, type Message, NonRetryableError } from '@carrier/core';
import { expect } from 'vitest';
import type { ContractCase } from '../case.js';
import { BINARY } from '../expect-code.js';
import { freshName } from '../support.js';

const theme = 'retries and dead letters';

export const redeliversAfterError: ContractCase = {
  name: 'redelivers after a thrown error with attempt 2',
  theme,
  async run({ carrier, until }) {
    const c = await carrier();
    const topic = freshName('retry');
    const seen: Message[] = [];
    await c.subscribe(topic, { group: 'g', retry: { maxAttempts: 3, initialDelayMs: 50 } }, (m) => {
      seen.push(m);
      if (m.attempt === 1) throw new Error('transient');
    });
    const { id } = await c.publish(topic, { hello: 'again' }, { key: 'k1', headers: { h: 'v' } });
    await until(() => seen.length >= 2, 'redelivery');
    expect(seen.map((m) => m.attempt)).toEqual([1, 2]);
    expect(seen[1]!.id).toBe(id);
    expect(seen[1]!.key).toBe('k1');
    expect(seen[1]!.headers).toEqual({ h: 'v' });
    expect(seen[1]!.body).toEqual({ hello: 'again' });
  },
};

export const backoffLowerBound: ContractCase = {
  name: 'respects the backoff delay (lower bound)',
  theme,
  async run({ carrier, until }) {
    const c = await carrier();
    const topic = freshName('backoff');
    const initialDelayMs = 600;
    const at: number[] = [];
    await c.subscribe(topic, { group: 'g', retry: { maxAttempts: 2, initialDelayMs } }, (m) => {
      at.push(performance.now());
      if (m.attempt === 1) throw new Error('later');
    });
    await c.publish(topic, 'x');
    await until(() => at.length >= 2, 'retry');
    // Equal jitter: the delay lies in [d/2, d]; timers may fire a few ms early.
    expect(at[1]! - at[0]!).toBeGreaterThanOrEqual(initialDelayMs / 2 - 15);
  },
};

export const deadLettersAfterMaxAttempts: ContractCase = {
  name: 'dead-letters after maxAttempts with reason, attempts and the original message',
  theme,
  async run({ carrier, until }) {
    const c = await carrier();
    const topic = freshName('dl');
    let calls = 0;
    await c.subscribe(
      topic,
      { group: 'g', retry: { maxAttempts: 3, initialDelayMs: 20, maxDelayMs: 100 } },
      () => {
        calls++;
        throw new Error(`cannot handle #${calls}`);
      },
    );
    const { id } = await c.publish(topic, BINARY, { key: 'order-9', headers: { tenant: 'acme' } });
    const letters: DeadLetter[] = [];
    await c.deadLetters(topic, 'g').subscribe((l) => {
      letters.push(l);
    });
    await until(() => letters.length >= 1, 'dead letter');
    const [letter] = letters;
    expect(calls).toBe(3);
    expect(letter!.reason).toBe('cannot handle #3');
    expect(letter!.attempts).toBe(3);
    expect(letter!.failedAt).toBeInstanceOf(Date);
    expect(letter!.message.id).toBe(id);
    expect(letter!.message.key).toBe('order-9');
    expect(letter!.message.headers).toEqual({ tenant: 'acme' });
    expect(Buffer.from(letter!.message.raw).equals(Buffer.from(BINARY))).toBe(true);
  },
};

export const nonRetryable: ContractCase = {
  name: 'NonRetryableError dead-letters on attempt 1',
  theme,
  async run({ carrier, until }) {
    const c = await carrier();
    const topic = freshName('nonretry');
    let calls = 0;
    await c.subscribe(topic, { group: 'g', retry: { maxAttempts: 5 } }, () => {
      calls++;
      throw new NonRetryableError('invalid order');
    });
    await c.publish(topic, { bad: true });
    const letters: DeadLetter[] = [];
    await c.deadLetters(topic, 'g').subscribe((l) => {
      letters.push(l);
    });
    await until(() => letters.length >= 1, 'dead letter');
    expect(calls).toBe(1);
    expect(letters[0]!.attempts).toBe(1);
    expect(letters[0]!.reason).toBe('invalid order');
    expect(letters[0]!.message.body).toEqual({ bad: true });
  },
};

export const undecodable: ContractCase = {
  name: 'dead-letters an undecodable body without calling the handler',
  theme,
  async run({ carrier, until }) {
    const c = await carrier();
    const topic = freshName('undecodable');
    let calls = 0;
    await c.subscribe(topic, { group: 'g' }, () => {
      calls++;
    });
    const bytes = new TextEncoder().encode('{"not": json');
    await c.publish(topic, bytes, { contentType: 'application/json' });
    const letters: DeadLetter[] = [];
    await c.deadLetters(topic, 'g').subscribe((l) => {
      letters.push(l);
    });
    await until(() => letters.length >= 1, 'dead letter');
    expect(calls).toBe(0);
    expect(letters[0]!.reason).toMatch(/JSON/);
    expect(Buffer.from(letters[0]!.message.raw).equals(Buffer.from(bytes))).toBe(true);
  },
};

export const redriveToFailingGroup: ContractCase = {
  name: 'redrive sends dead letters back to the failing group only',
  theme,
  needs: ['redrive'],
  async run({ carrier, until }) {
    const c = await carrier();
    const topic = freshName('redrive');
    const groups = c.capabilities.fanOut ? ['failing', 'healthy'] : ['failing'];
    const healthy: string[] = [];
    const failing = await c.subscribe(topic, { group: 'failing' }, () => {
      throw new NonRetryableError('not yet');
    });
    if (groups.length > 1) {
      await c.subscribe(topic, { group: 'healthy' }, (m) => {
        healthy.push(m.id);
      });
    }
    const { id } = await c.publish(topic, { n: 1 });
    const letters: DeadLetter[] = [];
    const reader = await c.deadLetters(topic, 'failing').subscribe((l) => {
      letters.push(l);
      throw new Error('keep it'); // keeps the letter in the dead-letter destination
    });
    await until(() => letters.length >= 1 && (groups.length === 1 || healthy.length >= 1), 'dead letter');
    await reader.close();
    await failing.close();
    const redriven: Message[] = [];
    await c.subscribe(topic, { group: 'failing' }, (m) => {
      redriven.push(m);
    });
    const moved = await c.deadLetters(topic, 'failing').redrive();
    expect(moved).toBe(1);
    const { id: sentinel } = await c.publish(topic, { n: 2 });
    await until(() => redriven.some((m) => m.id === id), 'redriven message');
    expect(redriven.find((m) => m.id === id)!.attempt).toBe(1);
    if (groups.length > 1) {
      await until(() => healthy.includes(sentinel), 'sentinel on the healthy group');
      expect(healthy.filter((h) => h === id)).toHaveLength(1);
    }
    expect(await c.deadLetters(topic, 'failing').redrive()).toBe(0);
  },
};

export const retryThenNewMember: ContractCase = {
  name: 'retry, then close, then a new member: every message arrives with attempt 2',
  theme,
  async run({ carrier, until }) {
    const count = 10;
    const a = await carrier();
    const topic = freshName('retry-handover');
    const retry = { maxAttempts: 3, initialDelayMs: 1_500, maxDelayMs: 1_500 };
    const seenByA: Array<{ id: string; attempt: number }> = [];
    const sub = await a.subscribe(topic, { group: 'g', concurrency: 4, retry }, (m) => {
      seenByA.push({ id: m.id, attempt: m.attempt });
      if (m.attempt === 1) throw new Error('fail once');
    });
    const ids = (
      await a.publishBatch(
        topic,
        Array.from({ length: count }, (_, i) => ({ body: i, key: `k${i}` })),
      )
    ).map((r) => r.id);
    // every message failed once on A and its retry is scheduled; A leaves before (most of) them are due
    await until(
      () => ids.every((id) => seenByA.some((s) => s.id === id && s.attempt === 1)),
      'A to fail each once',
    );
    await sub.close();
    const b = await carrier();
    const seenByB: Array<{ id: string; attempt: number }> = [];
    await b.subscribe(topic, { group: 'g', concurrency: 4, retry }, (m) => {
      seenByB.push({ id: m.id, attempt: m.attempt });
    });
    const done = () => [...seenByA, ...seenByB].filter((s) => s.attempt >= 2);
    await until(() => new Set(done().map((s) => s.id)).size >= count, 'every retried message handled');
    const timeline = `A ${JSON.stringify(seenByA)}; B ${JSON.stringify(seenByB)}`;
    expect(
      seenByA
        .filter((s) => s.attempt === 1)
        .map((s) => s.id)
        .sort(),
      `first attempts, on A: ${timeline}`,
    ).toEqual([...ids].sort());
    expect(
      seenByB.filter((s) => s.attempt === 1),
      `first attempts on B: ${timeline}`,
    ).toEqual([]);
    expect(
      done()
        .map((s) => s.id)
        .sort(),
      `attempt-2 handlings: ${timeline}`,
    ).toEqual([...ids].sort());
    expect(new Set(done().map((s) => s.attempt)), `attempts after the retry: ${timeline}`).toEqual(
      new Set([2]),
    );
  },
};
