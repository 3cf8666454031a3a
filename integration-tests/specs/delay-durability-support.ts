import { freshName } from '@carrier/contract';
import { type Carrier, connect } from '@carrier/core';
import type { PrivateBroker } from '../src/faults.js';
import { History, type Report, report } from '../src/history/index.js';

// Durability of delayed publish, shared by the per-broker specs (CI) and `npm run soak`: on each
// lane (a connection, e.g. one per RabbitMQ queue mode) `total` delayed messages are published to a
// topic with two groups, due times spread over [minDelayMs, minDelayMs + spreadMs) from the start
// of publishing; once every publish of every lane is confirmed the broker is killed with SIGKILL
// and started again on the same data dir (one kill for all lanes). Every group must receive every
// message, none before its due time (the handler records the time of receipt; one clock, this
// process's). Each lane records its publishes and handler calls in a History (src/history/): the
// callers check its report (nothing lost, nothing phantom); duplicates are printed, not failed:
// at-least-once allows them.

export interface DelayDurabilityOptions {
  /** A broker of the spec's own (src/faults.ts `privateBroker`), running. */
  readonly broker: PrivateBroker;
  /** One connection each, by label: its Carrier URL (e.g. with `?queueType=classic`). */
  readonly lanes: Readonly<Record<string, string>>;
  /** Messages per lane. */
  readonly total: number;
  /**
   * Shortest delay from the start of publishing, ms: about as long as publishing takes (the run
   * fails when half of the messages would be due before the kill).
   */
  readonly minDelayMs: number;
  /** Due times are spread over this many ms after `minDelayMs`. */
  readonly spreadMs: number;
  /** Everything must be done within this, in ms. */
  readonly budgetMs: number;
}

export interface LaneResult {
  /** Distinct messages received, per group. */
  readonly received: Readonly<Record<string, number>>;
  /** Deliveries before their due time (id, ms early). */
  readonly early: readonly { id: string; group: string; ms: number }[];
  /** The lane's history checked: lost, phantom, duplicates per group, unavailability. */
  readonly report: Report;
  /** ms after its due time the latest message arrived. */
  readonly latestMs: number;
  /** Errors the connection reported (`onError`), by code. */
  readonly errors: Readonly<Record<string, number>>;
  /** Up to 20 ids missing in the first group, with their due time relative to the kill (ms). */
  readonly missing: readonly string[];
}

export interface DelayDurabilityResult {
  readonly total: number;
  /** ms from the kill until the broker answered again. */
  readonly restartMs: number;
  readonly lanes: Readonly<Record<string, LaneResult>>;
}

const GROUPS = ['g1', 'g2'] as const;
const BATCH = 100;
const WARM_UP = 'warm-up';

/** One lane: its connection, due times and arrivals. */
interface Lane {
  readonly carrier: Carrier;
  readonly topic: string;
  readonly due: Map<string, number>;
  readonly arrivals: Record<string, { id: string; at: number }[]>;
  readonly errors: Record<string, number>;
  readonly history: History;
}

async function openLane(url: string): Promise<Lane> {
  const errors: Record<string, number> = {};
  const carrier = await connect(url, {
    onError: (error) => {
      const code = (error as { code?: string }).code ?? 'other';
      errors[code] = (errors[code] ?? 0) + 1;
    },
  });
  const history = new History({ groups: GROUPS });
  const lane: Lane = {
    carrier,
    topic: freshName('delay-durable'),
    due: new Map(),
    arrivals: {},
    errors,
    history,
  };
  for (const group of GROUPS) {
    const arrivals: { id: string; at: number }[] = [];
    lane.arrivals[group] = arrivals;
    await carrier.subscribe(lane.topic, { group, concurrency: 32 }, (message) => {
      if (message.id === WARM_UP) return;
      const call = history.handled({ group, member: 'lane', id: message.id, attempt: message.attempt });
      arrivals.push({ id: message.id, at: call.at });
    });
  }
  // the first delayed publish makes the delay path (RabbitMQ's ladder, Kafka's delay topic and
  // mover): out of the measured publishing
  await carrier.publish(lane.topic, 'warm-up', { id: WARM_UP, delayMs: 1 });
  return lane;
}

