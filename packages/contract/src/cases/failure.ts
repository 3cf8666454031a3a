import type { DeadLetter, Message } from '@carrier/core';
import { expect } from 'vitest';
import type { CaseContext, ContractCase } from '../case.js';
import { freshName, waitFor } from '../support.js';

const theme = 'failure behaviour';

export const crashRedelivered: ContractCase = {
  name: 'a member that dies without settling has its message redelivered to another member',
  theme,
  async run({ carrier, until }) {
    const crashing = await carrier();
    const survivor = await carrier();
    const topic = freshName('crash');
    const stuck: string[] = [];
    const rescued: Message[] = [];
    await crashing.subscribe(topic, { group: 'g' }, async (m) => {
      stuck.push(m.id);
      await new Promise(() => {}); // never settles
    });
    const { id } = await crashing.publish(topic, { work: 'important' });
    await until(() => stuck.includes(id), 'the doomed member to receive the message');
    await survivor.subscribe(topic, { group: 'g' }, (m) => {
      rescued.push(m);
    });
    await crashing.abort();
    await until(() => rescued.some((m) => m.id === id), 'redelivery to the surviving member');
    expect(rescued.find((m) => m.id === id)!.body).toEqual({ work: 'important' });
  },
};

export const crashCountsOneAttempt: ContractCase = {
  name: 'a delivery whose member crashed counts as one attempt',
  theme,
  async run({ carrier, until }) {
    const crashing = await carrier();
    const survivor = await carrier();
    const topic = freshName('crash-attempt');
    const seen: number[] = [];
    const rescued: Message[] = [];
    await crashing.subscribe(topic, { group: 'g' }, async (m) => {
      seen.push(m.attempt);
      await new Promise(() => {}); // never settles
    });
    const { id } = await crashing.publish(topic, { work: 'once' });
    await until(() => seen.length >= 1, 'the doomed member to receive the message');
    await survivor.subscribe(topic, { group: 'g' }, (m) => {
      rescued.push(m);
    });
    await crashing.abort();
    await until(() => rescued.some((m) => m.id === id), 'redelivery to the surviving member');
    expect(seen).toEqual([1]);
    expect(rescued.find((m) => m.id === id)!.attempt).toBe(2);
  },
};

/**
 * Members of the poison case's group, one after the other: each takes one message at a time, and
 * dies (`abort()`) inside the handler of the poison message.
 */
class PoisonCrowd {
  /** Attempts of the poison message that reached a handler. */
  readonly poisonAttempts: number[] = [];
  /** Other messages handled: id → attempt. */
  readonly handled = new Map<string, number>();
  /** One per crash: the dying member's abort(). */
  readonly deaths: Promise<void>[] = [];

  constructor(
    private readonly carrier: CaseContext['carrier'],
    private readonly topic: string,
    private readonly poisonId: string,
    private readonly maxAttempts: number,
  ) {}

  /** Start one member. */
  async member(): Promise<void> {
    const c = await this.carrier();
    let crashed = false;
    const retry = { maxAttempts: this.maxAttempts, initialDelayMs: 50 };
    await c
      .subscribe(this.topic, { group: 'g', concurrency: 1, prefetch: 1, retry }, (m) => {
        if (m.id === this.poisonId) {
          this.poisonAttempts.push(m.attempt);
          crashed = true;
          this.deaths.push(c.abort()); // the process dies inside the handler
          return new Promise<void>(() => {});
        }
        this.handled.set(m.id, m.attempt);
      })
      .catch((error: unknown) => {
        // The poison message can arrive before subscribe() resolved: then subscribe rejects
        // with CLOSED because the member died meanwhile.
        if (!crashed) throw error;
      });
  }
}

export const poisonMessage: ContractCase = {
  name: 'a message that kills its consumer is dead-lettered after maxAttempts deliveries without reaching the handler again',
  theme,
  async run({ carrier, until }) {
    // Each member takes one message at a time (concurrency 1, prefetch 1) and the poison message
    // is alone in the queue while members die: a message merely prefetched by a member that
    // crashes is rightly charged an attempt too (it was delivered and never settled), so other
    // messages are published only once the poison message is dead-lettered. The case then
    // asserts exactly the rule, on every broker, whatever the timing of prefetches.
    const maxAttempts = 2;
    const observer = await carrier();
    const topic = freshName('poison');
    await observer.declare(topic, ['g']);
    const letters: DeadLetter[] = [];
    await observer.deadLetters(topic, 'g').subscribe((l) => {
      letters.push(l);
    });
    const poisonId = freshName('poison');
    const crowd = new PoisonCrowd(carrier, topic, poisonId, maxAttempts);
    await observer.publish(topic, { poison: true }, { id: poisonId });
    for (let crash = 1; crash <= maxAttempts; crash++) {
      await crowd.member(); // started, or restarted after the previous crash
      await until(() => crowd.poisonAttempts.length >= crash, `crash ${crash} of ${maxAttempts}`);
      await crowd.deaths[crash - 1]; // the dead member is gone before the next one starts
    }
    // The next member gets the poison message once more: core dead-letters it without calling
    // the handler, and it holds nothing back afterwards.
    await crowd.member();
    await until(
      () => letters.some((l) => l.message.id === poisonId),
      'the poison message in the dead letters',
    );
    const others = (
      await observer.publishBatch(
        topic,
        Array.from({ length: 3 }, (_, i) => ({ body: { fine: i } })),
      )
    ).map((r) => r.id);
    await until(() => others.every((id) => crowd.handled.has(id)), 'the other messages handled');
    expect(crowd.poisonAttempts, 'attempts the handler saw').toEqual([1, 2]);
    expect(
      others.map((id) => crowd.handled.get(id)),
      'attempts of the other messages',
    ).toEqual([1, 1, 1]);
    expect(
      letters.filter((l) => l.message.id !== poisonId).map((l) => l.message.id),
      'other messages dead-lettered',
    ).toEqual([]);
    const letter = letters.find((l) => l.message.id === poisonId)!;
    expect(letter.attempts).toBe(maxAttempts);
    expect(letter.reason).toMatch(/without settlement/);
    expect(letter.message.body).toEqual({ poison: true });
  },
};

export const idleClose: ContractCase = {
  name: 'closing an idle member neither delays nor charges an attempt to the next member',
  theme,
  async run({ carrier, timeoutMs }) {
    const promptlyMs = Math.min(timeoutMs, 10_000);
    const a = await carrier();
    const topic = freshName('idle-close');
    await a.subscribe(topic, { group: 'g' }, () => {
      throw new Error('member A was closed before anything was published');
    });
    await new Promise((resolve) => setTimeout(resolve, 1_500)); // A idles (long polls run)
    await a.close();
    const b = await carrier();
    const { id } = await b.publish(topic, { next: true });
    const got: Message[] = [];
    const since = performance.now();
    await b.subscribe(topic, { group: 'g' }, (m) => {
      got.push(m);
    });
    await waitFor(() => got.length >= 1, promptlyMs, `the message within ${promptlyMs} ms`);
    const tookMs = performance.now() - since;
    expect(got[0]!.id).toBe(id);
    expect(got[0]!.attempt, `attempt (received after ${Math.round(tookMs)} ms)`).toBe(1);
  },
};
