import { freshName, waitFor } from '@carrier/contract';
import { type Carrier, connect } from '@carrier/core';
import { expect } from 'vitest';
import { expectClean, History, report } from '../src/history/index.js';

// Durability of delayed publish on SQS, shared by the CI spec (small) and the soak spec (1,000):
// delayed messages on Carrier's own delay path (SNS fan-out and FIFO queues: the group's receiver
// holds a message that is not due, by a delayed copy on a standard queue, by its visibility on a
// FIFO queue). moto keeps its state in memory only, so the fault is the consumer's crash, not the
// broker's: the first consumer is aborted (a crash: nothing settled, no connection closed politely)
// while it holds messages, and a second consumer takes over. Every message must reach the group
// after its time, none early; the history checker (src/history/) finds nothing lost and nothing
// phantom; duplicates and attempts are counted and printed.

export interface DelayDurabilityOptions {
  /** URL of the (private) broker. */
  readonly url: string;
  /** URL options of the mode (`fifo=true`, or nothing for SNS fan-out on standard queues). */
  readonly mode: string;
  readonly total: number;
  /** Everything after the publishes must be done within this, in ms. */
  readonly budgetMs: number;
  readonly label: string;
}

/** Timers and clocks may be a few ms apart (the contract suite's tolerance). */
const EARLY_TOLERANCE_MS = 15;

interface Arrival {
  readonly id: string;
  readonly at: number;
  readonly attempt: number;
}

async function consume(
  c: Carrier,
  topic: string,
  into: Arrival[],
  history: History,
  member: string,
): Promise<void> {
  await c.subscribe(topic, { group: 'g', concurrency: 20 }, (m) => {
    const call = history.handled({ group: 'g', member, id: m.id, attempt: m.attempt });
    into.push({ id: m.id, at: call.at, attempt: m.attempt });
  });
}

/**
 * Publish `total` delayed messages in batches of 10, each due 6 to 12 s after its batch was sent,
 * into `due` (id → due time); `halfway` runs once half of them are published.
 */
async function publishDelayed(
  c: Carrier,
  topic: string,
  total: number,
  due: Map<string, number>,
  history: History,
  halfway: () => Promise<void>,
): Promise<void> {
  for (let first = 0; first < total; first += 10) {
    if (first === Math.floor(total / 20) * 10) await halfway();
    const now = Date.now();
    const entries = Array.from({ length: Math.min(10, total - first) }, (_, i) => {
      const n = first + i;
      const deliverAt = new Date(now + 6_000 + ((n * 617) % 6_000));
      due.set(`d-${n}`, deliverAt.getTime());
      return { id: `d-${n}`, body: { n }, deliverAt };
    });
    await history.track(entries, () => c.publishBatch(topic, entries));
  }
}

export async function runSqsDelayDurability(options: DelayDurabilityOptions): Promise<void> {
  const { url, mode, total, budgetMs, label } = options;
  const full = `${url}${url.includes('?') ? '&' : '?'}waitTimeSeconds=1&visibilityTimeout=5${mode ? `&${mode}` : ''}`;
  const errors: string[] = [];
  const onError = (e: Error) => errors.push(e.message);
  const publisher = await connect(full, { onError });
  const first = await connect(full, { onError });
  let second: Carrier | undefined;
  try {
    const topic = freshName('delay-durable');
    const arrivals: Arrival[] = [];
    const history = new History({ groups: ['g'] });
    await consume(first, topic, arrivals, history, 'first');
    const started = Date.now();
    const due = new Map<string, number>();
    let beforeCrash = 0;
    let crashedAt = 0;
    // the first consumer holds the first half of them when it crashes; the second takes over
    await publishDelayed(publisher, topic, total, due, history, async () => {
      beforeCrash = arrivals.length;
      await first.abort();
      crashedAt = Date.now();
      second = await connect(full, { onError });
      await consume(second, topic, arrivals, history, 'second');
    });
    const publishedMs = Date.now() - started;
    const distinct = () => new Set(arrivals.map((a) => a.id)).size;
    await waitFor(
      () => distinct() >= total,
      budgetMs,
      `all ${total} delayed messages (${label}; ${distinct()} so far)`,
    ).catch((error: Error) => {
      throw new Error(`${error.message}; arrived: ${distinct()} of ${total}`);
    });
    await new Promise((resolve) => setTimeout(resolve, 2_000));

    const r = report(history);
    const early = arrivals.filter((a) => a.at < due.get(a.id)! - EARLY_TOLERANCE_MS);
    const late = Math.max(...arrivals.map((a) => a.at - due.get(a.id)!));
    const attempts = new Map<number, number>();
    for (const a of arrivals) attempts.set(a.attempt, (attempts.get(a.attempt) ?? 0) + 1);
    console.log(
      [
        `[${label}] published ${total} in ${publishedMs} ms; ${beforeCrash} deliveries before the first consumer crashed (${crashedAt - started} ms after the first publish, half of them published)`,
        ...r.lines,
        `latest ${late} ms after its time`,
        `attempts: ${JSON.stringify(Object.fromEntries(attempts))}`,
        `asynchronous errors: ${errors.length}${errors[0] ? ` (first: ${errors[0]})` : ''}`,
      ].join('\n'),
    );
    // the crash came while the first half was pending (held), or this proves nothing
    expect(beforeCrash, 'deliveries before the crash').toBeLessThan(total / 2);
    expect([...due.keys()].filter((id) => !arrivals.some((a) => a.id === id))).toEqual([]);
    expect(early, 'delivered before their time').toEqual([]);
    expectClean(r, { order: false });
  } finally {
    await Promise.allSettled([publisher.close(), first.close(), second?.close()]);
  }
}
