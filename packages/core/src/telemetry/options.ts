import type { MeterProvider, TracerProvider } from '@opentelemetry/api';

/**
 * The `telemetry` option of `connect`: where Carrier's spans and metrics go. Each provider
 * defaults to the global one of `@opentelemetry/api` (`trace.setGlobalTracerProvider`,
 * `metrics.setGlobalMeterProvider`, which the SDK's `NodeSDK.start()` calls), read once at
 * `connect`. Without `@opentelemetry/api` installed, or with neither a provider given nor a global
 * one registered at `connect`, telemetry is off and costs nothing. docs/observability.md.
 */
export interface TelemetryOptions {
  /** Tracer provider for Carrier's spans. Default: the global one. */
  readonly tracerProvider?: TracerProvider | undefined;
  /** Meter provider for Carrier's metrics. Default: the global one. */
  readonly meterProvider?: MeterProvider | undefined;
}
