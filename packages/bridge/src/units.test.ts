import { CarrierError, type Message, type NativeToken } from '@carrier/core';
import { describe, expect, it } from 'vitest';
import { compareSides, messageDigest } from './compare.js';
import { Forwarder } from './forwarder.js';
import { republishProblem } from './portable.js';
import { ProgressMeter } from './progress.js';
import { parseRoutes } from './routes.js';

const bytes = (s: string) => new TextEncoder().encode(s);

function message(over: Partial<Message> = {}): Message {
  return {
    id: 'id-1',
    topic: 't',
    key: undefined,
    headers: {},
    body: undefined,
    raw: bytes('x'),
    contentType: 'text/plain',
    attempt: 1,
    publishedAt: new Date(0),
    metadata: {},
    signal: new AbortController().signal,
    reply: async () => {
      throw new CarrierError('INVALID_ARGUMENT', 'not a request');
    },
    as: (token: NativeToken<unknown>) => {
      throw new CarrierError('UNSUPPORTED', `no native ${token}`);
    },
    ...over,
  };
}

describe('parseRoutes', () => {
  it('accepts names and FROM:TO renames', () => {
    expect(parseRoutes(['a', 'b:c', { from: 'd', to: 'e' }])).toEqual([
      { from: 'a', to: 'a' },
      { from: 'b', to: 'c' },
      { from: 'd', to: 'e' },
    ]);
  });
  it('rejects empty lists, bad names, repeats and extra colons', () => {
    expect(() => parseRoutes([])).toThrow(/at least one topic/);
    expect(() => parseRoutes(['a:b:c'])).toThrow(/FROM:TO/);
    expect(() => parseRoutes(['a', 'a:b'])).toThrow(/listed twice/);
    expect(() => parseRoutes(['bad name'])).toThrow(CarrierError);
    expect(() => parseRoutes(['a:'])).toThrow(CarrierError);
  });
});

describe('republishProblem', () => {
  it('passes portable messages', () => {
    expect(republishProblem(message({ headers: { a: '1' }, key: 'k' }), 100)).toBeUndefined();
  });
  it('names non-portable headers, reserved keys, bad values, long ids and sizes', () => {
    expect(republishProblem(message({ headers: { 'a\0b': '1' } }), 100)).toMatch(/contains CR, LF or NUL/);
    expect(republishProblem(message({ headers: { traceparent: '1' } }), 100)).toMatch(/reserved/);
    expect(republishProblem(message({ metadata: { traceparent: 'x' } }), 100)).toMatch(/traceparent/);
    expect(republishProblem(message({ headers: { 'Carrier-id': '1' } }), 100)).toMatch(/reserved prefix/);
    expect(republishProblem(message({ headers: { a: 'x\ny' } }), 100)).toMatch(/CR, LF or NUL/);
    expect(republishProblem(message({ id: 'i'.repeat(129) }), 100)).toMatch(/129 characters/);
    expect(republishProblem(message({ raw: new Uint8Array(101) }), 100)).toMatch(/101 bytes exceeds/);
  });
});

describe('Forwarder', () => {
  it('batches concurrent sends and settles each by its own confirmation', async () => {
    const calls: string[][] = [];
    const forwarder = new Forwarder(
      {
        publishBatch: async (_topic, entries) => {
          const ids = entries.map((e) => String(e.id));
          calls.push(ids);
          const failed = ids.flatMap((id, index) =>
            id.startsWith('bad') ? [{ index, id, error: new Error('nack') }] : [],
          );
          if (failed.length > 0)
            throw new CarrierError('PUBLISH_FAILED', 'some failed', { failures: failed });
          return ids.map((id) => ({ id }));
        },
      },
      3,
    );
    const results = await Promise.allSettled(
      ['a', 'bad1', 'b', 'c', 'd'].map((id) => forwarder.send('t', { body: bytes(id), id })),
    );
    expect(calls).toEqual([
      ['a', 'bad1', 'b'],
      ['c', 'd'],
    ]);
    expect(results.map((r) => r.status)).toEqual([
      'fulfilled',
      'rejected',
      'fulfilled',
      'fulfilled',
      'fulfilled',
    ]);
  });

  it('splits a batch the target refuses as a whole, so only the refused message fails', async () => {
    const forwarder = new Forwarder(
      {
        publishBatch: async (_topic, entries) => {
          if (entries.some((e) => e.id === 'huge')) throw new CarrierError('MESSAGE_TOO_LARGE', 'too large');
          return entries.map((e) => ({ id: String(e.id) }));
        },
      },
      10,
    );
    const results = await Promise.allSettled(
      ['a', 'huge', 'b'].map((id) => forwarder.send('t', { body: bytes(id), id })),
    );
    expect(results.map((r) => r.status)).toEqual(['fulfilled', 'rejected', 'fulfilled']);
  });

  it('rejects every send of a batch that failed as a whole (target down)', async () => {
    const forwarder = new Forwarder(
      {
        publishBatch: async () => {
          throw new CarrierError('CONNECTION', 'down');
        },
      },
      10,
    );
    const results = await Promise.allSettled(
      ['a', 'b'].map((id) => forwarder.send('t', { body: bytes(id), id })),
    );
    expect(results.every((r) => r.status === 'rejected')).toBe(true);
  });
});

