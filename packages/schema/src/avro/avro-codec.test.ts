import { afterEach, describe, expect, it } from 'vitest';
import { ConfluentRegistryClient } from '../confluent-client.js';
import { EmbeddedRegistry } from '../embedded-registry.js';
import { decodeFrame } from '../framing.js';
import { serveRegistry } from '../serve.js';
import { decodeContext, encodeContext, fresh, rejection } from '../test-support/registries.js';
import { WRITER_SCHEMA, writerSchemaOf } from '../writer-schema.js';
import { AVRO_CONTENT_TYPE, avroCodec } from './index.js';

const line = (extra: Record<string, unknown>[] = []) => ({
  type: 'record',
  name: 'Line',
  fields: [{ name: 'sku', type: 'string' }, { name: 'count', type: 'int' }, ...extra],
});
const order = (fields: Record<string, unknown>[], lineExtra: Record<string, unknown>[] = []) => ({
  type: 'record',
  name: 'Order',
  namespace: 'shop',
  fields: [
    { name: 'id', type: 'string' },
    { name: 'qty', type: 'int' },
    { name: 'lines', type: { type: 'array', items: line(lineExtra) } },
    ...fields,
  ],
});
const V1 = order([]);
/** v2 adds `note` (top level) and `gift` (in each line), both with defaults: FULL compatible. */
const V2 = order(
  [{ name: 'note', type: 'string', default: '' }],
  [{ name: 'gift', type: 'boolean', default: false }],
);
/** v3 changes `qty` to a string: readable neither way. */
const V3 = { ...V1, fields: V1.fields.map((f) => (f.name === 'qty' ? { name: 'qty', type: 'string' } : f)) };

interface OrderV1 {
  id: string;
  qty: number;
  lines: { sku: string; count: number }[];
}
interface OrderV2 extends OrderV1 {
  note: string;
  lines: { sku: string; count: number; gift: boolean }[];
}

/** A copy without the writer-schema marker. */
function withoutMarker<T extends object>(value: T): Omit<T, typeof WRITER_SCHEMA> {
  const { [WRITER_SCHEMA]: _marker, ...rest } = value as T & { [WRITER_SCHEMA]?: number };
  return rest;
}

const closers: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const close of closers.splice(0)) await close();
});

