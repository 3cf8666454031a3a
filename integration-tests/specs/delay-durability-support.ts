import { duplicates, freshName } from '@carrier/contract';
import { connect } from '@carrier/core';
import type { PrivateBroker } from '../src/faults.js';

// Durability of delayed publish, shared by the per-broker specs (CI size) and `npm run soak` (full
// size): `total` delayed messages are published to a topic with two groups, each with its own due
// time spread over [minDelayMs, minDelayMs + spreadMs) from the start of publishing; once every
// publish is confirmed the broker is killed with SIGKILL and started again on the same data dir.
// Every group must receive every message, none before its due time (the handler records the
// time of receipt; one clock, this process's). Duplicates are counted and printed, not failed:
// at-least-once allows them.

export interface DelayDurabilityOptions {
  /** A broker of the spec's own (src/faults.ts `privateBroker`), running. */
  readonly broker: PrivateBroker;
  /** Its Carrier URL (with the mode's query, e.g. `?queueType=classic`). */
  readonly url: string;
  readonly total: number;
  /** Shortest delay from the start of publishing, ms: longer than publishing takes. */
  readonly minDelayMs: number;
  /** Due times are spread over this many ms after `minDelayMs`. */
  readonly spreadMs: number;
  /** Everything must be done within this, in ms. */
  readonly budgetMs: number;
  /** Called when messages are still missing after `budgetMs`: where they are (the broker's view). */
  readonly diagnose?: ((topic: string) => Promise<string>) | undefined;
}

export interface DelayDurabilityResult {
  readonly total: number;
  /** Distinct messages received, per group. */
  readonly received: Readonly<Record<string, number>>;
  /** Deliveries before their due time (id, ms early). */
  readonly early: readonly { id: string; group: string; ms: number }[];
  /** Deliveries of an id already received by that group. */
  readonly duplicates: number;
  /** ms from the kill until the broker answered again. */
  readonly restartMs: number;
  /** ms after its due time the latest message arrived. */
  readonly latestMs: number;
  /** Errors the connection reported (`onError`), by code. */
  readonly errors: Readonly<Record<string, number>>;
}

const GROUPS = ['g1', 'g2'] as const;
const BATCH = 100;

export async function runDelayDurability(options: DelayDurabilityOptions): Promise<DelayDurabilityResult> {
  const errors: Record<string, number> = {};
  const carrier = await connect(options.url, {
    onError: (error) => {
      const code = (error as { code?: string }).code ?? 'other';
      errors[code] = (errors[code] ?? 0) + 1;
    },
  });
  try {
    const topic = freshName('delay-durable');
    const due = new Map<string, number>();
    const arrivals: Record<string, { id: string; at: number }[]> = { g1: [], g2: [] };
    for (const group of GROUPS) {
      await carrier.subscribe(topic, { group, concurrency: 32 }, (message) => {
        arrivals[group]!.push({ id: message.id, at: Date.now() });
      });
    }
    const start = Date.now();
    const deadline = start + options.budgetMs;
    for (let first = 0; first < options.total; first += BATCH) {
      const entries = [];
      for (let i = first; i < Math.min(first + BATCH, options.total); i++) {
        const at = start + options.minDelayMs + Math.floor((i * options.spreadMs) / options.total);
        due.set(`m${i}`, at);
        entries.push({ id: `m${i}`, body: { i }, deliverAt: new Date(at) });
      }
      await carrier.publishBatch(topic, entries);
    }
    const published = Date.now() - start;
    if (published >= options.minDelayMs) {
      throw new Error(`publishing took ${published} ms, longer than the shortest delay: raise minDelayMs`);
    }
    const killed = Date.now();
    await options.broker.kill9();
    await options.broker.start();
    const restartMs = Date.now() - killed;
    const distinct = (group: string) => new Set(arrivals[group]!.map((a) => a.id)).size;
    while (GROUPS.some((g) => distinct(g) < options.total) && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
    if (GROUPS.some((g) => distinct(g) < options.total)) {
      const seen = new Set(arrivals.g1!.map((a) => a.id));
      const missing = [...due.keys()].filter((id) => !seen.has(id));
      console.log(
        `[delay durability] missing in g1 (due, ms after the kill): ${missing
          .slice(0, 20)
          .map((id) => `${id}@${(due.get(id) ?? 0) - killed}`)
          .join(' ')}`,
      );
      if (options.diagnose) console.log(`[delay durability] ${await options.diagnose(topic)}`);
    }
    const early: { id: string; group: string; ms: number }[] = [];
    let latestMs = 0;
    let dup = 0;
    for (const group of GROUPS) {
      for (const { id, at } of arrivals[group]!) {
        const dueAt = due.get(id) ?? 0;
        if (at < dueAt) early.push({ id, group, ms: dueAt - at });
        latestMs = Math.max(latestMs, at - dueAt);
      }
      dup += [...duplicates(arrivals[group]!.map((a) => a.id)).values()].reduce((a, n) => a + n - 1, 0);
    }
    return {
      total: options.total,
      received: Object.fromEntries(GROUPS.map((g) => [g, distinct(g)])),
      early,
      duplicates: dup,
      restartMs,
      latestMs,
      errors,
    };
  } finally {
    await carrier.close();
  }
}

export function describeDelayResult(result: DelayDurabilityResult): string {
  const received = Object.entries(result.received)
    .map(([g, n]) => `${g} ${n}/${result.total}`)
    .join(', ');
  return (
    `received ${received}; early ${result.early.length}; duplicates ${result.duplicates}; ` +
    `broker back after ${result.restartMs} ms; latest ${result.latestMs} ms after its due time; ` +
    `onError ${JSON.stringify(result.errors)}`
  );
}