async function publishLane(lane: Lane, options: DelayDurabilityOptions, start: number): Promise<void> {
  for (let first = 0; first < options.total; first += BATCH) {
    const entries: { id: string; body: { i: number }; deliverAt: Date }[] = [];
    for (let i = first; i < Math.min(first + BATCH, options.total); i++) {
      const at = start + options.minDelayMs + Math.floor((i * options.spreadMs) / options.total);
      lane.due.set(`m${i}`, at);
      entries.push({ id: `m${i}`, body: { i }, deliverAt: new Date(at) });
    }
    await lane.history.track(entries, () => lane.carrier.publishBatch(lane.topic, entries));
  }
}

function distinct(lane: Lane, group: string): number {
  return new Set(lane.arrivals[group]!.map((a) => a.id)).size;
}

function laneResult(lane: Lane, killed: number): LaneResult {
  const early: { id: string; group: string; ms: number }[] = [];
  let latestMs = 0;
  for (const group of GROUPS) {
    for (const { id, at } of lane.arrivals[group]!) {
      const dueAt = lane.due.get(id) ?? 0;
      if (at < dueAt) early.push({ id, group, ms: dueAt - at });
      latestMs = Math.max(latestMs, at - dueAt);
    }
  }
  const seen = new Set(lane.arrivals.g1!.map((a) => a.id));
  const missing = [...lane.due.keys()]
    .filter((id) => !seen.has(id))
    .slice(0, 20)
    .map((id) => `${id}@${(lane.due.get(id) ?? 0) - killed}`);
  return {
    received: Object.fromEntries(GROUPS.map((g) => [g, distinct(lane, g)])),
    early,
    report: report(lane.history),
    latestMs,
    errors: lane.errors,
    missing,
  };
}

export async function runDelayDurability(options: DelayDurabilityOptions): Promise<DelayDurabilityResult> {
  const lanes = new Map<string, Lane>();
  try {
    for (const [label, url] of Object.entries(options.lanes)) lanes.set(label, await openLane(url));
    const start = Date.now();
    const deadline = start + options.budgetMs;
    await Promise.all([...lanes.values()].map((lane) => publishLane(lane, options, start)));
    const published = Date.now() - start;
    if (published >= options.minDelayMs + options.spreadMs / 2) {
      // most messages would be due before the kill: the run would not test what it says
      throw new Error(`publishing took ${published} ms: raise minDelayMs (${options.minDelayMs} ms)`);
    }
    const killed = Date.now();
    await options.broker.kill9();
    await options.broker.start();
    const restartMs = Date.now() - killed;
    const complete = () =>
      [...lanes.values()].every((lane) => GROUPS.every((g) => distinct(lane, g) >= options.total));
    while (!complete() && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 200));
    return {
      total: options.total,
      restartMs,
      lanes: Object.fromEntries([...lanes].map(([label, lane]) => [label, laneResult(lane, killed)])),
    };
  } finally {
    await Promise.allSettled([...lanes.values()].map((lane) => lane.carrier.close()));
  }
}

export function describeDelayResult(result: DelayDurabilityResult): string {
  const lanes = Object.entries(result.lanes).map(([label, lane]) => {
    const received = Object.entries(lane.received)
      .map(([g, n]) => `${g} ${n}/${result.total}`)
      .join(', ');
    return (
      `${label}: received ${received}; early ${lane.early.length}; ` +
      `latest ${lane.latestMs} ms after its due time; onError ${JSON.stringify(lane.errors)}; ${lane.report.summary}` +
      (lane.missing.length > 0 ? `; missing (id@due ms after the kill) ${lane.missing.join(' ')}` : '')
    );
  });
  return `broker back after ${result.restartMs} ms; ${lanes.join(' | ')}`;
}
