import { connect, type Transport, type TransportFactory } from '@carrier/core';
import type { BrokerModule } from './brokers/types.js';
import { CarrierSide } from './carrier-side.js';
import { compare, LATENCY, progress, type Scenario, THROUGHPUT } from './compare.js';
import { endToEnd, publishBatches, publishSingle, type ScenarioSettings, serialLatency } from './measure.js';
import { type Figure, figure } from './report.js';
import { type BenchOptions, DEFAULT_MESSAGES, DEFAULT_SINGLE } from './settings.js';
import { steadyScenario } from './steady.js';
import { TransportSide } from './transport-side.js';

const MODULES: Record<string, () => Promise<BrokerModule>> = {
  kafka: async () => (await import('./brokers/kafka.js')).default,
  'kafka-platformatic': async () => (await import('./brokers/kafka-platformatic.js')).default,
  rabbitmq: async () => (await import('./brokers/rabbitmq.js')).default,
  nats: async () => (await import('./brokers/nats.js')).default,
  sqs: async () => (await import('./brokers/sqs.js')).default,
};

/** The adapter package of each broker (what `connect()` loads for its URL scheme). */
const ADAPTERS: Record<string, string> = {
  kafka: '@carrier/adapter-kafka',
  'kafka-platformatic': '@carrier/adapter-kafka',
  rabbitmq: '@carrier/adapter-rabbitmq',
  nats: '@carrier/adapter-nats',
  sqs: '@carrier/adapter-sqs',
};

/** Brokers the bench knows beyond memory/core. */
export const BROKERS = Object.keys(MODULES);

/**
 * The sizes of a run on a real broker, from the options and the broker's defaults: messages per
 * round (batches, end to end), confirmed single publishes per round, warm-up messages.
 */
export function brokerSettings(
  broker: string,
  o: BenchOptions,
): { base: ScenarioSettings; single: number; warmup: number } {
  const messages = o.messages ?? DEFAULT_MESSAGES[broker] ?? 10_000;
  const base: ScenarioSettings = {
    messages,
    size: o.size,
    batch: o.batch,
    inflight: o.inflight,
    consume: o.consume,
    maxBacklog: o.maxBacklog,
    deadlineMs: 300_000,
  };
  const single = o.single ?? Math.min(messages, DEFAULT_SINGLE[broker] ?? 2_000);
  const warmup = Math.max(1, Math.min(500, Math.floor(messages / 20)));
  return { base, single, warmup };
}

/** The scenarios run on a real broker, sized by the options and the broker's defaults. */
export function brokerScenarios(broker: string, o: BenchOptions): Scenario[] {
  const { base, single, warmup } = brokerSettings(broker, o);
  const list: Scenario[] = [];
  if (!o.skip.has('single')) {
    list.push({
      name: 'publish-single',
      run: publishSingle,
      settings: { ...base, messages: single },
      figures: THROUGHPUT,
      warmup,
    });
  }
  if (!o.skip.has('batch'))
    list.push({ name: 'publish-batch', run: publishBatches, settings: base, figures: THROUGHPUT, warmup });
  if (!o.skip.has('e2e'))
    list.push({ name: 'e2e', run: endToEnd, settings: base, figures: [...THROUGHPUT, ...LATENCY], warmup });
  if (!o.skip.has('steady')) list.push(steadyScenario(broker, base, o.rate));
  if (!o.skip.has('serial')) {
    list.push({
      name: 'e2e-serial',
      run: serialLatency,
      settings: { ...base, messages: o.serial },
      figures: LATENCY,
      warmup: 20,
    });
  }
  return list;
}

/**
 * A transport of `broker`'s adapter at `url`, made by its `createTransport` (no Carrier engine, no
 * telemetry): the `--spi` side, and the connection that empties a group after a round.
 */
export async function adapterTransport(
  broker: string,
  url: string,
  onError: (e: Error) => void,
): Promise<Transport> {
  const adapter = (await import(ADAPTERS[broker]!)) as { createTransport: TransportFactory };
  return adapter.createTransport(new URL(url), { onError, connectTimeoutMs: 10_000 });
}

/** Carrier against each raw client of `broker` at `url`, then the broker's perf tool as a ceiling. */
export async function brokerFigures(
  broker: string,
  url: string,
  o: BenchOptions,
  runId: string,
): Promise<{ figures: Figure[]; extra: Record<string, unknown> }> {
  const mod = await MODULES[broker]!();
  const onError = (e: Error) => progress(`${broker} async error: ${e.message}`);
  const carrier = new CarrierSide(await connect(url, { onError, connectTimeoutMs: 10_000 }), 'carrier', () =>
    connect(url, { onError, connectTimeoutMs: 10_000 }),
  );
  const raws = await mod.rawClients(url, o.skip);
  if (o.spi) {
    // the same adapter without Carrier's engine: carrier/raw = (carrier/spi) x (spi/raw)
    raws.push({
      side: new TransportSide('adapter-spi', await adapterTransport(broker, url, onError)),
      reference: `${ADAPTERS[broker]} driven directly through the transport SPI (no engine), acks without waiting`,
      suffix: '.vs-spi',
    });
  }
  const figures: Figure[] = [];
  const failures: string[] = [];
  const extra: Record<string, unknown> = {
    notes: mod.notes,
    references: raws.map((r) => r.reference),
    failures,
  };
  try {
    for (const raw of raws) {
      for (const scenario of brokerScenarios(broker, o)) {
        try {
          figures.push(
            ...(await compare({
              broker,
              runId,
              carrier,
              raw: raw.side,
              reference: raw.reference,
              scenario,
              rounds: o.rounds,
              suffix: raw.suffix,
            })),
          );
        } catch (error) {
          const text = `${scenario.name}${raw.suffix ?? ''} failed: ${(error as Error).message}`;
          progress(`${broker} ${text}`);
          failures.push(text);
        }
      }
    }
  } finally {
    await carrier.close();
    for (const raw of raws) await raw.side.close().catch(() => {});
  }
  if (!o.skip.has('rss') && broker !== 'sqs') {
    try {
      const { brokerRssFigures } = await import('./rss.js');
      const rss = await brokerRssFigures(broker, url, o);
      figures.push(...rss.figures);
      extra.rss = rss.runs;
    } catch (error) {
      const text = `rss failed: ${(error as Error).message.split('\n')[0]}`;
      progress(`${broker} ${text}`);
      failures.push(text);
    }
  }
  if (mod.ceiling && !o.skip.has('ceiling')) {
    const batchFig = figures.find((f) => f.figure === 'publish-batch.msgs_per_s');
    const messages = o.messages ?? DEFAULT_MESSAGES[broker] ?? 10_000;
    const result = await mod
      .ceiling(url, { messages, size: o.size, batch: o.batch })
      .catch((e: Error) => e.message);
    if (typeof result === 'string') {
      progress(`${broker} ceiling unavailable: ${result}`);
      extra.ceiling = `unavailable: ${result}`;
    } else {
      extra.ceiling = result;
      if (batchFig) {
        figures.push(
          figure(
            {
              broker,
              figure: 'ceiling.msgs_per_s',
              unit: 'msg/s',
              higherIsBetter: true,
              reference: result.tool,
              note: `carrier = publish-batch median; raw = ${result.detail}`,
            },
            [batchFig.carrier.median],
            [result.msgsPerS],
          ),
        );
      }
    }
  }
  return { figures, extra };
}
