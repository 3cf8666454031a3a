import { type FigureSpec, LATENCY, type Scenario } from './compare.js';
import type { Measurement, ScenarioSettings } from './measure.js';
import { now, payloadTemplate, readStamp, type Side, stampedPayload } from './side.js';
import { latencyPercentiles } from './stats.js';

/** Per broker: messages per second of the steady stream when the CLI does not say. */
export const DEFAULT_STEADY_RATE: Readonly<Record<string, number>> = {
  memory: 10_000,
  core: 10_000,
  kafka: 2_000,
  rabbitmq: 2_000,
  nats: 2_000,
  sqs: 100,
};

/** How often the steady publisher wakes up: every tick publishes the messages due since the last. */
const TICK_MS = 5;
/** Batches published and not yet confirmed at most: a side that cannot keep up stops making more. */
const MAX_BATCHES_IN_FLIGHT = 64;

/** A steady stream: `rate` messages per second, `messages` in all. */
export interface SteadySettings extends ScenarioSettings {
  readonly rate: number;
}

/**
 * Latency under a steady stream, below saturation: `messages` are made at `rate` per second (every
 * {@link TICK_MS} ms, the messages due since the previous tick, each stamped when made) and
 * published without waiting for the previous batch's confirmation (at most
 * {@link MAX_BATCHES_IN_FLIGHT} batches unconfirmed). Latency = handler call − the moment the message
 * was made. Unlike `e2e` (saturation, where the slower side's queue sets the latency), this is
 * what one message waits inside the client and the broker when neither side is overloaded — the
 * figure behind "Carrier's own p50 within 2× of the raw side". `achieved_per_s` says whether the
 * side kept the rate (a side far below it was saturated and its latency includes queueing).
 */
export async function steadyLatency(
  side: Side,
  topic: string,
  group: string,
  s: SteadySettings,
): Promise<Measurement> {
  await side.prepare(topic, group);
  const template = payloadTemplate(s.size);
  const latencies = new Float64Array(s.messages);
  let seen = 0;
  let all!: () => void;
  const received = new Promise<void>((resolve) => {
    all = resolve;
  });
  const consumption = await side.consume(topic, group, s.consume, (payload) => {
    if (seen < s.messages) latencies[seen] = now() - readStamp(payload);
    seen++;
    if (seen === s.messages) all();
  });
  let timer: NodeJS.Timeout | undefined;
  try {
    const inFlight = new Set<Promise<void>>();
    let failure: unknown;
    const t0 = now();
    let made = 0;
    while (made < s.messages) {
      const due = Math.min(s.messages, Math.floor(((now() - t0) / 1000) * s.rate) + 1);
      if (due > made && inFlight.size < MAX_BATCHES_IN_FLIGHT) {
        const payloads = Array.from({ length: due - made }, () => stampedPayload(s.size, template));
        made = due;
        const publishing = side.publishBatch(topic, payloads).catch((error: unknown) => {
          failure ??= error;
        });
        inFlight.add(publishing);
        void publishing.finally(() => inFlight.delete(publishing));
      }
      if (failure) throw failure;
      await new Promise((resolve) => setTimeout(resolve, TICK_MS));
    }
    await Promise.all(inFlight);
    if (failure) throw failure;
    const late = await Promise.race([
      received.then(() => false),
      new Promise<boolean>((resolve) => {
        timer = setTimeout(() => resolve(true), s.deadlineMs);
      }),
    ]);
    if (late)
      throw new Error(`${side.label} steady stream: ${seen} of ${s.messages} after ${s.deadlineMs} ms`);
    const elapsedS = (now() - t0) / 1000;
    const { p50, p95, p99 } = latencyPercentiles(latencies);
    return { p50_ms: p50, p95_ms: p95, p99_ms: p99, achieved_per_s: s.messages / elapsedS };
  } finally {
    clearTimeout(timer);
    await consumption.stop();
  }
}

/** What the scenario lists need: the steady scenario of `broker` under the run's options. */
export function steadyScenario(broker: string, base: ScenarioSettings, rate: number | undefined): Scenario {
  const perSecond = rate ?? DEFAULT_STEADY_RATE[broker.split('-')[0]!] ?? 1_000;
  // two seconds of messages per round
  const messages = Math.max(10, Math.round(perSecond * STEADY_SECONDS));
  return {
    name: 'e2e-steady',
    run: (side, topic, group, settings) =>
      steadyLatency(side, topic, group, { ...settings, rate: perSecond }),
    settings: { ...base, messages },
    figures: [...LATENCY, ACHIEVED],
    warmup: Math.max(1, Math.round(messages / 4)),
  };
}

/** Seconds of messages one steady round publishes. */
const STEADY_SECONDS = 2;
const ACHIEVED: FigureSpec = { key: 'achieved_per_s', unit: 'msg/s', higherIsBetter: true };
