import { describe, expect, it } from 'vitest';
import { Carrier } from './carrier.js';
import { connect, loadAdapter } from './connect.js';
import { CarrierError } from './errors.js';
import { redactUrl } from './redact.js';
import { FakeTransport } from './testing/fake-transport.js';

async function codeOf(promise: Promise<unknown>): Promise<string | undefined> {
  try {
    await promise;
  } catch (e) {
    return e instanceof CarrierError ? e.code : `not a CarrierError: ${String(e)}`;
  }
  return undefined;
}

describe('publish', () => {
  it('hands the transport wire messages with id, key, headers and content type', async () => {
    const transport = new FakeTransport();
    const carrier = new Carrier(transport, () => {});
    const [receipt] = await carrier.publishBatch('t', [{ body: { a: 1 }, key: 'k', headers: { h: 'v' } }]);
    const wire = transport.published[0]!.messages[0]!;
    expect(wire.id).toBe(receipt!.id);
    expect(wire.key).toBe('k');
    expect(wire.headers).toEqual({ h: 'v' });
    expect(wire.contentType).toBe('application/json');
    expect(new TextDecoder().decode(wire.body)).toBe('{"a":1}');
  });

  it('rejects an oversized message, and a batch with one bad entry, before sending anything', async () => {
    const transport = new FakeTransport();
    const carrier = new Carrier(transport, () => {});
    expect(await codeOf(carrier.publish('t', new Uint8Array(1001)))).toBe('MESSAGE_TOO_LARGE');
    expect(
      await codeOf(carrier.publishBatch('t', [{ body: 'ok' }, { body: 'x', headers: { 'bad key': 'v' } }])),
    ).toBe('INVALID_ARGUMENT');
    expect(transport.published).toEqual([]);
  });

  it('rejects after close with CLOSED and closes the transport once', async () => {
    const transport = new FakeTransport();
    const carrier = new Carrier(transport, () => {});
    await carrier.close();
    await carrier.close();
    expect(await codeOf(carrier.publish('t', 'x'))).toBe('CLOSED');
    expect(transport.log.filter((l) => l === 'close')).toHaveLength(1);
  });

  it('refuses what the transport cannot do with UNSUPPORTED', async () => {
    const transport = new FakeTransport();
    transport.capabilities = {
      ...transport.capabilities,
      fanOut: false,
      perKeyOrder: false,
      maxDelayMs: 1_000,
    };
    const carrier = new Carrier(transport, () => {});
    expect(await codeOf(carrier.subscribe('t', { group: 'g', ordered: true }, () => {}))).toBe('UNSUPPORTED');
    expect(await codeOf(carrier.declare('t', ['a', 'b']))).toBe('UNSUPPORTED');
    expect(
      await codeOf(
        carrier.subscribe(
          't',
          { group: 'g', retry: { initialDelayMs: 800, maxDelayMs: 5_000, maxAttempts: 3 } },
          () => {},
        ),
      ),
    ).toBe('UNSUPPORTED');
    expect(transport.log).toEqual([]);
  });
});

describe('connect', () => {
  it('names the package to install when an adapter is missing', async () => {
    const error = await loadAdapter('@carrier/adapter-does-not-exist', 'nope:').catch((e: unknown) => e);
    expect(error).toBeInstanceOf(CarrierError);
    expect((error as CarrierError).code).toBe('UNSUPPORTED');
    expect((error as CarrierError).message).toContain('npm install @carrier/adapter-does-not-exist');
  });

  it('rejects unknown schemes with UNSUPPORTED', async () => {
    expect(await codeOf(connect('ftp://host/x'))).toBe('UNSUPPORTED');
  });

  it('never shows credentials in connection errors or reported errors', async () => {
    const reported: Error[] = [];
    const error = await connect('amqp://alice:s3cr3t-pw@127.0.0.1:1/vh?token=tok-123', {
      onError: (e) => reported.push(e),
      transport: async (url, { onError }) => {
        onError(
          new Error(`lost amqp://alice:${url.password}@127.0.0.1:1 token ${url.searchParams.get('token')}`),
        );
        throw new Error(`ECONNREFUSED amqp://alice:${url.password}@127.0.0.1:1`);
      },
    }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(CarrierError);
    const texts = [
      String(error),
      (error as Error).message,
      String((error as Error).cause),
      ...reported.map(String),
    ];
    for (const text of texts) {
      expect(text).not.toContain('s3cr3t-pw');
      expect(text).not.toContain('tok-123');
    }
    expect((error as CarrierError).code).toBe('CONNECTION');
    expect(redactUrl('kafka://u:p4ss@h:1?sasl.password=x&clientId=c')).toBe(
      'kafka://u:***@h:1?sasl.password=***&clientId=c',
    );
  });
});

describe('parseCarrierUrl', () => {
  it('moves extra host:port pairs of the authority to ?hosts=', async () => {
    const { parseCarrierUrl } = await import('./connect.js');
    expect(parseCarrierUrl('kafka://h1:9092,h2:9093,h3:9094').toString()).toBe(
      'kafka://h1:9092/?hosts=h2%3A9093%2Ch3%3A9094',
    );
    const withQuery = parseCarrierUrl('nats://u:p@a:4222,b:4223?name=x');
    expect(withQuery.host).toBe('a:4222');
    expect(withQuery.password).toBe('p');
    expect(withQuery.searchParams.get('name')).toBe('x');
    expect(withQuery.searchParams.get('hosts')).toBe('b:4223');
    expect(parseCarrierUrl('memory://').protocol).toBe('memory:');
    expect(() => parseCarrierUrl('not a url with s3cret')).toThrow(/not a URL/);
  });
});
