import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { ConfluentRegistryClient } from './confluent-client.js';
import { EmbeddedRegistry } from './embedded-registry.js';
import type { RegistryCallOptions, SchemaDefinition, SchemaRegistry } from './registry.js';
import { type ServedRegistry, serveRegistry } from './serve.js';
import { avroOrder, ID, NOTE } from './test-support/avro-schemas.js';
import { fresh, rejection } from './test-support/registries.js';

/** An embedded registry that counts the calls reaching it (through serveRegistry). */
class CountingRegistry extends EmbeddedRegistry {
  schemaByIdCalls = 0;
  registerCalls = 0;
  override async schemaById(id: number, options?: RegistryCallOptions) {
    this.schemaByIdCalls++;
    return super.schemaById(id, options);
  }
  override async register(subject: string, schema: SchemaDefinition, options?: RegistryCallOptions) {
    this.registerCalls++;
    return super.register(subject, schema, options);
  }
}

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0)) await cleanup();
});

async function served(registry: SchemaRegistry, options: Parameters<typeof serveRegistry>[1] = {}) {
  const server: ServedRegistry = await serveRegistry(registry, options);
  cleanups.push(() => server.close());
  return server;
}

/** A TCP server that accepts requests and never answers them. */
async function silentServer(): Promise<string> {
  const server: Server = createServer(() => {});
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  cleanups.push(
    () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  );
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

describe('ConfluentRegistryClient', () => {
  it('sends basic auth and never prints the password; a refusal is AUTH_FAILED naming the user', async () => {
    const auth = { username: 'svc-orders', password: 'p@ss-w0rd-secret' };
    const server = await served(new EmbeddedRegistry(), { auth });
    const good = new ConfluentRegistryClient({ url: server.url, auth });
    expect(await good.register(fresh('s'), avroOrder([ID]))).toBe(1);

    const wrong = new ConfluentRegistryClient({
      url: server.url,
      auth: { ...auth, password: 'not-it-secret' },
    });
    const error = await rejection(wrong.register(fresh('s'), avroOrder([ID])));
    expect(error.code).toBe('AUTH_FAILED');
    expect(error.message).toContain('svc-orders');
    expect(error.message).not.toContain('not-it-secret');

    const none = new ConfluentRegistryClient({ url: server.url });
    expect((await rejection(none.latest('s'))).code).toBe('AUTH_FAILED');
  });

  it('takes credentials from the URL and leaves them out of its url and errors', async () => {
    const server = await served(new EmbeddedRegistry(), { auth: { username: 'u', password: 'url-secret' } });
    const withUserInfo = server.url.replace('http://', 'http://u:url-secret@');
    const client = new ConfluentRegistryClient({ url: withUserInfo });
    expect(client.url).not.toContain('url-secret');
    expect(await client.register(fresh('s'), avroOrder([ID]))).toBe(1);
    const wrong = new ConfluentRegistryClient({
      url: server.url.replace('http://', 'http://u:other-secret@'),
    });
    const error = await rejection(wrong.versions('s'));
    expect(error.code).toBe('AUTH_FAILED');
    expect(`${error.message} ${String(error.cause ?? '')}`).not.toContain('other-secret');
  });

  it('reaches an API under a base path (as Apicurio serves it under /apis/ccompat/v7)', async () => {
    const server = await served(new EmbeddedRegistry(), { basePath: '/apis/ccompat/v7' });
    expect(server.url).toMatch(/\/apis\/ccompat\/v7$/);
    const client = new ConfluentRegistryClient({ url: `${server.url}/` });
    const id = await client.register(fresh('s'), avroOrder([ID]));
    expect(await client.schemaById(id)).toEqual(avroOrder([ID]));
    const wrongBase = new ConfluentRegistryClient({ url: server.url.replace('/apis/ccompat/v7', '') });
    const error = await rejection(wrongBase.schemaById(id));
    expect(error.code).toBe('INVALID_ARGUMENT');
    expect(error.message).toContain('API base');
  });

  it('fails with CONNECTION when nothing listens', async () => {
    const server = await served(new EmbeddedRegistry());
    await server.close();
    const client = new ConfluentRegistryClient({ url: server.url });
    const error = await rejection(client.schemaById(1));
    expect(error.code).toBe('CONNECTION');
    expect(error.message).toContain(server.url);
  });

  it('fails with TIMEOUT when the registry does not answer within timeoutMs', async () => {
    const url = await silentServer();
    const client = new ConfluentRegistryClient({ url, timeoutMs: 200 });
    const started = Date.now();
    const error = await rejection(client.schemaById(1));
    expect(error.code).toBe('TIMEOUT');
    expect(error.message).toContain('200 ms');
    expect(Date.now() - started).toBeLessThan(5_000);
  });

  it("fails with ABORTED when the call's signal fires, before or during the call", async () => {
    const url = await silentServer();
    const client = new ConfluentRegistryClient({ url, timeoutMs: 30_000 });
    const before = AbortSignal.abort(new Error('stop'));
    expect((await rejection(client.schemaById(1, { signal: before }))).code).toBe('ABORTED');
    const controller = new AbortController();
    const pending = client.latest('s', { signal: controller.signal });
    setTimeout(() => controller.abort(new Error('shutdown')), 50);
    const error = await rejection(pending);
    expect(error.code).toBe('ABORTED');
    expect((error.cause as Error).message).toBe('shutdown');
  });

  it("maps a 409 to SCHEMA_INCOMPATIBLE with the registry's reasons", async () => {
    const server = await served(new EmbeddedRegistry());
    const client = new ConfluentRegistryClient({ url: server.url });
    const subject = fresh('orders-value');
    await client.register(subject, avroOrder([ID]));
    const error = await rejection(client.register(subject, avroOrder([ID, NOTE])));
    expect(error.code).toBe('SCHEMA_INCOMPATIBLE');
    expect(error.message).toContain(subject);
    expect(error.message).toContain('note');
  });

  it('caches schemas by id and ids by subject and schema, sharing concurrent requests', async () => {
    const counting = new CountingRegistry();
    const server = await served(counting);
    const client = new ConfluentRegistryClient({ url: server.url });
    const subject = fresh('s');
    const id = await client.register(subject, avroOrder([ID]));
    expect(await client.register(subject, avroOrder([ID]))).toBe(id);
    expect(counting.registerCalls).toBe(1);
    const all = await Promise.all([client.schemaById(id), client.schemaById(id), client.schemaById(id)]);
    expect(all.every((s) => s?.schema === avroOrder([ID]).schema)).toBe(true);
    await client.schemaById(id);
    expect(counting.schemaByIdCalls).toBe(1);
    // an unknown id is asked again (it may be registered later)
    expect(await client.schemaById(99)).toBeUndefined();
    expect(await client.schemaById(99)).toBeUndefined();
    expect(counting.schemaByIdCalls).toBe(3);
  });

  it('keeps subjects with reserved URL characters intact', async () => {
    const registry = new EmbeddedRegistry();
    const server = await served(registry);
    const client = new ConfluentRegistryClient({ url: server.url });
    const subject = `google/protobuf/${fresh('x')} ?#%.proto`;
    await client.register(subject, avroOrder([ID]));
    expect(await registry.versions(subject)).toEqual([1]);
    expect(await client.latest(subject)).toMatchObject({ subject, version: 1 });
  });

  it('refuses a URL that is not http(s) or a bad timeout with INVALID_ARGUMENT', async () => {
    expect((await rejection(() => new ConfluentRegistryClient({ url: 'kafka://x:9092' }))).code).toBe(
      'INVALID_ARGUMENT',
    );
    expect((await rejection(() => new ConfluentRegistryClient({ url: 'not a url' }))).code).toBe(
      'INVALID_ARGUMENT',
    );
    expect((await rejection(() => new ConfluentRegistryClient({ url: 'http://x', timeoutMs: 0 }))).code).toBe(
      'INVALID_ARGUMENT',
    );
    // credentials that are not valid percent-encoding: INVALID_ARGUMENT, and the password never shown
    const bad = await rejection(() => new ConfluentRegistryClient({ url: 'http://alice:s3cret%@h' }));
    expect(bad.code).toBe('INVALID_ARGUMENT');
    expect(String(bad.message)).not.toContain('s3cret');
  });
});
