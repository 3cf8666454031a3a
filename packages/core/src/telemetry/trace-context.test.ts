import { createTraceState, isSpanContextValid, type SpanContext, TraceFlags } from '@opentelemetry/api';
import { describe, expect, it } from 'vitest';
import { extractSpanContext, traceFields, withTraceFields } from './trace-context.js';

const context: SpanContext = {
  traceId: '0af7651916cd43dd8448eb211c80319c',
  spanId: 'b7ad6b7169203331',
  traceFlags: TraceFlags.SAMPLED,
  traceState: createTraceState('a=1,b=2'),
};

describe('trace context in MessageMetadata', () => {
  it('formats traceparent (version 00) and tracestate, and reads them back as a remote context', () => {
    const fields = traceFields(context, isSpanContextValid);
    expect(fields).toEqual({
      traceparent: '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01',
      tracestate: 'a=1,b=2',
    });
    const back = extractSpanContext(fields, createTraceState);
    expect(back).toMatchObject({
      traceId: context.traceId,
      spanId: context.spanId,
      traceFlags: 1,
      isRemote: true,
    });
    expect(back?.traceState?.serialize()).toBe('a=1,b=2');
  });

  it('an unsampled context keeps flags 00; an invalid one gives nothing', () => {
    expect(
      traceFields({ ...context, traceFlags: TraceFlags.NONE, traceState: undefined }, isSpanContextValid),
    ).toEqual({
      traceparent: '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-00',
    });
    expect(traceFields({ ...context, traceId: '0'.repeat(32) }, isSpanContextValid)).toBeUndefined();
  });

  it('keeps a user-set traceparent with its tracestate; adds the context otherwise, keeping other fields', () => {
    const user = {
      traceparent: '00-11111111111111111111111111111111-2222222222222222-00',
      correlationId: 'c',
    };
    const fields = {
      traceparent: '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01',
      tracestate: 'x=1',
    };
    expect(withTraceFields(user, fields)).toBe(user);
    expect(withTraceFields({ correlationId: 'c' }, fields)).toEqual({ correlationId: 'c', ...fields });
    expect(withTraceFields(undefined, undefined)).toBeUndefined();
  });

  it('reads a later version by its first four fields, and nothing from a message without traceparent', () => {
    const later = extractSpanContext(
      { traceparent: '01-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-03-extra' },
      createTraceState,
    );
    expect(later).toMatchObject({ spanId: 'b7ad6b7169203331', traceFlags: 1 });
    expect(extractSpanContext({}, createTraceState)).toBeUndefined();
    expect(extractSpanContext(undefined, createTraceState)).toBeUndefined();
  });
});
