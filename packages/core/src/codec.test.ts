import { describe, expect, it } from 'vitest';
import { retryDelay } from './backoff.js';
import { decodeBody, encodeBody, messageSize } from './codec.js';
import { CarrierError } from './errors.js';

describe('codec', () => {
  it('passes bytes through untouched', () => {
    const bytes = new Uint8Array([0, 255, 128]);
    const encoded = encodeBody(bytes);
    expect(encoded.bytes).toBe(bytes);
    expect(encoded.contentType).toBe('application/octet-stream');
    expect(decodeBody(bytes, encoded.contentType)).toBe(bytes);
  });

  it('encodes strings as UTF-8 and other values as JSON', () => {
    expect(decodeBody(encodeBody('héllo').bytes, encodeBody('héllo').contentType)).toBe('héllo');
    const value = { a: [1, { b: null }], unknownField: 'kept' };
    const e = encodeBody(value);
    expect(e.contentType).toBe('application/json');
    expect(decodeBody(e.bytes, 'application/json; charset=utf-8')).toEqual(value);
    expect(decodeBody(new TextEncoder().encode('{"x":1}'), 'application/cloudevents+json')).toEqual({ x: 1 });
  });

  it('keeps an explicit content type for bytes (forwarding)', () => {
    expect(encodeBody(new Uint8Array([1]), 'application/x-protobuf').contentType).toBe(
      'application/x-protobuf',
    );
  });

  it('treats unknown content types as bytes', () => {
    const bytes = new Uint8Array([0xff]);
    expect(decodeBody(bytes, 'application/avro')).toBe(bytes);
    expect(decodeBody(bytes, '')).toBe(bytes);
  });

  it('rejects values JSON cannot carry', () => {
    expect(() => encodeBody(undefined)).toThrow(CarrierError);
    expect(() => encodeBody(10n)).toThrow(CarrierError);
    const cycle: Record<string, unknown> = {};
    cycle.self = cycle;
    expect(() => encodeBody(cycle)).toThrow(CarrierError);
  });

  it('fails decoding invalid JSON or invalid UTF-8 text with DECODE_FAILED', () => {
    for (const [bytes, type] of [
      [new TextEncoder().encode('{oops'), 'application/json'],
      [new Uint8Array([0xc3, 0x28]), 'text/plain'],
    ] as const) {
      try {
        decodeBody(bytes, type);
        expect.unreachable();
      } catch (e) {
        expect((e as CarrierError).code).toBe('DECODE_FAILED');
      }
    }
  });

  it('measures body, key and headers in UTF-8 bytes', () => {
    expect(messageSize(new Uint8Array(10), 'ké', { ü: 'ab' })).toBe(10 + 3 + 2 + 2);
  });
});

describe('retryDelay', () => {
  const policy = { maxAttempts: 10, initialDelayMs: 100, maxDelayMs: 1_000 };
  it('doubles per attempt within [d/2, d] and caps at maxDelayMs', () => {
    expect(retryDelay(policy, 1, () => 0)).toBe(50);
    expect(retryDelay(policy, 1, () => 1)).toBe(100);
    expect(retryDelay(policy, 3, () => 1)).toBe(400);
    expect(retryDelay(policy, 8, () => 0)).toBe(500);
    expect(retryDelay(policy, 8, () => 1)).toBe(1_000);
    expect(retryDelay(policy, 5_000, () => 1)).toBe(1_000);
  });
});
