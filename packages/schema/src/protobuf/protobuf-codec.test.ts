import { create, toBinary } from '@bufbuild/protobuf';
import { timestampFromDate } from '@bufbuild/protobuf/wkt';
import { afterEach, describe, expect, it } from 'vitest';
import { ConfluentRegistryClient } from '../confluent-client.js';
import { EmbeddedRegistry } from '../embedded-registry.js';
import { decodeFrame } from '../framing.js';
import { serveRegistry } from '../serve.js';
import * as v1 from '../test-fixtures/gen/v1/carrier/test/order_pb.js';
import * as v2 from '../test-fixtures/gen/v2/carrier/test/order_pb.js';
import * as v3 from '../test-fixtures/gen/v3/carrier/test/order_pb.js';
import { decodeContext, encodeContext, fresh, rejection } from '../test-support/registries.js';
import { messageIndexes, PROTOBUF_CONTENT_TYPE, protobufCodec, renderProto } from './index.js';

const placedAt = timestampFromDate(new Date('2026-01-02T03:04:05.678Z'));

function orderV2(): v2.Order {
  return create(v2.OrderSchema, {
    id: 'o-7',
    quantity: 3,
    status: v2.Order_Status.PLACED,
    placedAt,
    lines: [{ sku: 'a', count: 1 }],
    tags: { channel: 'web' },
    coupon: 'WELCOME',
    payment: { case: 'card', value: '4242' },
    note: 'ring twice',
    gift: { sku: 'wrap', count: 1 },
  });
}

const closers: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const close of closers.splice(0)) await close();
});

