import {
  type BatchEntry,
  type DeadLetter,
  type Message,
  type MessageMetadata,
  NonRetryableError,
  type Transport,
  type TransportFactory,
} from '@carrier/core';
import { expect } from 'vitest';
import type { ContractCase } from '../case.js';
import { expectCode } from '../expect-code.js';
import { freshName } from '../support.js';

const theme = 'wire: metadata and header keys';

/** Every metadata field, and an `extra` field as a newer producer would write it. */
export const FULL_METADATA: MessageMetadata = {
  correlationId: 'request 42 ☺',
  replyTo: 'replies.client-7',
  deadline: new Date('2031-02-03T04:05:06.789Z'),
  schemaId: 'urn:schema:orders/v2',
  traceparent: '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01',
  tracestate: 'rojo=00f067aa0ba902b7,congo=t61rcWkgMzE',
  extra: { 'from-the-future': ' kept as it is ', priority: 'high' },
};

function printable(from: number, to: number): string {
  let s = '';
  for (let c = from; c < to; c++)
    if (!/[A-Za-z0-9]/.test(String.fromCharCode(c))) s += String.fromCharCode(c);
  return s;
}

/**
 * Header keys of every class the portable grammar accepts: Go CDK's driver conformance strings
 * (`escape.WeirdStrings`, its metadata test sends each as key and value; ASCII 0–31 without CR, LF
 * and NUL, which Carrier refuses), plus keys that some broker owns or that need escaping there.
 */
export const PORTABLE_HEADER_KEYS: readonly string[] = [
  'foo/bar/baz',
  'foo//bar///baz',
  '../foo/../bar/../../baz../',
  'foo\\bar\\baz',
  '..\\foo\\\\bar\\\\\\baz',
  '..\\foo\\..\\bar\\..\\..\\baz..\\',
  'foo"bar"baz',
  'foo bar baz',
  '☺☺☺',
  printable(0, 32).replace(/[\r\n\0]/g, ''),
  printable(32, 64),
  printable(64, 96),
  printable(96, 128),
  ' leading and trailing ',
  'Nats-Looks-Like-The-Server',
  'x-death',
  'x-delivery-count',
  'MiXeD',
  'mixed',
  'a,b%41:c',
  'Carrier',
  'k'.repeat(255),
  'é'.repeat(127),
];

export const metadataRoundTrip: ContractCase = {
  name: 'metadata round-trips through publish, retry and consume, unknown extra fields included',
  theme,
  async run({ carrier, until }) {
    const c = await carrier();
    const topic = freshName('meta');
    const got: Message[] = [];
    const retry = { maxAttempts: 3, initialDelayMs: 200, maxDelayMs: 200 };
    // FULL_METADATA names a reply address, so the message is a request: retried only on request
    await c.subscribe(topic, { group: 'g', retry, retryRequests: true }, (m) => {
      got.push(m);
      if (m.id === 'with-metadata' && m.attempt === 1) throw new Error('once more');
    });
    await c.publish(topic, 'x', { id: 'with-metadata', headers: { h: 'v' }, metadata: FULL_METADATA });
    await c.publish(topic, 'y', { id: 'without-metadata' });
    await c.publish(topic, 'z', { id: 'trace-only', metadata: { traceparent: FULL_METADATA.traceparent } });
    await until(() => got.filter((m) => m.id !== 'with-metadata').length === 2, 'the messages');
    await until(() => got.some((m) => m.id === 'with-metadata' && m.attempt === 2), 'the retried message');
    for (const m of got.filter((g) => g.id === 'with-metadata')) {
      expect(m.metadata, `attempt ${m.attempt}`).toEqual(FULL_METADATA);
      expect(m.headers, 'metadata never appears among headers').toEqual({ h: 'v' });
      expect(Object.isFrozen(m.metadata)).toBe(true);
    }
    expect(got.find((m) => m.id === 'without-metadata')!.metadata).toEqual({});
    expect(got.find((m) => m.id === 'trace-only')!.metadata).toEqual({
      traceparent: FULL_METADATA.traceparent,
    });
  },
};

export const metadataThroughDeadLetters: ContractCase = {
  name: 'metadata survives dead-lettering and redrive, unknown extra fields included',
  theme,
  needs: ['redrive'],
  async run({ carrier, until }) {
    const c = await carrier();
    const topic = freshName('meta-dl');
    const failing = await c.subscribe(topic, { group: 'g' }, () => {
      throw new NonRetryableError('to the dead letters');
    });
    const { id } = await c.publish(topic, 'x', { metadata: FULL_METADATA });
    const letters: DeadLetter[] = [];
    const reader = await c.deadLetters(topic, 'g').subscribe((l) => {
      letters.push(l);
      throw new Error('keep it');
    });
    await until(() => letters.some((l) => l.message.id === id), 'the dead letter');
    expect(letters.find((l) => l.message.id === id)!.message.metadata).toEqual(FULL_METADATA);
    await reader.close();
    await failing.close();
    const redriven: Message[] = [];
    await c.subscribe(topic, { group: 'g' }, (m) => {
      redriven.push(m);
    });
    expect(await c.deadLetters(topic, 'g').redrive()).toBe(1);
    await until(() => redriven.some((m) => m.id === id), 'the redriven message');
    expect(redriven.find((m) => m.id === id)!.metadata).toEqual(FULL_METADATA);
  },
};

