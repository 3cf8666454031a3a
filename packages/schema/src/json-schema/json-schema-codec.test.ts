import { afterEach, describe, expect, it } from 'vitest';
import { ConfluentRegistryClient } from '../confluent-client.js';
import { EmbeddedRegistry } from '../embedded-registry.js';
import { encodeFrame } from '../framing.js';
import { serveRegistry } from '../serve.js';
import { decodeContext, encodeContext, fresh, rejection } from '../test-support/registries.js';
import { WRITER_SCHEMA, writerSchemaOf } from '../writer-schema.js';
import { JSON_SCHEMA_CONTENT_TYPE, jsonSchemaCodec } from './index.js';

/** Closed content models, as Confluent's BACKWARD evolution of JSON Schema needs. */
const line = (extra: Record<string, unknown> = {}) => ({
  type: 'object',
  properties: { sku: { type: 'string' }, count: { type: 'integer' }, ...extra },
  required: ['sku', 'count'],
  additionalProperties: false,
});
const V1 = {
  type: 'object',
  properties: { id: { type: 'string' }, qty: { type: 'integer' }, lines: { type: 'array', items: line() } },
  required: ['id', 'qty'],
  additionalProperties: false,
};
/** v2 adds optional `note` and `gift` in lines: compatible with v1 under BACKWARD (closed models). */
const V2 = {
  ...V1,
  properties: {
    ...V1.properties,
    note: { type: 'string' },
    lines: { type: 'array', items: line({ gift: { type: 'boolean' } }) },
  },
};
/** v3 changes `qty` to a string. */
const V3 = { ...V1, properties: { ...V1.properties, qty: { type: 'string' } } };

interface OrderV1 {
  id: string;
  qty: number;
  lines?: { sku: string; count: number }[];
}
interface OrderV2 extends OrderV1 {
  note?: string;
  lines?: { sku: string; count: number; gift?: boolean }[];
}

const closers: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const close of closers.splice(0)) await close();
});

