import type { Capabilities, Message } from '@carrier/core';
import { expect } from 'vitest';
import type { ContractCase } from '../case.js';
import { BINARY, expectCode } from '../expect-code.js';
import { freshName } from '../support.js';

const theme = 'capabilities and messages';

export const declaresCapabilities: ContractCase = {
  name: 'declares the expected capabilities',
  theme,
  async run({ carrier, options }) {
    const c = await carrier();
    const caps = c.capabilities;
    expect(caps.maxMessageBytes).toBeGreaterThan(0);
    expect(caps.maxDelayMs).toBeGreaterThan(0);
    const maxPublishDelayMs = caps.maxPublishDelayMs ?? 0;
    expect(maxPublishDelayMs).toBeGreaterThanOrEqual(0);
    expect(caps.maxNativePublishDelayMs ?? 0).toBeGreaterThanOrEqual(0);
    expect(caps.maxNativePublishDelayMs ?? 0).toBeLessThanOrEqual(maxPublishDelayMs);
    expect(caps.publishDelayPrecisionMs ?? 0).toBeGreaterThanOrEqual(0);
    for (const [field, value] of Object.entries(options.capabilities ?? {})) {
      expect(caps[field as keyof Capabilities], `capability ${field}`).toBe(value);
    }
  },
};

export const roundTrip: ContractCase = {
  name: 'round-trips binary, text and JSON bodies with key, id and unicode headers',
  theme,
  async run({ carrier, until }) {
    const c = await carrier();
    const topic = freshName('rt');
    const got: Message[] = [];
    await c.subscribe(topic, { group: 'g' }, (m) => {
      got.push(m);
    });
    const headers = { tenant: 'acme', note: 'naïve café ✓ 日本語 🚀', empty: '' };
    const before = Date.now();
    await c.publish(topic, BINARY, { key: 'customer-7', headers, id: 'bin-1' });
    await c.publish(topic, 'grüße 🌍', { key: 'customer-7', id: 'text-1' });
    await c.publish(
      topic,
      { id: 42, nested: { list: [1, 'two', null] }, future: 'unknown-field' },
      { id: 'json-1' },
    );
    await until(() => got.length >= 3, '3 messages');
    const byId = new Map(got.map((m) => [m.id, m]));
    const bin = byId.get('bin-1')!;
    expect(bin.topic).toBe(topic);
    expect(bin.key).toBe('customer-7');
    expect(bin.headers).toEqual(headers);
    expect(bin.attempt).toBe(1);
    expect(Buffer.from(bin.raw).equals(Buffer.from(BINARY))).toBe(true);
    expect(bin.body).toBeInstanceOf(Uint8Array);
    expect(Buffer.from(bin.body as Uint8Array).equals(Buffer.from(BINARY))).toBe(true);
    expect(bin.contentType).toBe('application/octet-stream');
    expect(bin.publishedAt).toBeInstanceOf(Date);
    expect(bin.publishedAt.getTime()).toBeGreaterThanOrEqual(before - 1_000);
    expect(byId.get('text-1')!.body).toBe('grüße 🌍');
    expect(byId.get('text-1')!.headers).toEqual({});
    const json = byId.get('json-1')!;
    expect(json.body).toEqual({ id: 42, nested: { list: [1, 'two', null] }, future: 'unknown-field' });
    expect(json.key).toBeUndefined();
    expect(new TextDecoder().decode(json.raw)).toBe(JSON.stringify(json.body));
  },
};

export const forwardsRaw: ContractCase = {
  name: 'forwarding raw bytes with content type and headers reproduces the message byte for byte',
  theme,
  async run({ carrier, until }) {
    const c = await carrier();
    const source = freshName('fwd-src');
    const target = freshName('fwd-dst');
    const forwarded: Message[] = [];
    await c.subscribe(target, { group: 'g' }, (m) => {
      forwarded.push(m);
    });
    await c.subscribe(source, { group: 'g' }, async (m) => {
      await c.publish(target, m.raw, {
        key: m.key,
        headers: m.headers,
        id: m.id,
        contentType: m.contentType,
      });
    });
    const original = '{"id":1,"addedByNewerProducer":{"deep":[1,2]},"z":"ü"}';
    await c.publish(source, new TextEncoder().encode(original), {
      contentType: 'application/json',
      headers: { v: '2' },
    });
    await until(() => forwarded.length >= 1, 'forwarded message');
    expect(new TextDecoder().decode(forwarded[0]!.raw)).toBe(original);
    expect(forwarded[0]!.body).toEqual(JSON.parse(original));
    expect(forwarded[0]!.headers).toEqual({ v: '2' });
  },
};