describe('protobufCodec', () => {
  it('round-trips a message in the Confluent frame with the single-0 message index', async () => {
    const registry = new EmbeddedRegistry();
    const topic = fresh('orders');
    const codec = protobufCodec({ registry, schema: v1.OrderSchema });
    const value = create(v1.OrderSchema, { id: 'o-1', quantity: 2, placedAt, tags: { a: 'b' } });
    const encoded = await codec.encode(value, encodeContext(topic));
    const id = (await registry.latest(`${topic}-value`))?.id ?? -1;
    expect(encoded.contentType).toBe(PROTOBUF_CONTENT_TYPE);
    expect(encoded.schemaId).toBe(String(id));
    expect([...encoded.bytes.subarray(0, 6)]).toEqual([0, 0, 0, 0, id, 0]);
    expect([...encoded.bytes.subarray(6)]).toEqual([...toBinary(v1.OrderSchema, value)]);
    expect(await codec.decode(encoded.bytes, decodeContext(topic))).toEqual(value);
  });

  it('writes the message-index path of other and nested types', async () => {
    const registry = new EmbeddedRegistry();
    expect(messageIndexes(v1.OrderSchema)).toEqual([0]);
    expect(messageIndexes(v1.RefundSchema)).toEqual([1]);
    expect(messageIndexes(v1.Order_LineSchema)).toEqual([0, 0]); // the map entry type is not counted
    const refund = protobufCodec({ registry, schema: v1.RefundSchema });
    const bytes = (
      await refund.encode(create(v1.RefundSchema, { orderId: 'o' }), encodeContext(fresh('refunds')))
    ).bytes;
    expect([...bytes.subarray(5, 7)]).toEqual([0x02, 0x02]);
    const line = protobufCodec({ registry, schema: v1.Order_LineSchema, subject: fresh('lines') });
    const lineBytes = (await line.encode(create(v1.Order_LineSchema, { sku: 's' }), encodeContext('lines')))
      .bytes;
    expect(decodeFrame(lineBytes, { messageIndexes: true }).messageIndexes).toEqual([0, 0]);
    expect([...lineBytes.subarray(5, 8)]).toEqual([0x04, 0x00, 0x00]);
    expect(await line.decode(lineBytes, decodeContext('lines'))).toEqual(
      create(v1.Order_LineSchema, { sku: 's' }),
    );
  });

  it('registers the rendered .proto with its import registered first and referenced', async () => {
    const registry = new EmbeddedRegistry();
    const topic = fresh('orders');
    await protobufCodec({ registry, schema: v1.OrderSchema }).encode(
      create(v1.OrderSchema),
      encodeContext(topic),
    );
    const timestamp = await registry.latest('google/protobuf/timestamp.proto');
    expect(timestamp?.schemaType).toBe('PROTOBUF');
    const latest = await registry.latest(`${topic}-value`);
    expect(latest?.schema).toBe(renderProto(v1.file_carrier_test_order));
    expect(latest?.references).toEqual([
      { name: 'google/protobuf/timestamp.proto', subject: 'google/protobuf/timestamp.proto', version: 1 },
    ]);
  });

  it('registers the source text given instead of rendering', async () => {
    const registry = new EmbeddedRegistry();
    const topic = fresh('refunds');
    const source =
      'syntax = "proto3";\npackage carrier.test;\nmessage Order {}\nmessage Refund { string order_id = 1; repeated int64 amounts = 2; }\n';
    const codec = protobufCodec({ registry, schema: v1.RefundSchema, source });
    const encoded = await codec.encode(create(v1.RefundSchema, { orderId: 'r' }), encodeContext(topic));
    expect((await registry.latest(`${topic}-value`))?.schema).toBe(source);
    expect((await codec.decode(encoded.bytes, decodeContext(topic))).orderId).toBe('r');
  });

  it('v1 producer → v2 consumer: the new fields read as their defaults', async () => {
    const registry = new EmbeddedRegistry();
    const topic = fresh('orders');
    const bytes = (
      await protobufCodec({ registry, schema: v1.OrderSchema }).encode(
        create(v1.OrderSchema, { id: 'o', quantity: 3 }),
        encodeContext(topic),
      )
    ).bytes;
    const read = await protobufCodec({ registry, schema: v2.OrderSchema }).decode(
      bytes,
      decodeContext(topic),
    );
    expect(read.id).toBe('o');
    expect(read.quantity).toBe(3);
    expect(read.note).toBe('');
    expect(read.gift).toBeUndefined();
  });

  it('v2 producer → v1 consumer: reads its fields, the new ones kept as unknown fields', async () => {
    const registry = new EmbeddedRegistry();
    const topic = fresh('orders');
    const c1 = protobufCodec({ registry, schema: v1.OrderSchema });
    await c1.encode(create(v1.OrderSchema), encodeContext(topic));
    const bytes = (
      await protobufCodec({ registry, schema: v2.OrderSchema }).encode(orderV2(), encodeContext(topic))
    ).bytes;
    const read = await c1.decode(bytes, decodeContext(topic));
    expect(read).toMatchObject({ id: 'o-7', quantity: 3, coupon: 'WELCOME', tags: { channel: 'web' } });
    expect(read.payment).toEqual({ case: 'card', value: '4242' });
    expect(read.$unknown?.map((u) => u.no)).toEqual([10, 11]);
  });

  it('v2 producer → v1 forwarder editing a known field → v2 consumer: new fields intact, edit there', async () => {
    const registry = new EmbeddedRegistry();
    const [inbound, outbound] = [fresh('orders'), fresh('orders-enriched')];
    const c1 = protobufCodec({ registry, schema: v1.OrderSchema });
    const c2 = protobufCodec({ registry, schema: v2.OrderSchema });
    await c1.encode(create(v1.OrderSchema), encodeContext(inbound));
    const sent = orderV2();
    const fromV2 = await c2.encode(sent, encodeContext(inbound));

    const received = await c1.decode(fromV2.bytes, decodeContext(inbound));
    received.quantity = 4;
    const forwarded = await c1.encode(received, encodeContext(outbound));

    const final = await c2.decode(forwarded.bytes, decodeContext(outbound));
    expect(final).toEqual({ ...sent, quantity: 4 });
    expect(final.note).toBe('ring twice');
    expect(final.gift?.sku).toBe('wrap');
  });

  it('refuses an incompatible v3 with SCHEMA_INCOMPATIBLE before anything is written', async () => {
    const registry = new EmbeddedRegistry();
    const topic = fresh('orders');
    await protobufCodec({ registry, schema: v1.OrderSchema }).encode(
      create(v1.OrderSchema),
      encodeContext(topic),
    );
    await protobufCodec({ registry, schema: v2.OrderSchema }).encode(
      create(v2.OrderSchema),
      encodeContext(topic),
    );
    const c3 = protobufCodec({ registry, schema: v3.OrderSchema });
    const error = await rejection(
      c3.encode(create(v3.OrderSchema, { quantity: 'three' }), encodeContext(topic)),
    );
    expect(error.code).toBe('SCHEMA_INCOMPATIBLE');
    expect(error.message).toContain('carrier.test.Order field 2');
    expect(await registry.versions(`${topic}-value`)).toEqual([1, 2]);
  });

  it('refuses a value that is not a message of the type, or cannot be encoded, with INVALID_MESSAGE', async () => {
    const codec = protobufCodec({ registry: new EmbeddedRegistry(), schema: v1.OrderSchema });
    const topic = fresh('orders');
    const plain = { id: 'o', quantity: 1 } as unknown as v1.Order;
    expect((await rejection(codec.encode(plain, encodeContext(topic)))).code).toBe('INVALID_MESSAGE');
    const refund = create(v1.RefundSchema) as unknown as v1.Order;
    expect((await rejection(codec.encode(refund, encodeContext(topic)))).code).toBe('INVALID_MESSAGE');
    const wrongField = create(v1.OrderSchema, { id: 'o' });
    (wrongField as unknown as { quantity: unknown }).quantity = 'many';
    const error = (await rejection(codec.encode(wrongField, encodeContext(topic)))) as Error & {
      code: string;
      issues: { path: unknown[] }[];
    };
    expect(error.code).toBe('INVALID_MESSAGE');
    expect(error.issues[0]?.path).toEqual(['quantity']);
  });

  it('refuses garbage, an unknown id and another message type with DECODE_FAILED', async () => {
    const registry = new EmbeddedRegistry();
    const topic = fresh('orders');
    const order = protobufCodec({ registry, schema: v1.OrderSchema });
    await order.encode(create(v1.OrderSchema), encodeContext(topic));
    const refundBytes = (
      await protobufCodec({ registry, schema: v1.RefundSchema }).encode(
        create(v1.RefundSchema),
        encodeContext(topic),
      )
    ).bytes;
    const mismatch = await rejection(order.decode(refundBytes, decodeContext(topic)));
    expect(mismatch.code).toBe('DECODE_FAILED');
    expect(mismatch.message).toContain('carrier.test.Refund');
    const cases = [
      Uint8Array.of(1, 2, 3, 4, 5, 6),
      Uint8Array.of(0, 0, 0, 0x30, 0x39, 0, 0x0a, 0x01, 0x61), // id 12345: unknown
      Uint8Array.of(0, 0, 0, 0, 2, 0, 0x0a, 0x05, 0x61), // length 5, one byte: truncated
      Uint8Array.of(0, 0, 0, 0, 2, 0x06, 0x00, 0x00, 0x00), // index path [0, 0, 0]: no such message
    ];
    for (const bytes of cases) {
      expect((await rejection(order.decode(bytes, decodeContext(topic)))).code).toBe('DECODE_FAILED');
    }
  });

  it('works end to end through the REST client against a served registry', async () => {
    const served = await serveRegistry(new EmbeddedRegistry());
    closers.push(() => served.close());
    const registry = new ConfluentRegistryClient({ url: served.url });
    const topic = fresh('orders');
    const c1 = protobufCodec({ registry, schema: v1.OrderSchema });
    const c2 = protobufCodec({ registry, schema: v2.OrderSchema });
    await c1.encode(create(v1.OrderSchema), encodeContext(topic));
    const read = await c1.decode(
      (await c2.encode(orderV2(), encodeContext(topic))).bytes,
      decodeContext(topic),
    );
    read.quantity = 9;
    const back = await c2.decode((await c1.encode(read, encodeContext(topic))).bytes, decodeContext(topic));
    expect(back).toEqual({ ...orderV2(), quantity: 9 });
  });
});