export const headerKeysRoundTrip: ContractCase = {
  name: "header keys of every portable class (Go CDK's metadata strings) round-trip byte for byte",
  theme,
  async run({ carrier, until }) {
    const c = await carrier();
    const topic = freshName('hdr-keys');
    const got: Message[] = [];
    await c.subscribe(topic, { group: 'g' }, (m) => {
      got.push(m);
    });
    const all = Object.fromEntries(PORTABLE_HEADER_KEYS.map((k) => [k, k]));
    const entries: BatchEntry[] = [{ id: 'all', body: 'all', headers: all }];
    // each key alone too: a broker may carry a key differently alone than among others (SQS sends a
    // valid attribute name as its own attribute, and all of them in one JSON attribute otherwise)
    for (const [i, k] of PORTABLE_HEADER_KEYS.entries())
      entries.push({ id: `one-${i}`, body: 'one', headers: { [k]: k } });
    await c.publishBatch(topic, entries);
    await until(() => new Set(got.map((m) => m.id)).size === entries.length, 'every message');
    for (const entry of entries) {
      const received = got.find((m) => m.id === entry.id)!.headers;
      expect(JSON.stringify(Object.entries(received).sort()), entry.id!).toBe(
        JSON.stringify(Object.entries(entry.headers!).sort()),
      );
    }
  },
};

/** `factory` with every `publish` counted into `calls`. */
function countingPublishes(factory: TransportFactory, calls: { n: number }): TransportFactory {
  return async (url, options) => {
    const transport = await factory(url, options);
    return new Proxy(transport, {
      get(target, prop) {
        if (prop === 'publish') {
          return (...args: Parameters<Transport['publish']>) => {
            calls.n++;
            return target.publish(...args);
          };
        }
        const value: unknown = Reflect.get(target, prop, target);
        return typeof value === 'function' ? value.bind(target) : value;
      },
    });
  };
}

export const wireRefusals: ContractCase = {
  name: 'header keys and metadata outside the grammar are refused with INVALID_ARGUMENT before the broker',
  theme,
  needs: ['url'],
  async run({ carrierWrapped }) {
    const calls = { n: 0 };
    const c = await carrierWrapped((f) => countingPublishes(f, calls));
    const topic = freshName('wire-bad');
    const badKeys = ['', 'a\rb', 'a\nb', 'a\0b', 'k\ud800', 'k'.repeat(256), 'é'.repeat(128)];
    badKeys.push('carrier-id', 'Carrier-Meta-Priority', 'traceparent', 'TraceState');
    for (const key of badKeys) {
      await expectCode(c.publish(topic, 'x', { headers: { [key]: 'v' } }), 'INVALID_ARGUMENT');
    }
    const badMetadata: unknown[] = [
      { correlationId: '' },
      { replyTo: 'a\nb' },
      { schemaId: 'a\ud800' },
      { deadline: new Date(Number.NaN) },
      { traceparent: '00-00000000000000000000000000000000-00f067aa0ba902b7-01' },
      { traceparent: FULL_METADATA.traceparent, tracestate: 'Not Valid' },
      { extra: { 'correlation-id': 'x' } },
      { extra: { UPPER: 'x' } },
    ];
    for (const metadata of badMetadata) {
      await expectCode(
        c.publishBatch(topic, [{ body: 'ok' }, { body: 'x', metadata: metadata as MessageMetadata }]),
        'INVALID_ARGUMENT',
      );
    }
    expect(calls.n, 'publishes that reached the transport').toBe(0);
  },
};

function numbered(count: number): Record<string, string> {
  return Object.fromEntries(Array.from({ length: count }, (_, i) => [`h${i}`, 'v']));
}

export const headerLimits: ContractCase = {
  name: 'the header count and size limits stated in capabilities are enforced, and messages at them arrive',
  theme,
  async run({ carrier, until, skip }) {
    const c = await carrier();
    const { maxHeaders, maxHeaderBytes } = c.capabilities;
    skip(
      maxHeaders === undefined && maxHeaderBytes === undefined,
      'the transport states no header limit of its own (maxMessageBytes bounds headers)',
    );
    const topic = freshName('hdr-limits');
    const got: Message[] = [];
    await c.subscribe(topic, { group: 'g' }, (m) => {
      got.push(m);
    });
    const sent: Array<{ id: string; headers: Record<string, string> }> = [];
    if (maxHeaders !== undefined) {
      sent.push({ id: 'max-count', headers: numbered(maxHeaders) });
      await expectCode(c.publish(topic, 'x', { headers: numbered(maxHeaders + 1) }), 'INVALID_ARGUMENT');
    }
    if (maxHeaderBytes !== undefined) {
      // 4 headers `a`…`d` whose keys and values add up to exactly maxHeaderBytes
      const value = (n: number) =>
        'x'.repeat(Math.floor((maxHeaderBytes - 4) / 4) + (n < (maxHeaderBytes - 4) % 4 ? 1 : 0));
      const headers = Object.fromEntries(['a', 'b', 'c', 'd'].map((k, n) => [k, value(n)]));
      sent.push({ id: 'max-bytes', headers });
      await expectCode(
        c.publish(topic, 'x', { headers: { ...headers, d: `${headers.d}x` } }),
        'MESSAGE_TOO_LARGE',
      );
    }
    for (const s of sent) await c.publish(topic, 'at the limit', { id: s.id, headers: s.headers });
    await until(() => sent.every((s) => got.some((m) => m.id === s.id)), 'the messages at the limits');
    for (const s of sent) expect(got.find((m) => m.id === s.id)!.headers, s.id).toEqual(s.headers);
    expect(got.map((m) => m.id).sort()).toEqual(sent.map((s) => s.id).sort());
  },
};
