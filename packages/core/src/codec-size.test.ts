import { describe, expect, it } from 'vitest';
import { messageSize, utf8Length } from './codec.js';
import { codecForContentType } from './codecs.js';

describe('utf8Length', () => {
  it('counts as the UTF-8 encoder writes, lone surrogates as U+FFFD', () => {
    const encoder = new TextEncoder();
    for (const text of ['', 'ascii', 'é', '€uro', '😀', 'a\uD800b', '\uDC00', 'x\uD83D', '日本語😀é'])
      expect(utf8Length(text), JSON.stringify(text)).toBe(encoder.encode(text).byteLength);
  });

  it('messageSize counts body, key, headers and metadata headers without encoding them', () => {
    const body = new Uint8Array(10);
    expect(messageSize(body, 'ké', { 'h-1': 'v€' }, { correlationId: 'c' })).toBe(
      10 + 3 + 3 + 4 + 'carrier-meta-correlation-id'.length + 1,
    );
  });
});

describe('codecForContentType', () => {
  it('gives the same codec for a content type seen before, parameters and case ignored', () => {
    expect(codecForContentType('Application/JSON; charset=utf-8').name).toBe('json');
    expect(codecForContentType('Application/JSON; charset=utf-8').name).toBe('json');
    expect(codecForContentType('text/plain').name).toBe('text');
    expect(codecForContentType('application/octet-stream').name).toBe('bytes');
  });

  it('gives each content type its codec when types alternate, new and remembered ones', () => {
    const types = ['application/json', 'text/csv', 'application/x-alt-1', 'application/vnd.alt+json'];
    const expected = ['json', 'text', 'bytes', 'json'];
    for (let round = 0; round < 3; round++)
      for (let i = 0; i < types.length; i++) {
        expect(codecForContentType(types[i]!).name).toBe(expected[i]);
        expect(codecForContentType(types[(i + 1) % types.length]!).name).toBe(
          expected[(i + 1) % types.length],
        );
      }
  });
});
