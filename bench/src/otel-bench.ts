import { connect, createMemoryTransport, type TelemetryOptions, type Transport } from '@carrier/core';
import { MeterProvider, MetricReader } from '@opentelemetry/sdk-metrics';
import {
  BatchSpanProcessor,
  type ReadableSpan,
  type SpanExporter,
  TracerProvider,
} from '@opentelemetry/sdk-trace';
import { adapterTransport, brokerSettings } from './broker-bench.js';
import { CarrierSide } from './carrier-side.js';
import { compare, LATENCY, progress, type Scenario, THROUGHPUT } from './compare.js';
import { endToEnd, publishSingle, type ScenarioSettings } from './measure.js';
import { draining } from './memory-bench.js';
import type { Figure } from './report.js';
import { type BenchOptions, DEFAULT_MESSAGES } from './settings.js';

/** An exporter that drops every span: what is measured is Carrier's instrumentation and the SDK, no I/O. */
class DroppingExporter implements SpanExporter {
  export(_spans: ReadableSpan[], done: Parameters<SpanExporter['export']>[1]): void {
    done({ code: 0 }); // ExportResultCode.SUCCESS
  }
  async shutdown(): Promise<void> {}
}

/** A metric reader nobody collects from: the SDK still aggregates every measurement. */
class IdleReader extends MetricReader {
  protected override async onForceFlush(): Promise<void> {}
  protected override async onShutdown(): Promise<void> {}
}

/** The SDK as an application wires it (batching span processor, a metric reader), exporting nowhere. */
function sdk(): { telemetry: TelemetryOptions; shutdown: () => Promise<void> } {
  const tracerProvider = new TracerProvider({
    spanProcessors: [new BatchSpanProcessor({ exporter: new DroppingExporter() })],
  });
  const meterProvider = new MeterProvider({ readers: [new IdleReader()] });
  return {
    telemetry: { tracerProvider, meterProvider },
    shutdown: async () => {
      await Promise.allSettled([tracerProvider.shutdown(), meterProvider.shutdown()]);
    },
  };
}

const NS = { key: 'ns_per_msg', unit: 'ns/msg', higherIsBetter: false } as const;

/** A real broker to run the comparison on instead of the memory transport. */
export interface OtelBroker {
  /** `kafka`, `rabbitmq`, `nats`, `sqs`. */
  readonly broker: string;
  /** From `CARRIER_TEST_<BROKER>_URL`. */
  readonly url: string;
}

/**
 * `otel` (`on` absent): what tracing and metrics cost on the memory transport. Carrier with the
 * OpenTelemetry SDK wired (tracer and meter providers, every span sampled, a batching processor,
 * exported nowhere) against Carrier with no provider registered (the default: `@opentelemetry/api`
 * answers with its no-op tracer), alternating A/B as every comparison does: confirmed single
 * publishes and end to end. The `.traces-only` figures give the tracer provider alone (no meter
 * provider), the `.vs-off` figures compare no provider registered with `telemetry: false`: the cost
 * of the instrumentation when nothing listens (expected ratio 1).
 *
 * `otel:<broker>` (`on` given): the same four sides, each its own connection to the broker's URL,
 * sized as the broker bench sizes a run (settings.ts), every run on a fresh topic and group; after
 * each single-publish run an adapter connection without telemetry empties the group, untimed, so
 * no backlog stays on the broker. Figures are named `otel:<broker> …`.
 */
export async function otelFigures(o: BenchOptions, runId: string, on?: OtelBroker): Promise<Figure[]> {
  const name = on ? `otel:${on.broker}` : 'otel';
  const onError = (e: Error) => progress(`${name} async error: ${e.message}`);
  let base: ScenarioSettings;
  let single: number;
  let warmup: number;
  if (on) {
    ({ base, single, warmup } = brokerSettings(on.broker, o));
  } else {
    const messages = o.messages ?? DEFAULT_MESSAGES.memory!;
    base = {
      messages,
      size: o.size,
      batch: o.batch,
      inflight: o.inflight,
      consume: o.consume,
      maxBacklog: o.maxBacklog,
      deadlineMs: 120_000,
    };
    single = o.single ?? messages;
    warmup = Math.min(messages, 10_000);
  }
  const figures: Figure[] = [];
  const telemetry = sdk();
  const sides = {
    traced: { url: on?.url ?? 'memory://bench-otel-traced', telemetry: telemetry.telemetry },
    traces: {
      url: on?.url ?? 'memory://bench-otel-traces',
      telemetry: { tracerProvider: telemetry.telemetry.tracerProvider },
    },
    none: { url: on?.url ?? 'memory://bench-otel-none', telemetry: undefined },
    off: { url: on?.url ?? 'memory://bench-otel-off', telemetry: false as const },
  };
  // empties each round's group afterwards: on memory a second connection to each side's in-process
  // broker; on a broker one adapter connection for every side
  const drainers = new Map<string, Transport>();
  const shared = on ? await adapterTransport(on.broker, on.url, onError) : undefined;
  const opened: { carrier: CarrierSide }[] = [];
  const open = async (label: keyof typeof sides) => {
    const { url, telemetry: t } = sides[label];
    const carrier = new CarrierSide(
      await connect(url, { onError, connectTimeoutMs: 10_000, telemetry: t }),
      label,
    );
    opened.push({ carrier });
    drainers.set(
      label,
      shared ?? (await createMemoryTransport(new URL(url), { onError, connectTimeoutMs: 10_000 })),
    );
    return { carrier };
  };
  const where = on ? on.broker : 'memory://';
  try {
    const traced = await open('traced');
    const traces = await open('traces');
    const none = await open('none');
    const off = await open('off');
    for (const [reference, a, b, suffix, note] of [
      [
        `Carrier on ${where} with no tracer or meter provider registered`,
        traced,
        none,
        '',
        'A: OpenTelemetry SDK (TracerProvider + BatchSpanProcessor to a dropping exporter, MeterProvider + an idle reader)',
      ],
      [
        `Carrier on ${where} with no tracer or meter provider registered`,
        traces,
        none,
        '.traces-only',
        'A: the tracer provider only (no meter provider: metrics off)',
      ],
      [
        `Carrier on ${where} with telemetry: false`,
        none,
        off,
        '.vs-off',
        'A: no provider registered (the default); B: telemetry turned off',
      ],
    ] as const) {
      const scenarios: Scenario[] = [
        {
          name: 'publish-single',
          run: draining(publishSingle, drainers, on !== undefined),
          settings: { ...base, messages: single },
          figures: [...THROUGHPUT, NS],
          warmup,
        },
        { name: 'e2e', run: endToEnd, settings: base, figures: [...THROUGHPUT, NS, ...LATENCY], warmup },
      ];
      for (const scenario of scenarios) {
        if (o.skip.has(scenario.name === 'e2e' ? 'e2e' : 'single')) continue;
        figures.push(
          ...(await compare({
            broker: name,
            runId,
            carrier: a.carrier,
            raw: b.carrier,
            reference,
            scenario,
            rounds: o.rounds,
            suffix,
            note,
            freshGroups: on !== undefined,
          })),
        );
      }
    }
  } finally {
    for (const side of opened) await side.carrier.close().catch(() => {});
    for (const drainer of new Set(drainers.values())) await drainer.close().catch(() => {});
    if (shared && drainers.size === 0) await shared.close().catch(() => {});
    await telemetry.shutdown();
  }
  return figures;
}
