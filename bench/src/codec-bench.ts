import { create } from '@bufbuild/protobuf';
import { type Codec, jsonCodec } from '@carrier/core';
import { EmbeddedRegistry } from '@carrier/schema';
import { avroCodec } from '@carrier/schema/avro';
import { jsonSchemaCodec } from '@carrier/schema/json-schema';
import { protobufCodec } from '@carrier/schema/protobuf';
import { progress } from './compare.js';
import { OrderSchema } from './gen/carrier/bench/order_pb.js';
import { type Figure, figure } from './report.js';
import type { BenchOptions } from './settings.js';
import { now } from './side.js';

/** Messages encoded (and decoded) per codec per round when `--messages` is not given. */
export const DEFAULT_CODEC_MESSAGES = 20_000;

/** The representative order body: a few scalars and three order lines (about 330 bytes as JSON). */
export const ORDER = {
  id: 'o-000123',
  customer: 'customer-42',
  total: 129.85,
  currency: 'EUR',
  address: '12 Harbour Street, 20457 Hamburg',
  createdAt: '2026-11-30T23:40:00.000Z',
  lines: [
    { sku: 'sku-0001', qty: 2, price: 19.95 },
    { sku: 'sku-0042', qty: 1, price: 49.95 },
    { sku: 'sku-0077', qty: 4, price: 10 },
  ],
};

const LINE_AVRO = {
  type: 'record',
  name: 'OrderLine',
  fields: [
    { name: 'sku', type: 'string' },
    { name: 'qty', type: 'int' },
    { name: 'price', type: 'double' },
  ],
};

const ORDER_AVRO = {
  type: 'record',
  name: 'Order',
  namespace: 'carrier.bench',
  fields: [
    { name: 'id', type: 'string' },
    { name: 'customer', type: 'string' },
    { name: 'total', type: 'double' },
    { name: 'currency', type: 'string' },
    { name: 'address', type: 'string' },
    { name: 'createdAt', type: 'string' },
    { name: 'lines', type: { type: 'array', items: LINE_AVRO } },
  ],
};

const ORDER_JSON_SCHEMA = {
  $schema: 'http://json-schema.org/draft-07/schema#',
  type: 'object',
  additionalProperties: false,
  required: ['id', 'customer', 'total', 'currency', 'address', 'createdAt', 'lines'],
  properties: {
    id: { type: 'string' },
    customer: { type: 'string' },
    total: { type: 'number' },
    currency: { type: 'string' },
    address: { type: 'string' },
    createdAt: { type: 'string' },
    lines: {
      type: 'array',
      items: {
        type: 'object',
        additionalProperties: false,
        required: ['sku', 'qty', 'price'],
        properties: { sku: { type: 'string' }, qty: { type: 'integer' }, price: { type: 'number' } },
      },
    },
  },
};

interface Contender {
  /** Figure name part: `avro`, `protobuf`, `json-schema`. */
  readonly name: string;
  readonly codec: Codec<unknown>;
  readonly body: unknown;
}

/** Each codec its own topic, so its own subject (`bench-codecs-<name>-value`). */
const topicOf = (name: string) => `bench-codecs-${name}`;

/** ns per message of `n` encodes; a promise is awaited as core awaits it (only when it is one). */
async function encodeLoop(topic: string, codec: Codec<unknown>, body: unknown, n: number): Promise<number> {
  const context = { topic };
  const t0 = now();
  for (let i = 0; i < n; i++) {
    const encoded = codec.encode(body, context);
    if (encoded instanceof Promise) await encoded;
  }
  return ((now() - t0) * 1e6) / n;
}

/** ns per message of `n` decodes of `bytes`. */
async function decodeLoop(
  topic: string,
  codec: Codec<unknown>,
  bytes: Uint8Array,
  contentType: string,
  n: number,
): Promise<number> {
  const context = { topic, contentType, metadata: {} };
  const t0 = now();
  for (let i = 0; i < n; i++) {
    const decoded = codec.decode(bytes, context);
    if (decoded instanceof Promise) await decoded;
  }
  return ((now() - t0) * 1e6) / n;
}

