import { connect, createMemoryTransport, type Transport } from '@carrier/core';
import { CarrierSide } from './carrier-side.js';
import { compare, LATENCY, progress, type Scenario, THROUGHPUT } from './compare.js';
import { LoopbackTransport } from './loopback-transport.js';
import { endToEnd, publishBatches, publishSingle, type ScenarioSettings, serialLatency } from './measure.js';
import type { Figure } from './report.js';
import { type BenchOptions, DEFAULT_MESSAGES } from './settings.js';
import type { Side } from './side.js';
import { steadyScenario } from './steady.js';
import { TransportSide } from './transport-side.js';

const NS = { key: 'ns_per_msg', unit: 'ns/msg', higherIsBetter: false } as const;

/** Most unsettled deliveries of a drain on a real broker (the in-process broker takes all at once). */
const BROKER_DRAIN_PREFETCH = 1_000;

/**
 * Empties a group after a round, outside the timed region, so the broker does not keep every
 * round's messages. In process (`expected` absent): until a turn of the event loop brings nothing
 * more (the heap, and its garbage collection, would otherwise grow from round to round). On a real
 * broker the messages come over the network, so a quiet turn proves nothing: until the round's
 * `expected.messages` have been received and acknowledged, or `expected.deadlineMs` passed
 * (reported on stderr, not thrown: the figure was already measured).
 */
async function drain(
  transport: Transport,
  topic: string,
  group: string,
  expected?: { readonly messages: number; readonly deadlineMs: number },
): Promise<void> {
  let seen = 0;
  if (!expected) {
    const sub = await transport.subscribe(topic, group, { prefetch: 1_000_000, ordered: false }, (d) => {
      seen++;
      void d.ack();
    });
    let last = -1;
    while (seen !== last) {
      last = seen;
      await new Promise((resolve) => setImmediate(resolve));
    }
    await sub.stop();
    await sub.close();
    return;
  }
  let all!: () => void;
  const received = new Promise<void>((resolve) => {
    all = resolve;
  });
  const acks: Promise<void>[] = [];
  const sub = await transport.subscribe(
    topic,
    group,
    { prefetch: BROKER_DRAIN_PREFETCH, ordered: false },
    (d) => {
      seen++;
      acks.push(d.ack());
      if (seen >= expected.messages) all();
    },
  );
  let timer: NodeJS.Timeout | undefined;
  try {
    const late = await Promise.race([
      received.then(() => false),
      new Promise<boolean>((resolve) => {
        timer = setTimeout(() => resolve(true), expected.deadlineMs);
      }),
    ]);
    if (late)
      progress(`drain of ${topic}/${group}: ${seen} of ${expected.messages} after ${expected.deadlineMs} ms`);
    await sub.stop();
    const failed = (await Promise.allSettled(acks)).filter((a) => a.status === 'rejected').length;
    if (failed > 0) progress(`drain of ${topic}/${group}: ${failed} acknowledgements failed`);
  } finally {
    clearTimeout(timer);
    await sub.close();
  }
}

type Run = Scenario['run'];

/**
 * `run`, then the side's group emptied through its drainer (keyed by side label), untimed.
 * `broker`: the drainer is a real broker's: wait for the round's `settings.messages` (see `drain`).
 */
export function draining(run: Run, drainers: ReadonlyMap<string, Transport>, broker = false): Run {
  return async (side, topic, group, settings) => {
    const measured = await run(side, topic, group, settings);
    const transport = drainers.get(side.label);
    if (transport)
      await drain(
        transport,
        topic,
        group,
        broker ? { messages: settings.messages, deadlineMs: settings.deadlineMs } : undefined,
      );
    return measured;
  };
}

