import { describe, expect, it } from 'vitest';
import type { DecodeContext } from './codec-spi.js';
import { bytesCodec, defaultCodec, jsonCodec, textCodec } from './codecs.js';
import { CarrierError, isCarrierError } from './errors.js';

const encodeContext = { topic: 'orders' };
const decodeContext = (contentType: string): DecodeContext => ({
  topic: 'orders',
  contentType,
  metadata: {},
});

function codeOf(f: () => unknown): string | undefined {
  try {
    f();
  } catch (error) {
    return error instanceof CarrierError ? error.code : `not a CarrierError: ${String(error)}`;
  }
  return undefined;
}

describe('built-in codecs', () => {
  it('jsonCodec round-trips JSON, keeping every field, and names application/json', () => {
    const value = { id: 1, nested: { addedLater: [1, 'ü', null] } };
    const encoded = jsonCodec.encode(value, encodeContext);
    expect(encoded).toEqual({
      bytes: new TextEncoder().encode(JSON.stringify(value)),
      contentType: 'application/json',
    });
    expect(
      jsonCodec.decode((encoded as { bytes: Uint8Array }).bytes, decodeContext('application/json')),
    ).toEqual(value);
  });

  it('jsonCodec refuses values JSON cannot carry with INVALID_ARGUMENT and bad bytes with DECODE_FAILED', () => {
    expect(codeOf(() => jsonCodec.encode(undefined, encodeContext))).toBe('INVALID_ARGUMENT');
    expect(codeOf(() => jsonCodec.encode(1n, encodeContext))).toBe('INVALID_ARGUMENT');
    const notJson = new TextEncoder().encode('{"a":');
    expect(codeOf(() => jsonCodec.decode(notJson, decodeContext('application/json')))).toBe('DECODE_FAILED');
    expect(codeOf(() => jsonCodec.decode(new Uint8Array([0xff]), decodeContext('application/json')))).toBe(
      'DECODE_FAILED',
    );
  });

  it('textCodec round-trips UTF-8 text, refusing non-strings and invalid UTF-8', () => {
    const encoded = textCodec.encode('héllo ☺', encodeContext) as { bytes: Uint8Array; contentType: string };
    expect(encoded.contentType).toBe('text/plain; charset=utf-8');
    expect(textCodec.decode(encoded.bytes, decodeContext(encoded.contentType))).toBe('héllo ☺');
    expect(codeOf(() => textCodec.encode(42 as unknown as string, encodeContext))).toBe('INVALID_ARGUMENT');
    expect(codeOf(() => textCodec.decode(new Uint8Array([0xc3, 0x28]), decodeContext('text/plain')))).toBe(
      'DECODE_FAILED',
    );
  });

  it('bytesCodec passes the very bytes through both ways and refuses anything else', () => {
    const bytes = new Uint8Array([0, 255, 128]);
    expect(bytesCodec.encode(bytes, encodeContext)).toEqual({
      bytes,
      contentType: 'application/octet-stream',
    });
    expect((bytesCodec.encode(bytes, encodeContext) as { bytes: Uint8Array }).bytes).toBe(bytes);
    expect(bytesCodec.decode(bytes, decodeContext('application/x-anything'))).toBe(bytes);
    expect(codeOf(() => bytesCodec.encode('x' as unknown as Uint8Array, encodeContext))).toBe(
      'INVALID_ARGUMENT',
    );
  });

  it('defaultCodec encodes by the value type and decodes by the content type', () => {
    const bytes = new Uint8Array([1, 2]);
    expect(defaultCodec.encode(bytes, encodeContext)).toMatchObject({
      contentType: 'application/octet-stream',
    });
    expect(defaultCodec.encode('x', encodeContext)).toMatchObject({
      contentType: 'text/plain; charset=utf-8',
    });
    expect(defaultCodec.encode({ a: 1 }, encodeContext)).toMatchObject({ contentType: 'application/json' });
    const json = new TextEncoder().encode('{"x":1}');
    expect(defaultCodec.decode(json, decodeContext('application/cloudevents+json; charset=utf-8'))).toEqual({
      x: 1,
    });
    expect(defaultCodec.decode(json, decodeContext('text/csv'))).toBe('{"x":1}');
    expect(defaultCodec.decode(json, decodeContext('application/vnd.apache.avro+binary'))).toBe(json);
    expect(defaultCodec.decode(json, decodeContext(''))).toBe(json);
    let error: unknown;
    try {
      defaultCodec.decode(new TextEncoder().encode('nope'), decodeContext('application/json'));
    } catch (e) {
      error = e;
    }
    expect(isCarrierError(error, 'DECODE_FAILED')).toBe(true);
    expect((error as Error).message).toMatch(/JSON/);
  });

  it('every built-in codec answers synchronously (core never awaits them)', () => {
    for (const [codec, value] of [
      [jsonCodec, { a: 1 }],
      [textCodec, 'a'],
      [bytesCodec, new Uint8Array([1])],
      [defaultCodec, { a: 1 }],
    ] as const) {
      const encoded = (codec.encode as (v: unknown, c: typeof encodeContext) => unknown)(
        value,
        encodeContext,
      );
      expect(encoded).not.toBeInstanceOf(Promise);
      const { bytes, contentType } = encoded as { bytes: Uint8Array; contentType: string };
      expect(codec.decode(bytes, decodeContext(contentType))).not.toBeInstanceOf(Promise);
    }
  });
});
