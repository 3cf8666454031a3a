import { describe, expect, it } from 'vitest';
import { longestRetryDelay, retryDelay } from './backoff.js';
import { Carrier } from './carrier.js';
import { connect, DEFAULT_CONNECT_TIMEOUT_MS, loadAdapter } from './connect.js';
import { CarrierError } from './errors.js';
import { redactUrl } from './redact.js';
import { FakeTransport } from './testing/fake-transport.js';
import { waitFor } from './testing/wait.js';

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
      await codeOf(carrier.publishBatch('t', [{ body: 'ok' }, { body: 'x', headers: { 'bad\nkey': 'v' } }])),
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

  it('hides a token given as the user name (nats://TOKEN@host) in errors and reported errors', async () => {
    const reported: Error[] = [];
    const failing = async () => {
      throw new Error('dial nats://s3cretTOKEN@127.0.0.1:1 failed for s3cretTOKEN');
    };
    const error = await connect('nats://s3cretTOKEN@127.0.0.1:1', {
      transport: failing,
      onError: (e) => reported.push(e),
    }).catch((e: unknown) => e);
    expect((error as CarrierError).code).toBe('CONNECTION');
    expect(String(error)).not.toContain('s3cretTOKEN');
    expect((error as Error).message).not.toContain('s3cretTOKEN');
    expect(redactUrl('nats://s3cretTOKEN@h:4222')).toBe('nats://***@h:4222');
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

describe('a password the URL parser misreads', () => {
  it('refuses malformed percent-encoding, a fragment or an option name with @ as INVALID_ARGUMENT without quoting the URL', async () => {
    const { parseCarrierUrl } = await import('./connect.js');
    for (const text of [
      'kafka://u:50%pw@127.0.0.1:1',
      'amqp://u:%zzpw@127.0.0.1:1',
      'kafka://u:12#pw@127.0.0.1:1',
      'nats://127.0.0.1:1?token=ab#pw',
      'kafka://u:12?pw@127.0.0.1:1',
    ]) {
      const error = await connect(text).catch((e: unknown) => e);
      expect(error, text).toBeInstanceOf(CarrierError);
      expect((error as CarrierError).code, text).toBe('INVALID_ARGUMENT');
      expect((error as Error).message, text).toMatch(/percent-encode/);
      expect((error as Error).message, text).not.toContain('pw');
      expect(() => parseCarrierUrl(text), text).toThrow(CarrierError);
    }
    const unparseable = await connect('kafka://u:p/pw@127.0.0.1:1').catch((e: unknown) => e);
    expect((unparseable as CarrierError).code).toBe('INVALID_ARGUMENT');
    expect((unparseable as Error).message).toMatch(/not a URL.*percent-encode/);
    expect((unparseable as Error).message).not.toContain('pw');
    expect(parseCarrierUrl('kafka://u:50%25pw@h:1').password).toBe('50%25pw');
    expect(parseCarrierUrl('nats://h:1?token=a@b').searchParams.get('token')).toBe('a@b');
  });

  it('redacts everything after the host when an @ follows the authority (a password holding an unencoded /)', () => {
    expect(redactUrl('kafka://u:12/s3cret@127.0.0.1:1')).toBe('kafka://u:12/***');
    expect(redactUrl('amqp://h:5672/vhost')).toBe('amqp://h:5672/vhost');
  });

  it('redacts everything after the host when a password holding an unencoded ? and = became an option, also once the query was rebuilt (%40)', () => {
    for (const text of [
      'amqp://user:12?pw=SECRETX@127.0.0.1:1/',
      'amqp://user:12?pw=SECRETX%40127.0.0.1%3A1%2F&heartbeat=15',
      'kafka://user:12?clientId=SECRETX%40127.0.0.1%3A1',
    ]) {
      const printed = redactUrl(text);
      expect(printed, text).not.toContain('SECRETX');
      expect(printed, text).toMatch(/^[a-z]+:\/\/user:12\/\*\*\*$/);
    }
  });

  it('names file options (keyFile, nkeySeedFile, tlsKey) in clear: a path is no secret', () => {
    expect(redactUrl('kafkas://h:1?keyFile=/k.pem&nkeySeedFile=/s.nk&tlsKey=/t.key&token=tok')).toBe(
      'kafkas://h:1?keyFile=%2Fk.pem&nkeySeedFile=%2Fs.nk&tlsKey=%2Ft.key&token=***',
    );
  });
});

describe('input that brokers would change', () => {
  it('refuses header values, header keys, keys and ids that are not well-formed Unicode, before sending', async () => {
    const carrier = await connect('memory://well-formed');
    const received: string[] = [];
    await carrier.subscribe('t', { group: 'g' }, (m) => {
      received.push(m.id);
    });
    expect(await codeOf(carrier.publish('t', 'x', { headers: { h: 'a\uD800b' } }))).toBe('INVALID_ARGUMENT');
    expect(await codeOf(carrier.publish('t', 'x', { headers: { h: '\uDC00' } }))).toBe('INVALID_ARGUMENT');
    expect(await codeOf(carrier.publish('t', 'x', { headers: { 'k\uD800': 'v' } }))).toBe('INVALID_ARGUMENT');
    expect(await codeOf(carrier.publish('t', 'x', { key: 'a\uD800b' }))).toBe('INVALID_ARGUMENT');
    expect(await codeOf(carrier.publish('t', 'x', { id: 'id-\uDBFF' }))).toBe('INVALID_ARGUMENT');
    expect(
      await codeOf(carrier.publishBatch('t', [{ body: 'fine' }, { body: 'x', headers: { h: '\uD83D' } }])),
    ).toBe('INVALID_ARGUMENT');
    const { id } = await carrier.publish('t', 'ok', { key: 'kü😀', id: 'id-😀', headers: { h: 'naïve 🚀' } });
    await waitFor(() => received.length === 1);
    expect(received).toEqual([id]);
    await carrier.close();
  });

  it('refuses a contentType that is not 1 to 255 printable ASCII characters, before sending', async () => {
    const carrier = await connect('memory://content-type');
    const received: string[] = [];
    await carrier.subscribe('t', { group: 'g' }, (m) => {
      received.push(m.contentType);
    });
    for (const contentType of [
      'text/plain; x=\uD800',
      'text/plain\r\nx: y',
      'a\0b',
      '',
      'x'.repeat(256),
      'text/ü',
    ])
      expect(await codeOf(carrier.publish('t', 'x', { contentType }))).toBe('INVALID_ARGUMENT');
    expect(await codeOf(carrier.publish('t', 'x', { contentType: 42 as unknown as string }))).toBe(
      'INVALID_ARGUMENT',
    );
    await carrier.publish('t', new Uint8Array([1]), { contentType: 'application/x-thing; v="2"' });
    await waitFor(() => received.length === 1);
    expect(received).toEqual(['application/x-thing; v="2"']);
    await carrier.close();
  });
});

describe('retry delays the transport must honour', () => {
  it('is the longest delay the policy will really ask for: the last retry with dead letters, maxDelayMs without', () => {
    const policy = { maxAttempts: 3, initialDelayMs: 100, maxDelayMs: 5_000 };
    expect(longestRetryDelay(policy, true)).toBe(200); // retries after deliveries 1 and 2 only
    expect(longestRetryDelay(policy, false)).toBe(5_000); // retries forever, growing to maxDelayMs
    expect(longestRetryDelay({ ...policy, maxAttempts: 1 }, true)).toBe(0);
    expect(longestRetryDelay({ ...policy, maxAttempts: 20 }, true)).toBe(5_000);
    expect(longestRetryDelay({ ...policy, initialDelayMs: 0 }, false)).toBe(0);
    for (let attempt = 1; attempt < 60; attempt++)
      expect(retryDelay(policy, attempt, () => 1)).toBeLessThanOrEqual(longestRetryDelay(policy, false));
  });

  it('subscribe refuses with UNSUPPORTED a deadLetter: false policy whose maxDelayMs the transport cannot honour', async () => {
    const transport = new FakeTransport();
    transport.capabilities = { ...transport.capabilities, maxDelayMs: 1_000 };
    const carrier = new Carrier(transport, () => {});
    const retry = { maxAttempts: 3, initialDelayMs: 100, maxDelayMs: 5_000 };
    expect(await codeOf(carrier.subscribe('t', { group: 'a', retry }, () => {}))).toBeUndefined();
    const error = await carrier
      .subscribe('t', { group: 'b', retry, deadLetter: false }, () => {})
      .catch((e: unknown) => e);
    expect((error as CarrierError).code).toBe('UNSUPPORTED');
    expect((error as CarrierError).message).toContain('5000 ms');
    await carrier.close();
  });
});

describe('close with publishes in flight', () => {
  it('waits for publishes already in flight before closing the transport; later publishes reject CLOSED', async () => {
    const transport = new FakeTransport();
    let openGate!: () => void;
    transport.publishGate = new Promise<void>((r) => (openGate = r));
    const carrier = new Carrier(transport, () => {});
    const inFlight = [carrier.publish('t', 'a'), carrier.publishBatch('t', [{ body: 'b' }, { body: 'c' }])];
    let closed = false;
    const closing = carrier.close().then(() => (closed = true));
    expect(await codeOf(carrier.publish('t', 'late'))).toBe('CLOSED');
    await new Promise((r) => setImmediate(r));
    expect(closed).toBe(false);
    expect(transport.log).not.toContain('close');
    openGate();
    const results = await Promise.allSettled(inFlight);
    expect(results.map((r) => r.status)).toEqual(['fulfilled', 'fulfilled']);
    await closing;
    expect(transport.log).toEqual(['publish t', 'publish t', 'close']);
    expect(transport.published.flatMap((p) => p.messages)).toHaveLength(3);
  });
});

describe('connect deadline', () => {
  function slowFactory(resolveAfter: Promise<void>, seen: number[] = []) {
    const transport = new FakeTransport();
    const factory = async (_url: URL, options: { connectTimeoutMs?: number | undefined }) => {
      seen.push(options.connectTimeoutMs ?? -1);
      await resolveAfter;
      return transport;
    };
    return { transport, factory };
  }

  it('rejects with TIMEOUT past connectTimeoutMs, without credentials, and aborts a transport that arrives later', async () => {
    let arrive!: () => void;
    const seen: number[] = [];
    const { transport, factory } = slowFactory(new Promise<void>((r) => (arrive = r)), seen);
    const started = Date.now();
    const error = await connect('amqp://alice:s3cr3t-pw@127.0.0.1:1/vh', {
      transport: factory,
      connectTimeoutMs: 50,
    }).catch((e: unknown) => e);
    expect(Date.now() - started).toBeLessThan(5_000);
    expect((error as CarrierError).code).toBe('TIMEOUT');
    expect(String(error)).not.toContain('s3cr3t-pw');
    expect(seen).toHaveLength(1);
    expect(seen[0]).toBeGreaterThan(40);
    expect(seen[0]).toBeLessThanOrEqual(50);
    arrive();
    await waitFor(() => transport.log.includes('abort'));
  });

  it('reads connectTimeoutMs from the URL when the option is absent, 10 000 ms by default', async () => {
    const seen: number[] = [];
    const never = slowFactory(new Promise<void>(() => {}), seen);
    expect(await codeOf(connect('memory://x?connectTimeoutMs=30', { transport: never.factory }))).toBe(
      'TIMEOUT',
    );
    const quick = slowFactory(Promise.resolve(), seen);
    const carrier = await connect('memory://x', { transport: quick.factory });
    await carrier.close();
    expect(seen).toHaveLength(2);
    expect(seen[0]).toBeGreaterThan(20);
    expect(seen[0]).toBeLessThanOrEqual(30);
    expect(seen[1]).toBeGreaterThan(DEFAULT_CONNECT_TIMEOUT_MS - 1_000);
    expect(seen[1]).toBeLessThanOrEqual(DEFAULT_CONNECT_TIMEOUT_MS);
    expect(DEFAULT_CONNECT_TIMEOUT_MS).toBe(10_000);
  });

  it('refuses a malformed connectTimeoutMs with INVALID_ARGUMENT before calling the adapter', async () => {
    const seen: number[] = [];
    const { factory } = slowFactory(Promise.resolve(), seen);
    for (const bad of [0, -1, 1.5, Number.NaN, Number.POSITIVE_INFINITY, 2 ** 31])
      expect(await codeOf(connect('memory://', { transport: factory, connectTimeoutMs: bad }))).toBe(
        'INVALID_ARGUMENT',
      );
    for (const bad of ['', 'abc', '-5', '1e3', '0'])
      expect(await codeOf(connect(`memory://?connectTimeoutMs=${bad}`, { transport: factory }))).toBe(
        'INVALID_ARGUMENT',
      );
    expect(seen).toEqual([]);
  });

  it('refuses a malformed URL connectTimeoutMs even when the option is given, and hands the adapter the deadline as its option only', async () => {
    const seen: number[] = [];
    const urls: string[] = [];
    const { factory } = slowFactory(Promise.resolve(), seen);
    const recording = (url: URL, options: { connectTimeoutMs?: number | undefined }) => {
      urls.push(url.toString());
      return factory(url, options);
    };
    expect(
      await codeOf(
        connect('memory://?connectTimeoutMs=abc', { transport: recording, connectTimeoutMs: 500 }),
      ),
    ).toBe('INVALID_ARGUMENT');
    expect(seen).toEqual([]);
    const carrier = await connect('memory://x?connectTimeoutMs=20000&name=n', {
      transport: recording,
      connectTimeoutMs: 500,
    });
    await carrier.close();
    expect(seen[0]).toBeLessThanOrEqual(500);
    expect(urls).toEqual(['memory://x?name=n']);
  });
});

describe('abort', () => {
  it('rejects a subscribe still under way with CLOSED at once, even if the transport never answers it', async () => {
    const transport = new FakeTransport();
    transport.subscribe = () => new Promise(() => {});
    const carrier = new Carrier(transport, () => {});
    transport.subscribeDeadLetters = () => new Promise(() => {});
    const subscribing = carrier.subscribe('t', { group: 'g' }, () => {});
    const reading = carrier.deadLetters('t', 'g').subscribe(() => {});
    await carrier.abort();
    expect(await codeOf(subscribing)).toBe('CLOSED');
    expect(await codeOf(reading)).toBe('CLOSED');
    expect(await codeOf(carrier.subscribe('t', { group: 'g' }, () => {}))).toBe('CLOSED');
  });
});
