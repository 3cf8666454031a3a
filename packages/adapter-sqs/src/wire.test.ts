import type { WireMessage } from '@carrier/core';
import { describe, expect, it } from 'vitest';
import {
  ATTR,
  type Attribute,
  decodeMessage,
  encodeBody,
  encodeMessage,
  fifoToken,
  MAX_ATTRIBUTES,
} from './wire.js';

function message(overrides: Partial<WireMessage> = {}): WireMessage {
  return {
    id: 'id-1',
    key: 'k',
    headers: {},
    contentType: 'application/json',
    body: new TextEncoder().encode('{"a":1}'),
    publishedAt: new Date('2026-11-23T10:00:00.000Z'),
    ...overrides,
  };
}

/** What SQS hands back for an encoded message (attributes as sent, receive count as given). */
function roundTrip(m: WireMessage, receiveCount = 1, options: Parameters<typeof encodeMessage>[1] = {}) {
  const encoded = encodeMessage(m, options);
  return {
    encoded,
    decoded: decodeMessage({
      MessageId: 'sqs-id',
      Body: encoded.body,
      MessageAttributes: encoded.attributes,
      Attributes: { ApproximateReceiveCount: String(receiveCount), SentTimestamp: '1795433052335' },
    }),
  };
}

describe('wire format', () => {
  it('sends valid UTF-8 text as is and everything else as base64', () => {
    expect(encodeBody(new TextEncoder().encode('grüße\r\n\t🌍'))).toEqual({ text: 'grüße\r\n\t🌍' });
    expect(encodeBody(new Uint8Array([0x00, 0xff])).encoding).toBe('base64');
    expect(encodeBody(new TextEncoder().encode('bell \x07')).encoding).toBe('base64'); // control char SQS refuses
    expect(encodeBody(new Uint8Array([0xef, 0xbf, 0xbe])).encoding).toBe('base64'); // U+FFFE
    expect(encodeBody(new Uint8Array(0))).toEqual({ text: '-', encoding: 'empty' });
  });

  it('round-trips id, key, headers, content type, publishedAt and bytes', () => {
    const bodies = [
      new Uint8Array([0, 255, 254, 0, 128, 195, 40, 10, 13, 0]),
      new Uint8Array(0),
      new TextEncoder().encode('ü'),
    ];
    for (const body of bodies) {
      const m = message({ body, headers: { tenant: 'acme', note: 'naïve café ✓ 日本語 🚀', empty: '' } });
      const { decoded } = roundTrip(m);
      expect(decoded.message).toEqual(m);
      expect(decoded.attempt).toBe(1);
    }
  });

  it('uses single attributes when they fit and packs headers as JSON when not', () => {
    const few = encodeMessage(message({ headers: { tenant: 'acme', region: 'eu' } }));
    expect(few.attributes.tenant).toEqual({ DataType: 'String', StringValue: 'acme' });
    expect(few.attributes[ATTR.meta]).toBeUndefined();

    const headers = Object.fromEntries(Array.from({ length: 12 }, (_, i) => [`h${i}`, `v${i}`]));
    const many = encodeMessage(message({ headers }));
    expect(Object.keys(many.attributes).length).toBeLessThanOrEqual(MAX_ATTRIBUTES);
    expect(JSON.parse(many.attributes[ATTR.meta]!.StringValue!)).toEqual({ headers });

    // names AWS refuses as attributes, empty values: packed
    for (const bad of [
      { 'a..b': 'x' },
      { 'trailing.': 'x' },
      { 'AWS.thing': 'x' },
      { e: '' },
      { c: 'tab\x01' },
    ]) {
      const e = encodeMessage(message({ headers: bad }));
      expect(JSON.parse(e.attributes[ATTR.meta]!.StringValue!)).toEqual({ headers: bad });
      expect(roundTrip(message({ headers: bad })).decoded.message.headers).toEqual(bad);
    }
  });

  it('keeps values AWS refuses (empty key, control characters) in carrier-meta', () => {
    const m = message({ key: '', id: 'id\x01' });
    const { encoded, decoded } = roundTrip(m);
    expect(encoded.attributes[ATTR.key]).toBeUndefined();
    expect(JSON.parse(encoded.attributes[ATTR.meta]!.StringValue!)).toEqual({ id: 'id\x01', key: '' });
    expect(decoded.message).toEqual(m);
  });

  it('never exceeds 10 attributes, dead-letter metadata included', () => {
    for (const n of [0, 1, 5, 6, 7, 8, 20]) {
      const headers = Object.fromEntries(Array.from({ length: n }, (_, i) => [`h${i}`, `v${i}`]));
      const info = { reason: '', attempts: 3, failedAt: new Date() };
      const { encoded, decoded } = roundTrip(message({ headers, body: new Uint8Array([0]) }), 1, {
        deadLetter: info,
      });
      expect(Object.keys(encoded.attributes).length, `${n} headers`).toBeLessThanOrEqual(MAX_ATTRIBUTES);
      expect(decoded.message.headers).toEqual(headers);
      expect(decoded.deadLetter).toEqual(info);
    }
  });

  it('counts the size as SQS/SNS do: body plus attribute names, types and values', () => {
    const e = encodeMessage(message({ key: undefined }));
    let expected = Buffer.byteLength(e.body);
    for (const [name, a] of Object.entries(e.attributes) as [string, Attribute][]) {
      expected +=
        Buffer.byteLength(name) + Buffer.byteLength(a.DataType) + Buffer.byteLength(a.StringValue ?? '');
    }
    expect(e.size).toBe(expected);
  });

  it('derives the attempt from ApproximateReceiveCount plus the offset of a re-sent copy', () => {
    expect(roundTrip(message(), 3).decoded.attempt).toBe(3);
    expect(roundTrip(message(), 1, { attemptOffset: 2 }).decoded.attempt).toBe(3);
  });

  it('reads native messages: SQS MessageId, text/plain, SentTimestamp, String and Number attributes as headers', () => {
    const d = decodeMessage({
      MessageId: 'native-1',
      Body: 'hello',
      MessageAttributes: {
        tenant: { DataType: 'String', StringValue: 'acme' },
        n: { DataType: 'Number', StringValue: '7' },
        blob: { DataType: 'Binary' },
      },
      Attributes: { ApproximateReceiveCount: '2', SentTimestamp: '1795433052335' },
    });
    expect(d.message.id).toBe('native-1');
    expect(d.message.contentType).toBe('text/plain; charset=utf-8');
    expect(new TextDecoder().decode(d.message.body)).toBe('hello');
    expect(d.message.headers).toEqual({ tenant: 'acme', n: '7' });
    expect(d.message.publishedAt.getTime()).toBe(1795433052335);
    expect(d.attempt).toBe(2);
  });

  it('makes FIFO tokens out of any string', () => {
    expect(fifoToken('customer-7')).toBe('customer-7');
    expect(fifoToken('has space')).toMatch(/^sha256:[0-9a-f]{64}$/);
    expect(fifoToken('x'.repeat(129))).toMatch(/^sha256:/);
  });
});

