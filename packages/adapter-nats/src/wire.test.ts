import type { WireMessage } from '@carrier/core';
import { describe, expect, it } from 'vitest';
import {
  ACK,
  decodeDeadLetterInfo,
  decodeMessage,
  decodePulled,
  encodeDeadLetterHeaders,
  encodeHeaders,
  HEADERS,
  type HeaderEntries,
  headerBytes,
  NAK,
  nakWithDelay,
  parseAckSubject,
  TERM,
  userHeaderName,
  WPI,
} from './wire.js';

/** What a NATS reader sees: values trimmed as nats.js does, first value per name. */
function reader(entries: HeaderEntries) {
  const map = new Map<string, string>();
  for (const [k, v] of entries) if (!map.has(k)) map.set(k, v.trim());
  return { keys: () => [...map.keys()], get: (k: string) => map.get(k) ?? '' };
}

const origin = { stream: 'S', sequence: 7, timestamp: new Date('2026-01-01T00:00:00Z') };

const message: WireMessage = {
  id: 'id-1',
  key: 'customer-7',
  headers: {
    tenant: 'acme',
    note: 'naïve café ✓ 日本語 🚀',
    empty: '',
    padded: '  x  ',
    'Nats-Expected-Stream': 'evil',
  },
  contentType: 'application/json',
  body: new Uint8Array([1, 2, 3]),
  publishedAt: new Date('2026-02-03T04:05:06.789Z'),
};

describe('wire format', () => {
  it('round-trips id, key, content type, publishedAt and every user header exactly', () => {
    const entries = encodeHeaders(message);
    const names = entries.map(([k]) => k);
    expect(names).toContain(HEADERS.id);
    expect(names).not.toContain('Nats-Expected-Stream'); // never handed to the server as its own header
    expect(names).toContain('Carrier-Header-Nats-Expected-Stream');
    const { message: back } = decodeMessage(reader(entries), message.body, origin);
    expect(back).toEqual(message);
  });

  it('percent-encodes only values NATS would alter (CR, LF, NUL, surrounding whitespace)', () => {
    const entries = encodeHeaders({ ...message, key: ' spaced\nkey ', headers: { a: 'plain', b: ' lead' } });
    const map = new Map(entries);
    expect(map.get('a')).toBe('plain');
    expect(map.get('b')).toBe('%20lead');
    expect(map.get(HEADERS.encoded)).toBe(`${HEADERS.key},b`);
    const { message: back } = decodeMessage(reader(entries), message.body, origin);
    expect(back.key).toBe(' spaced\nkey ');
    expect(back.headers).toEqual({ a: 'plain', b: ' lead' });
  });

  it('gives native messages sensible defaults', () => {
    const { message: m } = decodeMessage(undefined, new Uint8Array(), origin);
    expect(m).toEqual({
      id: 'S:7',
      key: undefined,
      headers: {},
      contentType: 'application/octet-stream',
      body: new Uint8Array(),
      publishedAt: origin.timestamp,
    });
    const native = decodeMessage(
      reader([
        ['Nats-Msg-Id', 'n-1'],
        ['Content-Type', 'application/json'],
        ['carrier-key', 'lower-case-works'],
      ]),
      new Uint8Array(),
      origin,
    ).message;
    expect(native.id).toBe('n-1');
    expect(native.contentType).toBe('application/json');
    expect(native.key).toBe('lower-case-works');
    expect(native.headers).toEqual({ 'Content-Type': 'application/json' });
  });

  it('carries dead-letter metadata, multi-line reasons included, and cuts very long reasons', () => {
    const info = { reason: 'line 1\nline 2', attempts: 3, failedAt: new Date('2026-03-04T05:06:07.000Z') };
    const entries = encodeDeadLetterHeaders(message, info, 'billing', 'CARRIER_orders:42');
    const { message: back, meta } = decodeMessage(reader(entries), message.body, origin);
    expect(back).toEqual(message);
    expect(decodeDeadLetterInfo(meta, origin.timestamp)).toEqual(info);
    expect(meta.get(HEADERS.group.toLowerCase())).toBe('billing');
    expect(meta.get(HEADERS.source.toLowerCase())).toBe('CARRIER_orders:42');
    const long = encodeDeadLetterHeaders(message, { ...info, reason: 'x'.repeat(10_000) }, 'g', 's', 100);
    const reason = decodeDeadLetterInfo(
      decodeMessage(reader(long), message.body, origin).meta,
      origin.timestamp,
    ).reason;
    expect(reason).toHaveLength(100);
    expect(reason.endsWith('…')).toBe(true);
  });

  it('measures header bytes as they go on the wire', () => {
    expect(headerBytes([])).toBe(12);
    expect(headerBytes([['a', 'é']])).toBe(12 + 1 + 2 + 4);
    expect(headerBytes([['a', 'b']], 'id')).toBe(12 + 6 + 'Nats-Msg-Id'.length + 2 + 4);
  });

  it('parses both JetStream ack subject formats', () => {
    expect(parseAckSubject('$JS.ACK.CARRIER_t.g.3.42.40.1700000000123456789.5')).toEqual({
      stream: 'CARRIER_t',
      consumer: 'g',
      deliveryCount: 3,
      streamSequence: 42,
      timestampMs: 1700000000123,
    });
    expect(parseAckSubject('$JS.ACK.hub.ACCHASH.CARRIER_t.g.1.9.9.1700000000000000000.0.rnd')).toMatchObject({
      stream: 'CARRIER_t',
      deliveryCount: 1,
      streamSequence: 9,
    });
    expect(parseAckSubject('_INBOX.x')).toBeUndefined();
  });
});

