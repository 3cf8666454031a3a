import { describe, expect, it } from 'vitest';
import { CarrierError } from './errors.js';
import {
  isTraceparent,
  isTracestate,
  metadataFromHeaders,
  metadataHeaders,
  validateMetadata,
} from './metadata.js';

const TP = '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01';

function code(fn: () => unknown): string | undefined {
  try {
    fn();
  } catch (e) {
    return e instanceof CarrierError ? e.code : 'not-a-carrier-error';
  }
  return undefined;
}

describe('W3C trace context syntax', () => {
  it.each([
    TP,
    '01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00-future',
    'cc-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-09',
  ])('accepts traceparent %s', (v) => expect(isTraceparent(v)).toBe(true));
  it.each([
    '',
    'ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01',
    '00-00000000000000000000000000000000-00f067aa0ba902b7-01',
    '00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01',
    '00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01',
    `${TP}-extra`,
    '00-4bf92f3577b34da6a3ce929d0e0e473-00f067aa0ba902b7-01',
  ])('refuses traceparent %j', (v) => expect(isTraceparent(v)).toBe(false));
  it.each(['rojo=00f067aa0ba902b7', 'rojo=1,congo=t61rcWkgMzE', 'a@b=x , c=d', 'k=v,,'])(
    'accepts tracestate %j',
    (v) => expect(isTracestate(v)).toBe(true),
  );
  it.each([
    'novalue',
    'Upper=1',
    'a=b,a=c',
    'k=',
    'k=a=b',
    Array.from({ length: 33 }, (_, i) => `k${i}=v`).join(','),
  ])('refuses tracestate %j', (v) => expect(isTracestate(v)).toBe(false));
});

describe('validateMetadata', () => {
  const full = {
    correlationId: 'req 42 ☺',
    replyTo: 'replies.client-7',
    deadline: new Date('2030-01-02T03:04:05.678Z'),
    schemaId: 'urn:schema:order/v2',
    traceparent: TP,
    tracestate: 'rojo=00f067aa0ba902b7',
    extra: { priority: 'high', 'x-2': ' spaced ' },
  };

  it('keeps every valid field and drops absent ones', () => {
    expect(validateMetadata(full)).toEqual(full);
    expect(validateMetadata({ correlationId: undefined })).toBeUndefined();
    expect(validateMetadata(undefined)).toBeUndefined();
  });

  it.each([
    [{ correlationId: '' }],
    [{ replyTo: 'a\nb' }],
    [{ schemaId: 'a\0b' }],
    [{ correlationId: 'a\uD800' }],
    [{ correlationId: 42 }],
    [{ deadline: new Date(Number.NaN) }],
    [{ deadline: '2030-01-01' }],
    [{ traceparent: 'nope' }],
    [{ traceparent: TP, tracestate: 'bad' }],
    // empty: W3C says treat it as absent; SQS refuses an empty attribute (found by a newcomer)
    [{ traceparent: TP, tracestate: '' }],
    [{ tracestate: 'rojo=1' }],
    [{ extra: { Priority: 'x' } }],
    [{ extra: { 'correlation-id': 'x' } }],
    [{ extra: { p: 'a\r' } }],
    [{ extra: [] }],
    // a misspelt or unknown field would vanish on the wire (found by a newcomer)
    [{ correlationID: 'x' }],
    [{ priority: 'high' }],
    ['string'],
    [null],
  ])('refuses %j with INVALID_ARGUMENT', (metadata) => {
    expect(code(() => validateMetadata(metadata))).toBe('INVALID_ARGUMENT');
  });

  it('round-trips through the generic header form, names in any case', () => {
    const headers = metadataHeaders(validateMetadata(full));
    expect(headers).toEqual({
      traceparent: TP,
      tracestate: 'rojo=00f067aa0ba902b7',
      'carrier-meta-correlation-id': 'req 42 ☺',
      'carrier-meta-reply-to': 'replies.client-7',
      'carrier-meta-schema-id': 'urn:schema:order/v2',
      'carrier-meta-deadline': '2030-01-02T03:04:05.678Z',
      'carrier-meta-priority': 'high',
      'carrier-meta-x-2': ' spaced ',
    });
    const shouted = Object.entries(headers).map(([k, v]) => [k.toUpperCase(), v] as const);
    expect(metadataFromHeaders([...shouted, ['user-header', 'x']])).toEqual(full);
  });

  it('reads leniently: drops invalid values (tracestate with an invalid traceparent), ignores other headers', () => {
    expect(
      metadataFromHeaders([
        ['traceparent', 'garbage'],
        ['tracestate', 'a=b'],
      ]),
    ).toBeUndefined();
    expect(
      metadataFromHeaders([
        ['carrier-meta-deadline', 'soon'],
        ['carrier-meta-Bad_Name', 'x'],
        ['x', 'y'],
      ]),
    ).toBeUndefined();
    expect(metadataFromHeaders([['carrier-meta-traceparent', TP]])).toBeUndefined();
    expect(metadataFromHeaders([['Traceparent', TP]])).toEqual({ traceparent: TP });
  });
});
