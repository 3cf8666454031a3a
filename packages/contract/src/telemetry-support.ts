import type { Attributes, SpanContext } from '@opentelemetry/api';
import { MeterProvider, MetricReader } from '@opentelemetry/sdk-metrics';
import {
  InMemorySpanExporter,
  type ReadableSpan,
  SimpleSpanProcessor,
  TracerProvider,
} from '@opentelemetry/sdk-trace';

/** A metric reader that exports nowhere: `collect()` on demand is all the telemetry cases need. */
class OnDemandReader extends MetricReader {
  protected override async onForceFlush(): Promise<void> {}
  protected override async onShutdown(): Promise<void> {}
}

/**
 * The OpenTelemetry SDK wired to in-memory exporters, for one case: pass `providers` to
 * `connect(url, { telemetry })` (no global registration, so cases never see each other's spans),
 * then read the finished spans and the metrics' current sums.
 */
export class TelemetryCapture {
  readonly #exporter = new InMemorySpanExporter();
  readonly #reader = new OnDemandReader();
  readonly tracerProvider = new TracerProvider({
    spanProcessors: [new SimpleSpanProcessor({ exporter: this.#exporter })],
  });
  readonly meterProvider = new MeterProvider({ readers: [this.#reader] });

  /** The providers, as `ConnectOptions.telemetry` takes them. */
  get providers(): { tracerProvider: TracerProvider; meterProvider: MeterProvider } {
    return { tracerProvider: this.tracerProvider, meterProvider: this.meterProvider };
  }

  /** Every span ended so far. */
  spans(): ReadableSpan[] {
    return this.#exporter.getFinishedSpans();
  }

  /** Ended spans named `name`. */
  named(name: string): ReadableSpan[] {
    return this.spans().filter((s) => s.name === name);
  }

  /**
   * The sum of metric `name`'s data points whose attributes include `where` (a counter's total,
   * an up-down counter's value, a histogram's count), 0 when none was recorded.
   */
  async sum(name: string, where: Attributes = {}): Promise<number> {
    const { resourceMetrics } = await this.#reader.collect();
    let total = 0;
    for (const scope of resourceMetrics.scopeMetrics) {
      for (const metric of scope.metrics) {
        if (metric.descriptor.name !== name) continue;
        for (const point of metric.dataPoints) {
          if (!Object.entries(where).every(([k, v]) => point.attributes[k] === v)) continue;
          const value = point.value as number | { count: number };
          total += typeof value === 'number' ? value : value.count;
        }
      }
    }
    return total;
  }

  /** Names of every metric recorded so far (for failure messages). */
  async metricNames(): Promise<string[]> {
    const { resourceMetrics } = await this.#reader.collect();
    return resourceMetrics.scopeMetrics.flatMap((s) => s.metrics.map((m) => m.descriptor.name));
  }

  async shutdown(): Promise<void> {
    await Promise.allSettled([this.tracerProvider.shutdown(), this.meterProvider.shutdown()]);
  }
}

/** The span id of a W3C `traceparent` (`00-<trace id>-<span id>-<flags>`), or undefined. */
export function traceparentIds(
  traceparent: string | undefined,
): { traceId: string; spanId: string } | undefined {
  const parts = traceparent?.split('-');
  if (!parts || parts.length < 4) return undefined;
  return { traceId: parts[1]!, spanId: parts[2]! };
}

/** `span`'s trace and span id, for comparisons. */
export function ids(context: SpanContext | undefined): { traceId: string; spanId: string } | undefined {
  return context ? { traceId: context.traceId, spanId: context.spanId } : undefined;
}

/** A one-line account of `spans` (name, kind, ids, parent, attempt), for failure messages. */
export function describeSpans(spans: readonly ReadableSpan[]): string {
  return spans
    .map((s) => {
      const c = s.spanContext();
      const attempt = s.attributes['carrier.delivery.attempt'];
      return `${s.name} kind=${s.kind} ${c.traceId}/${c.spanId} parent=${s.parentSpanContext?.spanId ?? '-'}${attempt === undefined ? '' : ` attempt=${String(attempt)}`} links=${s.links.map((l) => l.context.spanId).join(',')}`;
    })
    .join('\n');
}