function scenarios(
  broker: string,
  o: BenchOptions,
  drainers: ReadonlyMap<string, Transport> = new Map(),
): Scenario[] {
  const messages = o.messages ?? DEFAULT_MESSAGES[broker]!;
  const base: ScenarioSettings = {
    messages,
    size: o.size,
    batch: o.batch,
    inflight: o.inflight,
    consume: o.consume,
    maxBacklog: o.maxBacklog,
    deadlineMs: 120_000,
  };
  const warmup = Math.min(messages, 10_000);
  const list: Scenario[] = [];
  if (!o.skip.has('single')) {
    list.push({
      name: 'publish-single',
      run: draining(publishSingle, drainers),
      settings: { ...base, messages: o.single ?? messages },
      figures: [...THROUGHPUT, NS],
      warmup,
    });
  }
  if (!o.skip.has('batch'))
    list.push({
      name: 'publish-batch',
      run: draining(publishBatches, drainers),
      settings: base,
      figures: [...THROUGHPUT, NS],
      warmup,
    });
  if (!o.skip.has('e2e'))
    list.push({
      name: 'e2e',
      run: endToEnd,
      settings: base,
      figures: [...THROUGHPUT, NS, ...LATENCY],
      warmup,
    });
  if (!o.skip.has('steady')) list.push(steadyScenario(broker, base, o.rate));
  if (!o.skip.has('serial')) {
    list.push({
      name: 'e2e-serial',
      run: serialLatency,
      settings: { ...base, messages: o.serial * 10 },
      figures: LATENCY,
      warmup: 100,
    });
  }
  return list;
}

async function run(
  broker: string,
  carrier: Side,
  raw: Side,
  reference: string,
  note: string,
  o: BenchOptions,
  runId: string,
  drainers?: ReadonlyMap<string, Transport>,
) {
  const figures: Figure[] = [];
  for (const scenario of scenarios(broker, o, drainers)) {
    figures.push(
      ...(await compare({ broker, runId, carrier, raw, reference, scenario, rounds: o.rounds, note })),
    );
  }
  return figures;
}

/**
 * Figures that need no broker:
 * - `memory`: Carrier over `memory://` against the memory transport driven directly through the SPI;
 * - `core`: Carrier over a loopback transport that does nothing but hand messages back (no copies, no
 *   broker) against the same loopback called directly: what core itself adds per message.
 */
export async function memoryFigures(o: BenchOptions, runId: string): Promise<Figure[]> {
  const onError = (e: Error) => progress(`async error: ${e.message}`);
  const figures: Figure[] = [];
  if (o.brokers.includes('memory')) {
    const carrier = new CarrierSide(
      await connect('memory://bench-carrier', { onError, connectTimeoutMs: 10_000 }),
      'carrier',
      // the A/A side: its own in-process broker, same settings
      () => connect('memory://bench-carrier-b', { onError, connectTimeoutMs: 10_000 }),
    );
    const raw = new TransportSide(
      'memory-spi',
      await createMemoryTransport(new URL('memory://bench-raw'), { onError, connectTimeoutMs: 10_000 }),
    );
    // second connections to the same in-process brokers, to empty each round's group afterwards
    const drainers = new Map<string, Transport>([
      [
        'carrier',
        await createMemoryTransport(new URL('memory://bench-carrier'), { onError, connectTimeoutMs: 10_000 }),
      ],
      [
        'carrier-b',
        await createMemoryTransport(new URL('memory://bench-carrier-b'), {
          onError,
          connectTimeoutMs: 10_000,
        }),
      ],
      [
        'memory-spi',
        await createMemoryTransport(new URL('memory://bench-raw'), { onError, connectTimeoutMs: 10_000 }),
      ],
    ]);
    try {
      figures.push(
        ...(await run(
          'memory',
          carrier,
          raw,
          'MemoryTransport driven directly through the SPI (same transport, no engine)',
          'in-process; both sides copy bodies as the memory broker does',
          o,
          runId,
          drainers,
        )),
      );
    } finally {
      await carrier.close();
      await raw.close();
    }
  }
  if (o.brokers.includes('core')) {
    const loopback = new LoopbackTransport();
    const carrier = new CarrierSide(
      await connect('loopback://', { onError, transport: async () => loopback }),
      'carrier',
      () => connect('loopback://', { onError, transport: async () => new LoopbackTransport() }),
    );
    const raw = new TransportSide('loopback-spi', new LoopbackTransport());
    try {
      figures.push(
        ...(await run(
          'core',
          carrier,
          raw,
          'the same no-op loopback transport called directly',
          'isolates core: validation, encoding, id, scheduling, decoding, settle',
          o,
          runId,
        )),
      );
    } finally {
      await carrier.close();
      await raw.close();
    }
  }
  return figures;
}