/**
 * In-process cost of each schema codec of `@carrier/schema` against core's `jsonCodec` (the
 * default for objects), on {@link ORDER}: encode and decode, ns per message, and the body size.
 * No broker. The registry is an `EmbeddedRegistry`; each codec encodes and decodes once before
 * the clock starts, so registration and the writer-schema lookup (cached afterwards) are not
 * timed. Rounds alternate JSON and the codecs; each figure's `raw` side is JSON.
 */
export async function codecFigures(options: BenchOptions): Promise<Figure[]> {
  const n = options.messages ?? DEFAULT_CODEC_MESSAGES;
  const registry = new EmbeddedRegistry();
  const json: Contender = { name: 'json', codec: jsonCodec as Codec<unknown>, body: ORDER };
  const contenders: Contender[] = [
    { name: 'avro', codec: avroCodec({ registry, schema: ORDER_AVRO }), body: ORDER },
    {
      name: 'protobuf',
      codec: protobufCodec({ registry, schema: OrderSchema }) as Codec<unknown>,
      body: create(OrderSchema, ORDER),
    },
    { name: 'json-schema', codec: jsonSchemaCodec({ registry, schema: ORDER_JSON_SCHEMA }), body: ORDER },
  ];
  const all = [json, ...contenders];
  const encoded = new Map<string, { bytes: Uint8Array; contentType: string }>();
  for (const c of all) {
    // warm-up, untimed: registers the schema, caches the writer's schema, lets the JIT settle
    const topic = topicOf(c.name);
    const e = await c.codec.encode(c.body, { topic });
    await c.codec.decode(e.bytes, { topic, contentType: e.contentType, metadata: {} });
    await encodeLoop(topic, c.codec, c.body, Math.min(n, 2_000));
    await decodeLoop(topic, c.codec, e.bytes, e.contentType, Math.min(n, 2_000));
    encoded.set(c.name, { bytes: e.bytes, contentType: e.contentType });
  }
  const rounds = new Map<string, { encode: number[]; decode: number[] }>(
    all.map((c) => [c.name, { encode: [], decode: [] }]),
  );
  for (let round = 0; round < options.rounds; round++) {
    progress(`codecs: round ${round + 1}/${options.rounds}, ${n} messages per codec`);
    for (const c of all) {
      const e = encoded.get(c.name)!;
      const topic = topicOf(c.name);
      rounds.get(c.name)!.encode.push(await encodeLoop(topic, c.codec, c.body, n));
      rounds.get(c.name)!.decode.push(await decodeLoop(topic, c.codec, e.bytes, e.contentType, n));
    }
  }
  const base = rounds.get('json')!;
  const jsonBytes = encoded.get('json')!.bytes.byteLength;
  const reference = `jsonCodec (core's default for objects), ${jsonBytes} B body`;
  const figures: Figure[] = [];
  for (const c of contenders) {
    const r = rounds.get(c.name)!;
    const size = encoded.get(c.name)!.bytes.byteLength;
    const common = { broker: 'codecs', unit: 'ns/msg', higherIsBetter: false, reference };
    figures.push(
      figure(
        { ...common, figure: `${c.name}.encode.ns_per_msg`, note: `${n} encodes per round` },
        r.encode,
        base.encode,
      ),
      figure(
        { ...common, figure: `${c.name}.decode.ns_per_msg`, note: `${n} decodes per round` },
        r.decode,
        base.decode,
      ),
      figure(
        {
          ...common,
          unit: 'B',
          figure: `${c.name}.body.bytes`,
          note: 'framed body size (5-byte header included)',
        },
        [size],
        [jsonBytes],
      ),
    );
  }
  return figures;
}