export const publishBatch: ContractCase = {
  name: 'publishBatch delivers every message of the batch',
  theme,
  async run({ carrier, until }) {
    const c = await carrier();
    const topic = freshName('batch');
    const got = new Set<string>();
    await c.subscribe(topic, { group: 'g', concurrency: 4 }, (m) => {
      got.add(m.id);
    });
    const receipts = await c.publishBatch(
      topic,
      Array.from({ length: 25 }, (_, i) => ({ body: { i }, key: `k${i % 5}`, headers: { n: String(i) } })),
    );
    expect(receipts).toHaveLength(25);
    await until(() => got.size >= 25, '25 batch messages');
    expect([...got].sort()).toEqual(receipts.map((r) => r.id).sort());
  },
};

/** Header values with every control character the portable grammar allows (all but CR, LF, NUL). */
const CONTROL_VALUES: Readonly<Record<string, string>> = {
  c0: Array.from({ length: 32 }, (_, i) => String.fromCharCode(i))
    .filter((ch) => !'\r\n\0'.includes(ch))
    .join(''),
  tab: 'a\tb',
  del: 'x\x7fy',
  c1: '\u0080\u0085\u009f',
  separators: 'line\u2028para\u2029end',
  bidi: '\u202eevil\u202c',
  bom: '\ufeffzero\u200bwidth',
  esc: '\x1b[31mred\x1b[0m',
  padded: '  spaces around  ',
};

export const headerControlCharacters: ContractCase = {
  name: 'header values with control characters round-trip unchanged',
  theme,
  async run({ carrier, until }) {
    const c = await carrier();
    const topic = freshName('hdr-ctl');
    const got: Message[] = [];
    await c.subscribe(topic, { group: 'g' }, (m) => {
      got.push(m);
    });
    const { id } = await c.publish(topic, 'ctl', { headers: CONTROL_VALUES });
    await until(() => got.some((m) => m.id === id), 'the message');
    const received = got.find((m) => m.id === id)!.headers;
    for (const [key, value] of Object.entries(CONTROL_VALUES)) {
      expect(JSON.stringify(received[key]), `header ${key}`).toBe(JSON.stringify(value));
    }
    expect(Object.keys(received).sort()).toEqual(Object.keys(CONTROL_VALUES).sort());
  },
};

export const headerRefusals: ContractCase = {
  name: 'header values with CR, LF, NUL or a lone surrogate are refused with INVALID_ARGUMENT',
  theme,
  async run({ carrier, until }) {
    const c = await carrier();
    const topic = freshName('hdr-bad');
    const got: Message[] = [];
    await c.subscribe(topic, { group: 'g' }, (m) => {
      got.push(m);
    });
    const bad = [
      'a\rb',
      'a\nb',
      'a\0b',
      'a\r\nInjected: yes',
      'lone \ud800 high',
      'lone \udc00 low',
      '\ud83d',
    ];
    for (const value of bad) {
      await expectCode(c.publish(topic, 'x', { headers: { h: value } }), 'INVALID_ARGUMENT');
      await expectCode(
        c.publishBatch(topic, [{ body: 'ok' }, { body: 'x', headers: { h: value } }]),
        'INVALID_ARGUMENT',
      );
    }
    await expectCode(c.publish(topic, 'x', { headers: { 'k\ud800': 'v' } }), 'INVALID_ARGUMENT');
    // Nothing of a refused publish or batch was sent: only the sentinel arrives.
    const { id } = await c.publish(topic, 'sentinel');
    await until(() => got.some((m) => m.id === id), 'the sentinel');
    expect(got.map((m) => m.body)).toEqual(['sentinel']);
  },
};