describe('jsonSchemaCodec', () => {
  it('round-trips JSON in the Confluent frame, with the schema id in Encoded', async () => {
    const registry = new EmbeddedRegistry();
    const topic = fresh('orders');
    const codec = jsonSchemaCodec<OrderV1>({ registry, schema: V1 });
    const value: OrderV1 = { id: 'o-1', qty: 2, lines: [{ sku: 'a', count: 1 }] };
    const encoded = await codec.encode(value, encodeContext(topic));
    const id = (await registry.latest(`${topic}-value`))?.id ?? -1;
    expect(encoded.contentType).toBe(JSON_SCHEMA_CONTENT_TYPE);
    expect(encoded.schemaId).toBe(String(id));
    expect([...encoded.bytes.subarray(0, 5)]).toEqual([0, 0, 0, 0, id]);
    expect(new TextDecoder().decode(encoded.bytes.subarray(5))).toBe(JSON.stringify(value));
    expect(await codec.decode(encoded.bytes, decodeContext(topic))).toEqual({
      ...value,
      [WRITER_SCHEMA]: id,
    });
    expect((await registry.latest(`${topic}-value`))?.schemaType).toBe('JSON');
  });

  it('v1 producer → v2 consumer: reads v1 bodies (the new properties absent)', async () => {
    const registry = new EmbeddedRegistry();
    const topic = fresh('orders');
    const bytes = (
      await jsonSchemaCodec({ registry, schema: V1 }).encode({ id: 'o', qty: 3 }, encodeContext(topic))
    ).bytes;
    const read = await jsonSchemaCodec<OrderV2>({ registry, schema: V2 }).decode(bytes, decodeContext(topic));
    expect(read).toMatchObject({ id: 'o', qty: 3 });
    expect(read.note).toBeUndefined();
  });

  it('v2 producer → v1 consumer: reads its properties, the new ones kept on the object', async () => {
    const registry = new EmbeddedRegistry();
    const topic = fresh('orders');
    const c1 = jsonSchemaCodec<OrderV1>({ registry, schema: V1 });
    await c1.encode({ id: 's', qty: 1 }, encodeContext(topic));
    const sent: OrderV2 = {
      id: 'o',
      qty: 3,
      note: 'ring twice',
      lines: [{ sku: 'a', count: 1, gift: true }],
    };
    const read = await c1.decode(
      (await jsonSchemaCodec({ registry, schema: V2 }).encode(sent, encodeContext(topic))).bytes,
      decodeContext(topic),
    );
    expect(read).toMatchObject({ id: 'o', qty: 3, note: 'ring twice', lines: [{ gift: true }] });
  });

  it('v2 producer → v1 forwarder editing a known field → v2 consumer: new properties intact, edit there', async () => {
    const registry = new EmbeddedRegistry();
    const [inbound, outbound] = [fresh('orders'), fresh('orders-enriched')];
    const c1 = jsonSchemaCodec<OrderV1>({ registry, schema: V1 });
    const c2 = jsonSchemaCodec<OrderV2>({ registry, schema: V2 });
    await c1.encode({ id: 's', qty: 1 }, encodeContext(inbound));
    const sent: OrderV2 = {
      id: 'o',
      qty: 3,
      note: 'ring twice',
      lines: [{ sku: 'a', count: 1, gift: true }],
    };
    const fromV2 = await c2.encode(sent, encodeContext(inbound));

    const received = await c1.decode(fromV2.bytes, decodeContext(inbound));
    // v1's schema is closed: only the writer's schema (v2) accepts the body as it is
    const forwarded = await c1.encode({ ...received, qty: 4 }, encodeContext(outbound));
    expect(forwarded.schemaId).toBe(fromV2.schemaId);

    const final = await c2.decode(forwarded.bytes, decodeContext(outbound));
    expect(final).toEqual({ ...sent, qty: 4, [WRITER_SCHEMA]: Number(fromV2.schemaId) });
  });

  it('refuses an incompatible v3 with SCHEMA_INCOMPATIBLE before anything is written', async () => {
    const registry = new EmbeddedRegistry();
    const topic = fresh('orders');
    await jsonSchemaCodec({ registry, schema: V1 }).encode({ id: 'o', qty: 1 }, encodeContext(topic));
    await jsonSchemaCodec({ registry, schema: V2 }).encode({ id: 'o', qty: 1 }, encodeContext(topic));
    const error = await rejection(
      jsonSchemaCodec({ registry, schema: V3 }).encode({ id: 'o', qty: 'one' }, encodeContext(topic)),
    );
    expect(error.code).toBe('SCHEMA_INCOMPATIBLE');
    expect(error.message).toContain('#/properties/qty');
    expect(await registry.versions(`${topic}-value`)).toEqual([1, 2]);
  });

  it("refuses a value that does not match with INVALID_MESSAGE and ajv's issues with paths", async () => {
    const codec = jsonSchemaCodec({ registry: new EmbeddedRegistry(), schema: V1 });
    const bad = {
      id: 5,
      qty: 1,
      lines: [
        { sku: 's', count: 1 },
        { sku: 't', count: 'x' },
      ],
      extra: true,
    };
    const error = (await rejection(codec.encode(bad, encodeContext(fresh('orders'))))) as Error & {
      code: string;
      issues: { path: unknown[]; message: string }[];
    };
    expect(error.code).toBe('INVALID_MESSAGE');
    expect(error.issues.map((i) => i.path)).toEqual(
      expect.arrayContaining([['id'], ['lines', 1, 'count'], []]),
    );
    expect(error.issues.find((i) => i.path.length === 0)?.message).toContain('extra');
  });

  it("refuses a decoded body that does not match its writer's schema with INVALID_MESSAGE", async () => {
    const registry = new EmbeddedRegistry();
    const topic = fresh('orders');
    const codec = jsonSchemaCodec({ registry, schema: V1 });
    const id = Number((await codec.encode({ id: 'o', qty: 1 }, encodeContext(topic))).schemaId);
    const forged = encodeFrame(id, new TextEncoder().encode('{"id":"o","qty":"many"}'));
    const error = (await rejection(codec.decode(forged, decodeContext(topic)))) as Error & {
      code: string;
      issues: { path: unknown[] }[];
    };
    expect(error.code).toBe('INVALID_MESSAGE');
    expect(error.issues[0]?.path).toEqual(['qty']);
    const lenient = jsonSchemaCodec({ registry, schema: V1, validateOnDecode: false });
    expect(await lenient.decode(forged, decodeContext(topic))).toMatchObject({ qty: 'many' });
  });

  it('refuses garbage, bytes that are not UTF-8 JSON and an unknown schema id with DECODE_FAILED', async () => {
    const registry = new EmbeddedRegistry();
    const topic = fresh('orders');
    const codec = jsonSchemaCodec({ registry, schema: V1 });
    const id = Number((await codec.encode({ id: 'o', qty: 1 }, encodeContext(topic))).schemaId);
    const cases = [
      new TextEncoder().encode('{"id":"o","qty":1}'), // plain JSON, no frame
      encodeFrame(id, new TextEncoder().encode('{"id":')),
      encodeFrame(id, Uint8Array.of(0x7b, 0xff, 0x7d)),
      encodeFrame(12_345, new TextEncoder().encode('{"id":"o","qty":1}')),
    ];
    for (const bytes of cases) {
      expect((await rejection(codec.decode(bytes, decodeContext(topic)))).code).toBe('DECODE_FAILED');
    }
  });

  it('works end to end through the REST client against a served registry', async () => {
    const served = await serveRegistry(new EmbeddedRegistry());
    closers.push(() => served.close());
    const registry = new ConfluentRegistryClient({ url: served.url });
    const topic = fresh('orders');
    const c1 = jsonSchemaCodec<OrderV1>({ registry, schema: V1 });
    const c2 = jsonSchemaCodec<OrderV2>({ registry, schema: V2 });
    await c1.encode({ id: 's', qty: 1 }, encodeContext(topic));
    const read = await c1.decode(
      (await c2.encode({ id: 'b', qty: 2, note: 'hi' }, encodeContext(topic))).bytes,
      decodeContext(topic),
    );
    const back = await c2.decode(
      (await c1.encode({ ...read, qty: 9 }, encodeContext(topic))).bytes,
      decodeContext(topic),
    );
    expect(writerSchemaOf(back)).toBe(writerSchemaOf(read));
    expect(back).toMatchObject({ id: 'b', qty: 9, note: 'hi' });
  });
});