describe('avroCodec', () => {
  it('round-trips a record in the Confluent frame, with the schema id in Encoded', async () => {
    const registry = new EmbeddedRegistry();
    const topic = fresh('orders');
    const codec = avroCodec<OrderV1>({ registry, schema: V1 });
    const value: OrderV1 = { id: 'o-1', qty: 2, lines: [{ sku: 'a', count: 1 }] };
    const encoded = await codec.encode(value, encodeContext(topic));
    const id = (await registry.latest(`${topic}-value`))?.id;
    expect(id).toBeDefined();
    expect(encoded.contentType).toBe(AVRO_CONTENT_TYPE);
    expect(codec.contentType).toBe(AVRO_CONTENT_TYPE);
    expect(encoded.schemaId).toBe(String(id));
    expect([...encoded.bytes.subarray(0, 5)]).toEqual([0, 0, 0, 0, id]);
    const decoded = await codec.decode(encoded.bytes, decodeContext(topic));
    expect(decoded).toEqual({ ...value, [WRITER_SCHEMA]: id });
    expect(writerSchemaOf(decoded)).toBe(id);
    expect(Object.keys({ ...decoded })).toEqual(['id', 'qty', 'lines']);
    expect(writerSchemaOf({ ...decoded, qty: 3 })).toBe(id);
  });

  it('registers under <topic>-value by default, or under the subject given', async () => {
    const registry = new EmbeddedRegistry();
    const topic = fresh('orders');
    await avroCodec({ registry, schema: V1 }).encode({ id: 'x', qty: 1, lines: [] }, encodeContext(topic));
    expect(await registry.versions(`${topic}-value`)).toEqual([1]);
    const fixed = fresh('shop.Order');
    await avroCodec({ registry, schema: V1, subject: fixed }).encode(
      { id: 'x', qty: 1, lines: [] },
      encodeContext(topic),
    );
    expect(await registry.versions(fixed)).toEqual([1]);
    const byTopic = avroCodec({ registry, schema: V1, subject: (t) => `${t}-orders` });
    await byTopic.encode({ id: 'x', qty: 1, lines: [] }, encodeContext(topic));
    expect(await registry.versions(`${topic}-orders`)).toEqual([1]);
  });

  it('with autoRegister off, fails with ENCODE_FAILED until the schema is registered', async () => {
    const registry = new EmbeddedRegistry();
    const topic = fresh('orders');
    const codec = avroCodec({ registry, schema: V1, autoRegister: false });
    const value = { id: 'x', qty: 1, lines: [] };
    const error = await rejection(codec.encode(value, encodeContext(topic)));
    expect(error.code).toBe('ENCODE_FAILED');
    expect(error.message).toContain(`${topic}-value`);
    expect(await registry.versions(`${topic}-value`)).toEqual([]);
    await avroCodec({ registry, schema: V1 }).encode(value, encodeContext(topic));
    expect((await codec.encode(value, encodeContext(topic))).schemaId).toBe('1');
  });

  it('v1 producer → v2 consumer: the new fields take their defaults', async () => {
    const registry = new EmbeddedRegistry();
    const topic = fresh('orders');
    const v1 = avroCodec<OrderV1>({ registry, schema: V1 });
    const v2 = avroCodec<OrderV2>({ registry, schema: V2 });
    const bytes = (
      await v1.encode({ id: 'o', qty: 3, lines: [{ sku: 'a', count: 1 }] }, encodeContext(topic))
    ).bytes;
    expect(withoutMarker(await v2.decode(bytes, decodeContext(topic)))).toEqual({
      id: 'o',
      qty: 3,
      lines: [{ sku: 'a', count: 1, gift: false }],
      note: '',
    });
  });

  it("v2 producer → v1 consumer: reads its own fields, the writer's others kept aside on the record", async () => {
    const registry = new EmbeddedRegistry();
    const topic = fresh('orders');
    const v1 = avroCodec<OrderV1>({ registry, schema: V1 });
    const v2 = avroCodec<OrderV2>({ registry, schema: V2 });
    await v1.encode({ id: 'o', qty: 1, lines: [] }, encodeContext(topic));
    const value: OrderV2 = {
      id: 'o',
      qty: 3,
      note: 'ring twice',
      lines: [{ sku: 'a', count: 1, gift: true }],
    };
    const encoded = await v2.encode(value, encodeContext(topic));
    const read = await v1.decode(encoded.bytes, decodeContext(topic));
    expect(read.id).toBe('o');
    expect(read.qty).toBe(3);
    expect(read.lines[0]).toMatchObject({ sku: 'a', count: 1 });
    expect(writerSchemaOf(read)).toBe(Number(encoded.schemaId));
    // not part of OrderV1, but on the object, for a forwarder to write back
    expect(read).toMatchObject({ note: 'ring twice', lines: [{ gift: true }] });
  });

  it('v2 producer → v1 forwarder editing a known field → v2 consumer: new fields intact, edit there', async () => {
    const registry = new EmbeddedRegistry();
    const [inbound, outbound] = [fresh('orders'), fresh('orders-enriched')];
    const v1 = avroCodec<OrderV1>({ registry, schema: V1 });
    const v2 = avroCodec<OrderV2>({ registry, schema: V2 });
    await v1.encode({ id: 'seed', qty: 1, lines: [] }, encodeContext(inbound)); // v1 came first
    const sent: OrderV2 = {
      id: 'o-7',
      qty: 3,
      note: 'ring twice',
      lines: [{ sku: 'a', count: 1, gift: true }],
    };
    const fromV2 = await v2.encode(sent, encodeContext(inbound));

    // the forwarder knows only v1; it edits qty on a spread copy and publishes on
    const received = await v1.decode(fromV2.bytes, decodeContext(inbound));
    const forwarded = await v1.encode({ ...received, qty: 4 }, encodeContext(outbound));
    expect(forwarded.schemaId).toBe(fromV2.schemaId);
    expect(decodeFrame(forwarded.bytes).schemaId).toBe(Number(fromV2.schemaId));

    const final = await v2.decode(forwarded.bytes, decodeContext(outbound));
    expect(final).toEqual({ ...sent, qty: 4, [WRITER_SCHEMA]: Number(fromV2.schemaId) });
    // the writer's schema was registered under the outbound subject, checked there
    expect((await registry.latest(`${outbound}-value`))?.id).toBe(Number(fromV2.schemaId));
  });

  it('v1 producer → v2 forwarder setting its own new field → v2 consumer: the edit is kept (written with v2, not the older writer)', async () => {
    const registry = new EmbeddedRegistry();
    const [inbound, outbound] = [fresh('orders'), fresh('orders-noted')];
    const v1 = avroCodec<OrderV1>({ registry, schema: V1 });
    const v2 = avroCodec<OrderV2>({ registry, schema: V2 });
    const fromV1 = await v1.encode(
      { id: 'o-1', qty: 2, lines: [{ sku: 'a', count: 1 }] },
      encodeContext(inbound),
    );
    const received = await v2.decode(fromV1.bytes, decodeContext(inbound));
    expect(received.note).toBe(''); // the default
    const edited = {
      ...received,
      note: 'ring twice',
      lines: received.lines.map((l) => ({ ...l, gift: true })),
    };
    const forwarded = await v2.encode(edited, encodeContext(outbound));
    expect(Number(forwarded.schemaId)).not.toBe(Number(fromV1.schemaId));
    const final = await v2.decode(forwarded.bytes, decodeContext(outbound));
    expect(withoutMarker(final)).toEqual({
      id: 'o-1',
      qty: 2,
      note: 'ring twice',
      lines: [{ sku: 'a', count: 1, gift: true }],
    });
  });

  it("writes a marked value that no longer fits the writer's schema with the codec's own schema", async () => {
    const registry = new EmbeddedRegistry();
    const topic = fresh('orders');
    const v1 = avroCodec<OrderV1>({ registry, schema: V1 });
    const v2 = avroCodec<OrderV2>({ registry, schema: V2 });
    const ownId = Number((await v1.encode({ id: 's', qty: 1, lines: [] }, encodeContext(topic))).schemaId);
    const fromV2 = await v2.encode({ id: 'o', qty: 1, note: 'n', lines: [] }, encodeContext(topic));
    const received = await v1.decode(fromV2.bytes, decodeContext(topic));
    const edited = { ...received, note: 42 }; // v2 wants a string there; v1 has no `note`
    const forwarded = await v1.encode(edited, encodeContext(topic));
    expect(Number(forwarded.schemaId)).toBe(ownId);
    expect(await v2.decode(forwarded.bytes, decodeContext(topic))).toMatchObject({ id: 'o', note: '' });
  });

  it('refuses an incompatible v3 with SCHEMA_INCOMPATIBLE before anything is written', async () => {
    const registry = new EmbeddedRegistry();
    const topic = fresh('orders');
    await avroCodec({ registry, schema: V1 }).encode({ id: 'o', qty: 1, lines: [] }, encodeContext(topic));
    await avroCodec({ registry, schema: V2 }).encode(
      { id: 'o', qty: 1, note: '', lines: [] },
      encodeContext(topic),
    );
    const v3 = avroCodec({ registry, schema: V3 });
    const error = await rejection(v3.encode({ id: 'o', qty: 'one', lines: [] }, encodeContext(topic)));
    expect(error.code).toBe('SCHEMA_INCOMPATIBLE');
    expect(error.message).toContain('qty');
    expect(await registry.versions(`${topic}-value`)).toEqual([1, 2]);
  });

  it('refuses a value that does not match with INVALID_MESSAGE, one issue per bad value with its path', async () => {
    const codec = avroCodec({ registry: new EmbeddedRegistry(), schema: V1 });
    const bad = {
      id: 5,
      qty: 'x',
      lines: [
        { sku: 's', count: 1 },
        { sku: 't', count: 'bad' },
      ],
    };
    const error = (await rejection(codec.encode(bad, encodeContext(fresh('orders'))))) as Error & {
      code: string;
      issues: { path: unknown[]; message: string }[];
    };
    expect(error.code).toBe('INVALID_MESSAGE');
    expect(error.issues.map((i) => i.path)).toEqual([['id'], ['qty'], ['lines', 1, 'count']]);
    expect(error.issues[1]?.message).toBe('expected int, got "x"');
    expect((await rejection(codec.encode({ id: 'o' }, encodeContext(fresh('t'))))).code).toBe(
      'INVALID_MESSAGE',
    );
  });

  it('refuses garbage, an unknown schema id and a payload that does not match with DECODE_FAILED', async () => {
    const registry = new EmbeddedRegistry();
    const topic = fresh('orders');
    const codec = avroCodec({ registry, schema: V1 });
    const good = await codec.encode({ id: 'o', qty: 1, lines: [] }, encodeContext(topic));
    const cases = [
      new TextEncoder().encode('{"id":"o"}'),
      Uint8Array.of(0, 0, 0),
      Uint8Array.of(0, 0, 0, 0x30, 0x39, 2, 0x61, 2, 0), // schema id 12345: unknown
      good.bytes.subarray(0, good.bytes.length - 1), // truncated
      Uint8Array.of(...good.bytes, 0x07), // trailing byte
    ];
    for (const bytes of cases) {
      expect((await rejection(codec.decode(bytes, decodeContext(topic)))).code).toBe('DECODE_FAILED');
    }
  });

  it('passes a registry outage on decode as CONNECTION (not DECODE_FAILED), on encode as ENCODE_FAILED', async () => {
    const server = await serveRegistry(new EmbeddedRegistry());
    const registry = new ConfluentRegistryClient({ url: server.url, timeoutMs: 2_000 });
    const topic = fresh('orders');
    const bytes = (
      await avroCodec({ registry, schema: V1 }).encode({ id: 'o', qty: 1, lines: [] }, encodeContext(topic))
    ).bytes;
    await server.close();
    const fresher = avroCodec({ registry: new ConfluentRegistryClient({ url: server.url }), schema: V1 });
    const decodeError = await rejection(fresher.decode(bytes, decodeContext(topic)));
    expect(decodeError.code).toBe('CONNECTION');
    const encodeError = await rejection(fresher.encode({ id: 'o', qty: 1, lines: [] }, encodeContext(topic)));
    expect(encodeError.code).toBe('ENCODE_FAILED');
    expect((encodeError.cause as { code?: string }).code).toBe('CONNECTION');
  });

  it('works end to end through the REST client against a served registry', async () => {
    const served = await serveRegistry(new EmbeddedRegistry());
    closers.push(() => served.close());
    const registry = new ConfluentRegistryClient({ url: served.url });
    const topic = fresh('orders');
    const v1 = avroCodec<OrderV1>({ registry, schema: V1 });
    const v2 = avroCodec<OrderV2>({ registry, schema: JSON.stringify(V2) });
    await v1.encode({ id: 'a', qty: 1, lines: [] }, encodeContext(topic));
    const encoded = await v2.encode({ id: 'b', qty: 2, note: 'hi', lines: [] }, encodeContext(topic));
    const read = await v1.decode(encoded.bytes, decodeContext(topic));
    const back = await v2.decode(
      (await v1.encode({ ...read, qty: 9 }, encodeContext(topic))).bytes,
      decodeContext(topic),
    );
    expect(withoutMarker(back)).toEqual({ id: 'b', qty: 9, note: 'hi', lines: [] });
  });
});
