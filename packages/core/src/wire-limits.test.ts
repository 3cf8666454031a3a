import { describe, expect, it } from 'vitest';
import { Carrier } from './carrier.js';
import { CarrierError } from './errors.js';
import { FakeTransport } from './testing/fake-transport.js';

async function codeOf(promise: Promise<unknown>): Promise<string | undefined> {
  try {
    await promise;
  } catch (e) {
    return e instanceof CarrierError ? e.code : `not a CarrierError: ${String(e)}`;
  }
  return undefined;
}

const TP = '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01';

describe('publish metadata', () => {
  it('hands the transport validated metadata apart from the headers; none when not given', async () => {
    const transport = new FakeTransport();
    const carrier = new Carrier(transport, () => {});
    const deadline = new Date('2030-01-01T00:00:00Z');
    await carrier.publish('t', 'x', {
      headers: { h: 'v' },
      metadata: { traceparent: TP, deadline, replyTo: undefined },
    });
    await carrier.publish('t', 'y');
    const [withMeta, without] = transport.published.map((p) => p.messages[0]!);
    expect(withMeta!.metadata).toEqual({ traceparent: TP, deadline });
    expect(withMeta!.metadata!.deadline).not.toBe(deadline); // a copy: the caller's Date may change later
    expect(withMeta!.headers).toEqual({ h: 'v' });
    expect(without!.metadata).toBeUndefined();
  });

  it('refuses invalid metadata with INVALID_ARGUMENT and sends nothing of the batch', async () => {
    const transport = new FakeTransport();
    const carrier = new Carrier(transport, () => {});
    const bad = { body: 'x', metadata: { traceparent: 'not-a-trace' } };
    expect(await codeOf(carrier.publishBatch('t', [{ body: 'ok' }, bad]))).toBe('INVALID_ARGUMENT');
    expect(transport.published).toHaveLength(0);
  });

  it('counts the metadata into the message size', async () => {
    const transport = new FakeTransport();
    transport.capabilities = { ...transport.capabilities, maxMessageBytes: 100 };
    const carrier = new Carrier(transport, () => {});
    expect(await codeOf(carrier.publish('t', 'x', { metadata: { schemaId: 's'.repeat(100) } }))).toBe(
      'MESSAGE_TOO_LARGE',
    );
  });
});

describe('header limits from capabilities', () => {
  const headers = (n: number) => Object.fromEntries(Array.from({ length: n }, (_, i) => [`k${i}`, 'v']));

  it('refuses more headers than maxHeaders (INVALID_ARGUMENT) and more bytes than maxHeaderBytes (MESSAGE_TOO_LARGE)', async () => {
    const transport = new FakeTransport();
    transport.capabilities = { ...transport.capabilities, maxHeaders: 3, maxHeaderBytes: 20 };
    const carrier = new Carrier(transport, () => {});
    await carrier.publish('t', 'x', { headers: headers(3) });
    await carrier.publish('t', 'x', { headers: { a: 'b'.repeat(19) } });
    expect(await codeOf(carrier.publish('t', 'x', { headers: headers(4) }))).toBe('INVALID_ARGUMENT');
    expect(await codeOf(carrier.publish('t', 'x', { headers: { a: 'b'.repeat(20) } }))).toBe(
      'MESSAGE_TOO_LARGE',
    );
    expect(
      await codeOf(
        carrier.publish('t', 'x', { headers: { a: 'b' }, metadata: { schemaId: 's'.repeat(10) } }),
      ),
    ).toBe('MESSAGE_TOO_LARGE');
    expect(transport.published).toHaveLength(2);
  });

  it('bounds nothing when capabilities state no header limit', async () => {
    const transport = new FakeTransport();
    const carrier = new Carrier(transport, () => {});
    transport.capabilities = { ...transport.capabilities, maxMessageBytes: 1_000_000 };
    await carrier.publish('t', 'x', { headers: headers(2_000) });
    expect(transport.published).toHaveLength(1);
  });
});
