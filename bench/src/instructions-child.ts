/**
 * Child process of the instructions-per-message figures (instructions.ts), run under valgrind with
 * callgrind's instrumentation off at the start:
 * `node --expose-gc instructions-child.js <memory|core> <carrier|raw> <dir> <warm-up> <n1> <n2>` sets
 * up one side as the memory / core bench does, subscribes once, and runs the end-to-end loop
 * (confirmed batches of 100, at most 1,000 unseen, the handler reading each message's stamp) through
 * that one subscription in stretches: `<warm-up>` messages in uncounted stretches of 5,000, then the
 * counted stretches of `<n1>` and `<n2>`. Before each stretch a scavenge; around each, a hand-over: the
 * child writes `start` / `stop` on stdout and, for a counted stretch, waits for the file `go-<k>` in
 * `<dir>` (the parent switches instrumentation on / reads the count and switches it off in between).
 * The uncounted stretches write `warm` and do not wait, so their code paths are the counted ones'.
 */
import { existsSync, writeSync } from 'node:fs';
import path from 'node:path';
import { connect, createMemoryTransport } from '@carrier/core';
import { CarrierSide } from './carrier-side.js';
import { LoopbackTransport } from './loopback-transport.js';
import type { ScenarioSettings } from './measure.js';
import { now, payloadTemplate, readStamp, type Side, stampedPayload } from './side.js';
import { TransportSide } from './transport-side.js';

/** The loop's settings: the bench's defaults (1 KiB, batches of 100, prefetch 64, concurrency 16). */
export const INSTRUCTION_SETTINGS: Omit<ScenarioSettings, 'messages' | 'inflight' | 'deadlineMs'> = {
  size: 1024,
  batch: 100,
  consume: { prefetch: 64, concurrency: 16 },
  maxBacklog: 1000,
};

async function side(broker: string, which: string): Promise<Side> {
  const onError = (e: Error) => process.stderr.write(`async error: ${e.message}\n`);
  if (broker === 'memory')
    return which === 'carrier'
      ? new CarrierSide(await connect('memory://instructions', { onError }))
      : new TransportSide(
          'memory-spi',
          await createMemoryTransport(new URL('memory://instructions'), {
            onError,
            connectTimeoutMs: 10_000,
          }),
        );
  if (broker === 'core')
    return which === 'carrier'
      ? new CarrierSide(
          await connect('loopback://', { onError, transport: async () => new LoopbackTransport() }),
        )
      : new TransportSide('loopback-spi', new LoopbackTransport());
  throw new Error(`instructions-child: unknown broker ${broker}`);
}

const [broker = '', which = '', dir = '', ...numbers] = process.argv.slice(2);
if (!dir) throw new Error('instructions-child: no hand-over directory');
const [warmup = Number.NaN, n1 = Number.NaN, n2 = Number.NaN] = numbers.map(Number);
for (const [name, n] of [
  ['warm-up', warmup],
  ['n1', n1],
  ['n2', n2],
] as const)
  if (!Number.isInteger(n) || n < 1) throw new Error(`instructions-child: bad ${name} ${n}`);

const s = await side(broker, which);
const topic = `instructions.${which}`;
await s.prepare(topic, 'bench');
const settings = INSTRUCTION_SETTINGS;
const template = payloadTemplate(settings.size);
// the handler does what endToEnd's does: read the stamp, keep the latency (in a ring: no growth)
const latencies = new Float64Array(1024);
let seen = 0;
let waiting: { until: number; resolve: () => void } | undefined;
const consumption = await s.consume(topic, 'bench', settings.consume, (payload) => {
  latencies[seen & 1023] = now() - readStamp(payload);
  seen++;
  if (waiting && seen >= waiting.until) {
    const w = waiting;
    waiting = undefined;
    w.resolve();
  }
});
const seenAtLeast = (until: number) =>
  seen >= until ? Promise.resolve() : new Promise<void>((resolve) => (waiting = { until, resolve }));

let sent = 0;
/** Publish `n` more messages in confirmed batches, at most maxBacklog unseen, until all are seen. */
async function run(n: number): Promise<void> {
  const end = sent + n;
  while (sent < end) {
    const c = Math.min(settings.batch, end - sent);
    await s.publishBatch(
      topic,
      Array.from({ length: c }, () => stampedPayload(settings.size, template)),
    );
    sent += c;
    if (sent - seen > settings.maxBacklog) await seenAtLeast(sent - settings.maxBacklog);
  }
  await seenAtLeast(end);
}

const pause = new Int32Array(new SharedArrayBuffer(4));
let handOvers = 0;
/**
 * Tell the parent `what` (a line on stdout); when `wait`, wait until it created the file `go-<k>` in
 * the hand-over directory (k counts the waiting hand-overs from 1). Synchronous, and with no call
 * into Node's validators of integers: reading the answer from stdin (readline, or fs.readSync)
 * deoptimized Node's `validateInteger`, which the loop uses too, and its recompilation landed in the
 * next counted stretch.
 */
function handOver(what: string, wait: boolean): void {
  writeSync(1, `${what}\n`);
  const go = wait ? path.join(dir, `go-${++handOvers}`) : dir;
  while (!existsSync(go)) Atomics.wait(pause, 0, 0, 10);
}

/**
 * `n` messages between two hand-overs, after a scavenge (not a full collection: that would throw
 * away optimized code whose maps died) that empties the young generation and resets the
 * external-memory pressure of the payloads' buffers, so no garbage collection falls into a counted
 * stretch (see NODE_FLAGS).
 */
async function stretch(n: number, counted: boolean): Promise<void> {
  globalThis.gc?.({ type: 'minor' });
  handOver(counted ? 'start' : 'warm', counted);
  await run(n);
  handOver(counted ? 'stop' : 'warm', counted);
}

/** Messages of each uncounted stretch of the warm-up. */
const WARM_STRETCH = 5_000;
// the warm-up goes through the same steps as the counted stretches (a path first taken at a stretch's
// start, such as publishing into an idle queue, is compiled in the warm-up, not in the first count)
for (let done = 0; done < warmup; done += WARM_STRETCH)
  await stretch(Math.min(WARM_STRETCH, warmup - done), false);
await stretch(n1, true);
await stretch(n2, true);
await consumption.stop();
await s.close();
process.exit(0);
