import type { MeterProvider, TracerProvider } from '@opentelemetry/api';
import type { Transport } from '../transport.js';
import type { TelemetryOptions } from './options.js';
import { INSTRUMENTATION_NAME, SEMCONV_SCHEMA_URL } from './semconv.js';
import { semconvStability } from './stability.js';
import { type OtelApi, Telemetry } from './telemetry.js';

/** Version of `@carrier/core` given as the instrumentation scope's version. */
const SCOPE_VERSION = '0.1.0';

/**
 * `@opentelemetry/api`, imported on demand (it is an optional peer dependency); `undefined`
 * when it is not installed.
 */
async function importApi(): Promise<OtelApi | undefined> {
  try {
    return (await import('@opentelemetry/api')) as OtelApi;
  } catch {
    return undefined;
  }
}

/** The tracer provider to use, or `undefined` when only the global no-op is there. */
function tracerProviderOf(api: OtelApi, given: TracerProvider | undefined): TracerProvider | undefined {
  if (given) return given;
  const global = api.trace.getTracerProvider();
  // the global is a proxy; with no SDK registered it has no delegate (and makes no-op spans)
  if (global instanceof api.ProxyTracerProvider && !global.getDelegateTracer(INSTRUMENTATION_NAME)) {
    return undefined;
  }
  return global;
}

/** The meter provider to use, or `undefined` when only the global no-op is there. */
function meterProviderOf(api: OtelApi, given: MeterProvider | undefined): MeterProvider | undefined {
  if (given) return given;
  const global = api.metrics.getMeterProvider();
  const NoopMeter = api.createNoopMeter().constructor;
  return global.getMeter(INSTRUMENTATION_NAME) instanceof NoopMeter ? undefined : global;
}

/**
 * The telemetry of one connection (`connect`'s `telemetry` option), or `undefined` — and then
 * Carrier makes no OpenTelemetry call at all — when the option is `false`, `@opentelemetry/api` is
 * not installed, or no provider was given or registered globally.
 */
export async function loadTelemetry(
  option: TelemetryOptions | false | undefined,
  transport: Transport,
): Promise<Telemetry | undefined> {
  if (option === false) return undefined;
  const api = await importApi();
  if (!api) return undefined;
  const tracerProvider = tracerProviderOf(api, option?.tracerProvider);
  const meterProvider = meterProviderOf(api, option?.meterProvider);
  if (!tracerProvider && !meterProvider) return undefined;
  const scope = { schemaUrl: SEMCONV_SCHEMA_URL };
  return new Telemetry({
    api,
    tracer: tracerProvider?.getTracer(INSTRUMENTATION_NAME, SCOPE_VERSION, scope),
    meter: meterProvider?.getMeter(INSTRUMENTATION_NAME, SCOPE_VERSION, scope),
    system: transport.system ?? transport.name,
    stability: semconvStability(process.env.OTEL_SEMCONV_STABILITY_OPT_IN),
  });
}