describe('ProgressMeter', () => {
  it('counts per route and measures rates and lag', () => {
    let now = 1_000;
    const meter = new ProgressMeter([{ from: 'a', to: 'b' }], () => now);
    meter.begin();
    now = 1_500;
    meter.moved('a', new Date(400));
    meter.end();
    meter.deadLettered('a');
    now = 2_000;
    const p = meter.snapshot('running', true);
    expect(p).toMatchObject({
      moved: 1,
      deadLettered: 1,
      inFlight: 0,
      rate: 1,
      averageRate: 1,
      lagMs: 1_100,
    });
    expect(p.topics).toEqual([{ from: 'a', to: 'b', moved: 1, deadLettered: 1 }]);
    now = 3_000;
    expect(meter.snapshot('running', true).rate).toBe(0);
  });
});

describe('compareSides', () => {
  const seen = (entries: Array<[string, number, string, number]>) =>
    new Map(entries.map(([id, count, digest, publishedAt]) => [id, { count, digest, publishedAt }]));
  it('reports missing, duplicates, mismatches and unexpected ids within the window', () => {
    const source = seen([
      ['a', 1, 'x', 10],
      ['b', 2, 'x', 10],
      ['c', 1, 'x', 10],
      ['old', 1, 'x', 1],
      ['d', 1, 'x', 10],
    ]);
    const target = seen([
      ['a', 1, 'x', 20],
      ['b', 3, 'x', 20],
      ['d', 1, 'y', 20],
      ['old', 2, 'x', 20],
      ['z', 1, 'x', 20],
    ]);
    const report = compareSides({ from: 's', to: 't' }, source, target, { since: new Date(5) });
    expect(report).toEqual({
      from: 's',
      to: 't',
      source: { ids: 4, deliveries: 5, outsideWindow: 1 },
      target: { ids: 5, deliveries: 8 },
      missing: ['c'],
      duplicates: { source: [{ id: 'b', count: 2 }], target: [{ id: 'b', count: 3 }] },
      mismatched: ['d'],
      unexpected: ['z'],
    });
  });
});

describe('messageDigest', () => {
  it('changes with any byte, key, header or content type, not with header order', () => {
    const base = { contentType: 'a/b', key: 'k', headers: { x: '1', y: '2' }, raw: bytes('body') };
    const d = messageDigest(base);
    expect(messageDigest({ ...base, headers: { y: '2', x: '1' } })).toBe(d);
    expect(messageDigest({ ...base, raw: bytes('bodz') })).not.toBe(d);
    expect(messageDigest({ ...base, key: undefined })).not.toBe(d);
    expect(messageDigest({ ...base, key: '' })).not.toBe(messageDigest({ ...base, key: undefined }));
    expect(messageDigest({ ...base, headers: { x: '1' } })).not.toBe(d);
    expect(messageDigest({ ...base, contentType: 'a/c' })).not.toBe(d);
    expect(messageDigest({ ...base, metadata: {} })).toBe(d);
    expect(messageDigest({ ...base, metadata: { correlationId: 'c' } })).not.toBe(d);
    expect(messageDigest({ ...base, metadata: { extra: { f: 'c' } } })).not.toBe(
      messageDigest({ ...base, metadata: { extra: { f: 'd' } } }),
    );
  });

  it('does not change with the trace context: a copy that gained one (telemetry on the target) is the same message', () => {
    const base = {
      contentType: 'a/b',
      key: 'k',
      headers: {},
      raw: bytes('body'),
      metadata: { correlationId: 'c' },
    };
    const traced = {
      ...base,
      metadata: {
        correlationId: 'c',
        traceparent: '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01',
        tracestate: 'vendor=value',
      },
    };
    expect(messageDigest(traced)).toBe(messageDigest(base));
    expect(messageDigest({ ...traced, metadata: { ...traced.metadata, correlationId: 'd' } })).not.toBe(
      messageDigest(base),
    );
  });
});