describe('pulled messages', () => {
  it('take stream, sequence, delivery count and timestamp from the ack subject', () => {
    const data = new Uint8Array([1, 2, 3]);
    const received = decodePulled({
      reply: '$JS.ACK.CARRIER_t.g.3.42.40.1700000000123456789.5',
      headers: reader(encodeHeaders(message)),
      data,
    });
    expect(received).toMatchObject({ stream: 'CARRIER_t', seq: 42, attempt: 3 });
    expect(received.wire.id).toBe(message.id);
    expect(received.wire.body).toEqual(data);
    expect(received.wire.body).not.toBe(data); // a copy: nats.js may reuse its buffer
  });

  it('without an ack subject: attempt 1 and an id from the (empty) origin', () => {
    const received = decodePulled({ data: new Uint8Array() });
    expect(received).toMatchObject({ stream: '', seq: 0, attempt: 1 });
    expect(received.wire.id).toBe(':0');
  });
});

describe('ack protocol', () => {
  const text = (b: Uint8Array) => new TextDecoder().decode(b);

  it('payloads', () => {
    expect([ACK, NAK, TERM, WPI].map(text)).toEqual(['+ACK', '-NAK', '+TERM', '+WPI']);
  });

  it('-NAK with a delay in nanoseconds (rounded up to whole ms); none for 0 or less', () => {
    expect(text(nakWithDelay(1_500))).toBe('-NAK {"delay":1500000000}');
    expect(text(nakWithDelay(0.2))).toBe('-NAK {"delay":1000000}');
    expect(nakWithDelay(0)).toBe(NAK);
    expect(nakWithDelay(-5)).toBe(NAK);
  });
});

describe('header keys and metadata', () => {
  it('sends printable ASCII names as they are and escapes the others under Carrier-Header-', () => {
    expect(userHeaderName('plain-Name_1.2/x')).toBe('plain-Name_1.2/x');
    expect(userHeaderName('a b:c,d%e☺')).toBe('Carrier-Header-a%20b%3Ac%2Cd%25e%E2%98%BA');
    expect(userHeaderName('nats-x')).toBe('Carrier-Header-nats-x');
    const headers = { 'a b:c,d%e☺': '1', '\x01\x7f': '2', 'Nats-Expected-Stream': '3', plain: '4' };
    const m: WireMessage = { ...message, headers };
    expect(decodeMessage(reader(encodeHeaders(m)), m.body, origin).message.headers).toEqual(headers);
  });

  it('reads the Carrier-Header-Nats-* names older versions wrote', () => {
    const entries: HeaderEntries = [['Carrier-Header-Nats-Old', 'v']];
    expect(decodeMessage(reader(entries), new Uint8Array(0), origin).message.headers).toEqual({
      'Nats-Old': 'v',
    });
  });

  it('carries metadata as traceparent, tracestate and Carrier-Meta-* headers', () => {
    const metadata = {
      traceparent: '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01',
      tracestate: 'a=b',
      replyTo: '  padded  ',
      extra: { future: 'x' },
    };
    const entries = encodeHeaders({ ...message, metadata });
    expect(entries).toContainEqual(['traceparent', metadata.traceparent]);
    const back = decodeMessage(reader(entries), message.body, origin).message;
    expect(back.metadata).toEqual(metadata);
    expect(back.headers).toEqual(message.headers);
  });
});