describe('metadata', () => {
  const traceparent = '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01';
  const metadata = {
    traceparent,
    tracestate: 'a=b',
    correlationId: 'c-1',
    deadline: new Date('2030-01-01T00:00:00.000Z'),
    extra: { future: 'x' },
  };

  it('sends the trace context as the native traceparent/tracestate attributes and the rest in carrier-meta', () => {
    const { encoded, decoded } = roundTrip(message({ metadata, headers: { h: 'v' } }));
    expect(encoded.attributes.traceparent?.StringValue).toBe(traceparent);
    expect(encoded.attributes.tracestate?.StringValue).toBe('a=b');
    expect(JSON.parse(encoded.attributes[ATTR.meta]!.StringValue!).metadata).toEqual({
      'carrier-meta-correlation-id': 'c-1',
      'carrier-meta-deadline': '2030-01-01T00:00:00.000Z',
      'carrier-meta-future': 'x',
    });
    expect(decoded.message.metadata).toEqual(metadata);
    expect(decoded.message.headers).toEqual({ h: 'v' });
  });

  it('stays within 10 attributes on the fullest copy (a base64 dead letter), packing the trace context too', () => {
    const dl = { reason: 'r\u0007', attempts: 3, failedAt: new Date() };
    const m = message({ metadata, body: new Uint8Array([0xff]), headers: { a: '1', b: '2' } });
    const { encoded, decoded } = roundTrip(m, 1, { deadLetter: dl, attemptOffset: 2 });
    expect(Object.keys(encoded.attributes).length).toBeLessThanOrEqual(MAX_ATTRIBUTES);
    expect(decoded.message.metadata).toEqual(metadata);
    expect(decoded.message.headers).toEqual({ a: '1', b: '2' });
  });

  it("reads a native producer's traceparent attribute as metadata, not as a header", () => {
    const d = decodeMessage({
      Body: 'x',
      MessageAttributes: {
        traceparent: { DataType: 'String', StringValue: traceparent },
        h: { DataType: 'String', StringValue: 'v' },
      },
    });
    expect(d.message.metadata).toEqual({ traceparent });
    expect(d.message.headers).toEqual({ h: 'v' });
  });
});
