import type { SpanContext, TraceState } from '@opentelemetry/api';
import type { MessageMetadata } from '../metadata.js';

/** What core writes into a message's metadata: W3C Trace Context (https://www.w3.org/TR/trace-context/). */
export interface TraceFields {
  readonly traceparent: string;
  readonly tracestate?: string | undefined;
}

/** `traceparent` (version 00) and `tracestate` of a span context; `undefined` for an invalid one. */
export function traceFields(
  context: SpanContext,
  valid: (c: SpanContext) => boolean,
): TraceFields | undefined {
  if (!valid(context)) return undefined;
  const flags = (context.traceFlags & 0xff).toString(16).padStart(2, '0');
  const traceparent = `00-${context.traceId}-${context.spanId}-${flags}`;
  const tracestate = context.traceState?.serialize();
  return tracestate ? { traceparent, tracestate } : { traceparent };
}

/**
 * `metadata` with the trace context injected, unless the user set a `traceparent` (kept, with its
 * `tracestate`, untouched). `fields` absent: `metadata` unchanged.
 */
export function withTraceFields(
  metadata: MessageMetadata | undefined,
  fields: TraceFields | undefined,
): MessageMetadata | undefined {
  if (!fields || metadata?.traceparent !== undefined) return metadata;
  return { ...metadata, ...fields };
}

/**
 * The remote span context a message carries in `metadata.traceparent`/`tracestate` (validated by
 * core on publish and by the transport on receipt), or `undefined`. A later version's
 * `traceparent` is read by its first four fields, as W3C Trace Context §4.3 asks.
 */
export function extractSpanContext(
  metadata: MessageMetadata | undefined,
  createTraceState: (raw: string) => TraceState,
): SpanContext | undefined {
  const traceparent = metadata?.traceparent;
  if (traceparent === undefined) return undefined;
  const [, traceId, spanId, flags] = traceparent.split('-');
  if (!traceId || !spanId || !flags) return undefined;
  const context: SpanContext = {
    traceId,
    spanId,
    traceFlags: Number.parseInt(flags, 16) & 0x01,
    isRemote: true,
  };
  const tracestate = metadata?.tracestate;
  return tracestate ? { ...context, traceState: createTraceState(tracestate) } : context;
}
