import { freshName } from '@carrier/contract';
import { describe, expect, inject, it } from 'vitest';
import '../src/context.js';

// The harness's schema registry (Apicurio Registry in memory; README.md, "Schema registry") speaks
// Confluent's Schema Registry API: register, look up by id, per-subject compatibility, and a
// refused incompatible version. Raw fetch against the documented endpoints (Confluent Schema
// Registry API reference), so that this proves the server, not a client.

const registry = inject('schemaRegistry');
const CONTENT_TYPE = 'application/vnd.schemaregistry.v1+json';

/** One call of the Confluent API: status and parsed JSON body. */
async function call(method: 'GET' | 'POST' | 'PUT', path: string, body?: unknown) {
  const res = await fetch(`${registry}${path}`, {
    method,
    headers: { accept: CONTENT_TYPE, ...(body === undefined ? {} : { 'content-type': CONTENT_TYPE }) },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    signal: AbortSignal.timeout(10_000),
  });
  const text = await res.text();
  return { status: res.status, body: text ? (JSON.parse(text) as unknown) : undefined };
}

/** An Avro record schema `Order` with the given fields, as the JSON text the API carries. */
const orderSchema = (fields: readonly object[]) =>
  JSON.stringify({ type: 'record', name: 'Order', namespace: 'carrier.test', fields });

const V1 = orderSchema([{ name: 'id', type: 'string' }]);
/** v1 plus a field with a default: BACKWARD compatible (a v2 reader fills it in for v1 data). */
const V2 = orderSchema([
  { name: 'id', type: 'string' },
  { name: 'qty', type: 'int', default: 1 },
]);
/** v2 with `id` changed from string to int: a v3 reader cannot read v2 data. */
const V3 = orderSchema([
  { name: 'id', type: 'int' },
  { name: 'qty', type: 'int', default: 1 },
]);

describe('schema registry (Confluent-compatible API of the harness)', () => {
  it('registers an Avro schema under a subject and returns it by its id', async () => {
    const subject = `${freshName('orders')}-value`;
    const registered = await call('POST', `/subjects/${subject}/versions`, { schema: V1 });
    expect(registered.status).toBe(200);
    const { id } = registered.body as { id: number };
    expect(Number.isInteger(id)).toBe(true);

    const byId = await call('GET', `/schemas/ids/${id}`);
    expect(byId.status).toBe(200);
    expect(JSON.parse((byId.body as { schema: string }).schema)).toEqual(JSON.parse(V1));

    const latest = await call('GET', `/subjects/${subject}/versions/latest`);
    expect(latest.body).toMatchObject({ subject, version: 1, id });
  });

  it('under BACKWARD accepts a v2 with a defaulted field and refuses an incompatible v3 with 409', async () => {
    const subject = `${freshName('orders')}-value`;
    const v1 = await call('POST', `/subjects/${subject}/versions`, { schema: V1 });
    expect(v1.status).toBe(200);

    const config = await call('PUT', `/config/${subject}`, { compatibility: 'BACKWARD' });
    expect(config).toEqual({ status: 200, body: { compatibility: 'BACKWARD' } });

    const v2 = await call('POST', `/subjects/${subject}/versions`, { schema: V2 });
    expect(v2.status).toBe(200);
    expect((v2.body as { id: number }).id).not.toBe((v1.body as { id: number }).id);

    const check = await call('POST', `/compatibility/subjects/${subject}/versions/latest`, { schema: V3 });
    expect(check.status).toBe(200);
    expect(check.body).toMatchObject({ is_compatible: false });

    const v3 = await call('POST', `/subjects/${subject}/versions`, { schema: V3 });
    expect(v3.status).toBe(409);

    // nothing was registered by the refused call
    expect(await call('GET', `/subjects/${subject}/versions`)).toEqual({ status: 200, body: [1, 2] });
  });
});
