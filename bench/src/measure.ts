import {
  type ConsumeOptions,
  now,
  payloadTemplate,
  pool,
  readStamp,
  type Side,
  stampedPayload,
} from './side.js';
import { latencyPercentiles } from './stats.js';

/** A scenario's result for one round on one side: figure suffix → value. */
export type Measurement = Record<string, number>;

/** Shape of every scenario: what it publishes, how, and how the consumer runs. */
export interface ScenarioSettings {
  readonly messages: number;
  readonly size: number;
  readonly batch: number;
  /** Single publishes in flight at once (each awaits its own confirmation). */
  readonly inflight: number;
  readonly consume: ConsumeOptions;
  /**
   * End to end: most messages published and not yet seen by the handler before the publisher waits.
   * Keeps the figure a sustainable rate with a bounded queue (in-process transports would otherwise
   * measure an ever-growing backlog and its garbage collection).
   */
  readonly maxBacklog: number;
  /** Give up on a round after this long (a lost message must not hang the bench). */
  readonly deadlineMs: number;
}

function throughput(n: number, size: number, ms: number): Measurement {
  const s = ms / 1000;
  return { msgs_per_s: n / s, mb_per_s: (n * size) / 1e6 / s, ns_per_msg: (ms * 1e6) / n };
}

/** Confirmed single publishes, `inflight` at a time. */
export async function publishSingle(
  side: Side,
  topic: string,
  group: string,
  s: ScenarioSettings,
): Promise<Measurement> {
  await side.prepare(topic, group);
  const template = payloadTemplate(s.size);
  const t0 = now();
  await pool(s.messages, s.inflight, () => side.publishOne(topic, stampedPayload(s.size, template)));
  return throughput(s.messages, s.size, now() - t0);
}

/** Confirmed batches of `batch` messages, one batch at a time. */
export async function publishBatches(
  side: Side,
  topic: string,
  group: string,
  s: ScenarioSettings,
): Promise<Measurement> {
  await side.prepare(topic, group);
  const template = payloadTemplate(s.size);
  const t0 = now();
  for (let sent = 0; sent < s.messages; sent += s.batch) {
    const count = Math.min(s.batch, s.messages - sent);
    await side.publishBatch(
      topic,
      Array.from({ length: count }, () => stampedPayload(s.size, template)),
    );
  }
  return throughput(s.messages, s.size, now() - t0);
}

function waitCount(
  target: () => boolean,
  deadlineMs: number,
  what: string,
): { promise: Promise<void>; check: () => void } {
  let resolve!: () => void;
  let reject!: (e: Error) => void;
  const promise = new Promise<void>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  const timer = setTimeout(
    () => reject(new Error(`${what}: deadline of ${deadlineMs} ms passed`)),
    deadlineMs,
  );
  const check = () => {
    if (target()) {
      clearTimeout(timer);
      resolve();
    }
  };
  return { promise, check };
}

/**
 * End to end at saturation: a consumer runs; `messages` are published in confirmed batches as fast as
 * the broker takes them; the figure ends when the handler has seen every message. Latency is
 * from the moment a message was made (just before its batch was published) to its handler call,
 * so under saturation it includes the time spent queued in the broker.
 */
export async function endToEnd(
  side: Side,
  topic: string,
  group: string,
  s: ScenarioSettings,
): Promise<Measurement> {
  await side.prepare(topic, group);
  const template = payloadTemplate(s.size);
  const latencies = new Float64Array(s.messages);
  let seen = 0;
  let drained: { below: number; resolve: () => void } | undefined;
  const done = waitCount(() => seen >= s.messages, s.deadlineMs, `${side.label} end-to-end`);
  const consumption = await side.consume(topic, group, s.consume, (payload) => {
    if (seen < s.messages) latencies[seen] = now() - readStamp(payload);
    seen++;
    if (drained && seen >= drained.below) {
      drained.resolve();
      drained = undefined;
    }
    done.check();
  });
  try {
    const t0 = now();
    for (let sent = 0; sent < s.messages; ) {
      const count = Math.min(s.batch, s.messages - sent);
      await side.publishBatch(
        topic,
        Array.from({ length: count }, () => stampedPayload(s.size, template)),
      );
      sent += count;
      if (sent - seen > s.maxBacklog) {
        await Promise.race([
          new Promise<void>((resolve) => {
            drained = { below: sent - s.maxBacklog, resolve };
          }),
          done.promise,
        ]);
      }
    }
    await done.promise;
    const elapsed = now() - t0;
    const { p50, p95, p99 } = latencyPercentiles(latencies);
    return { ...throughput(s.messages, s.size, elapsed), p50_ms: p50, p95_ms: p95, p99_ms: p99 };
  } finally {
    await consumption.stop();
  }
}

/**
 * Latency without load: one message at a time, the next published only after the previous one
 * reached the handler. Measures publish-confirm + broker delivery + client dispatch.
 */
export async function serialLatency(
  side: Side,
  topic: string,
  group: string,
  s: ScenarioSettings,
): Promise<Measurement> {
  await side.prepare(topic, group);
  const template = payloadTemplate(s.size);
  const latencies: number[] = [];
  let arrived: (() => void) | undefined;
  const consumption = await side.consume(topic, group, s.consume, (payload) => {
    latencies.push(now() - readStamp(payload));
    arrived?.();
  });
  try {
    for (let i = 0; i < s.messages; i++) {
      const got = new Promise<void>((resolve, reject) => {
        const timer = setTimeout(
          () => reject(new Error(`${side.label} serial latency: message ${i} lost`)),
          s.deadlineMs,
        );
        arrived = () => {
          clearTimeout(timer);
          resolve();
        };
      });
      await side.publishOne(topic, stampedPayload(s.size, template));
      await got;
    }
    const { p50, p95, p99 } = latencyPercentiles(latencies);
    return { p50_ms: p50, p95_ms: p95, p99_ms: p99 };
  } finally {
    arrived = undefined;
    await consumption.stop();
  }
}
