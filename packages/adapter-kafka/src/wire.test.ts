import type { WireMessage } from '@carrier/core';
import type { KafkaMessage } from 'kafkajs';
import { describe, expect, it } from 'vitest';
import { deadLetterHeaders, fromRecord, HEADERS, MAX_REASON_CHARS, retryHeaders, toRecord } from './wire.js';

const message: WireMessage = {
  id: 'm-1',
  key: 'customer-7',
  headers: { tenant: 'acme', note: 'naïve ✓' },
  contentType: 'application/json',
  body: new Uint8Array([0x7b, 0x7d]),
  publishedAt: new Date('2026-11-23T10:00:00.123Z'),
};

/** What a consumer sees: headers come back as Buffers. */
function consumed(record: ReturnType<typeof toRecord>, offset = '42'): KafkaMessage {
  const headers: Record<string, Buffer> = {};
  for (const [k, v] of Object.entries(record.headers ?? {})) headers[k] = Buffer.from(v as string);
  return {
    key: record.key === null || record.key === undefined ? null : Buffer.from(record.key),
    value: record.value as Buffer,
    timestamp: record.timestamp ?? '0',
    attributes: 0,
    offset,
    headers,
  };
}

describe('wire format', () => {
  it('writes key, value, user headers and carrier-* metadata', () => {
    const r = toRecord(message);
    expect(r.key).toBe('customer-7');
    expect(Buffer.from(r.value as Buffer).equals(Buffer.from(message.body))).toBe(true);
    expect(r.headers).toEqual({
      tenant: 'acme',
      note: 'naïve ✓',
      'carrier-id': 'm-1',
      'carrier-content-type': 'application/json',
      'carrier-published-at': '2026-11-23T10:00:00.123Z',
    });
    expect(r.timestamp).toBe(String(message.publishedAt.getTime()));
  });

  it('reads back exactly what it wrote', () => {
    const d = fromRecord('t', 0, consumed(toRecord(message)));
    expect(d.message).toEqual(message);
    expect(d.attempt).toBe(1);
    expect(d.dueAt).toBeUndefined();
    expect(d.deadLetter).toBeUndefined();
  });

  it('carries attempt and due time on retry copies, failure metadata on dead letters', () => {
    const due = new Date('2026-11-23T10:00:05.000Z');
    const retry = fromRecord('t', 0, consumed(toRecord(message, retryHeaders(3, due))));
    expect(retry.attempt).toBe(3);
    expect(retry.dueAt).toBe(due.getTime());
    expect(retry.message.headers).toEqual(message.headers);
    const failedAt = new Date('2026-11-23T10:01:00.000Z');
    const dead = fromRecord(
      't',
      0,
      consumed(toRecord(message, deadLetterHeaders({ reason: 'boom', attempts: 5, failedAt }))),
    );
    expect(dead.deadLetter).toEqual({ reason: 'boom', attempts: 5, failedAt });
    expect(dead.message).toEqual(message);
    const long = deadLetterHeaders({ reason: 'x'.repeat(5_000), attempts: 1, failedAt })[
      HEADERS.deadLetterReason
    ]!;
    expect(long.length).toBe(MAX_REASON_CHARS + 1);
  });

  it('falls back for records of plain Kafka clients', () => {
    const d = fromRecord('orders', 2, {
      key: null,
      value: Buffer.from([1, 2, 3]),
      timestamp: '1700000000000',
      attributes: 0,
      offset: '7',
      headers: { source: Buffer.from('kcat'), dup: [Buffer.from('a'), Buffer.from('b')] },
    });
    expect(d.message.id).toBe('orders-2-7');
    expect(d.message.key).toBeUndefined();
    expect(d.message.contentType).toBe('application/octet-stream');
    expect(d.message.publishedAt.getTime()).toBe(1_700_000_000_000);
    expect(d.message.headers).toEqual({ source: 'kcat', dup: 'b' });
    expect([...d.message.body]).toEqual([1, 2, 3]);
    expect(d.attempt).toBe(1);
  });
});

describe('metadata', () => {
  const traceparent = '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01';

  it('writes trace context under its native header names and the rest as carrier-meta-*', () => {
    const r = toRecord({
      ...message,
      metadata: { traceparent, correlationId: 'c-1', extra: { future: 'x' } },
    });
    expect(r.headers).toMatchObject({
      traceparent,
      'carrier-meta-correlation-id': 'c-1',
      'carrier-meta-future': 'x',
    });
    const back = fromRecord('t', 0, consumed(r));
    expect(back.message.metadata).toEqual({ traceparent, correlationId: 'c-1', extra: { future: 'x' } });
    expect(back.message.headers).toEqual(message.headers);
  });

  it("reads a native producer's traceparent header as metadata; a record without any has none", () => {
    const native = consumed({ key: null, value: Buffer.from('x'), headers: { traceparent, other: 'y' } });
    const decoded = fromRecord('t', 0, native).message;
    expect(decoded.metadata).toEqual({ traceparent });
    expect(decoded.headers).toEqual({ other: 'y' });
    expect(fromRecord('t', 0, consumed(toRecord(message))).message.metadata).toBeUndefined();
  });
});
