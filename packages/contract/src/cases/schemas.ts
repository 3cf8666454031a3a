import { create } from '@bufbuild/protobuf';
import type { Codec, DeadLetter, Message } from '@carrier/core';
import { decodeFrame, encodeFrame, type SchemaRegistry } from '@carrier/schema';
import { avroCodec } from '@carrier/schema/avro';
import { jsonSchemaCodec } from '@carrier/schema/json-schema';
import { messageIndexes, protobufCodec } from '@carrier/schema/protobuf';
import { expect } from 'vitest';
import type { CaseContext, ContractCase } from '../case.js';
import { expectCode } from '../expect-code.js';
import * as pb1 from '../fixtures/gen/v1/carrier/contract/order_pb.js';
import * as pb2 from '../fixtures/gen/v2/carrier/contract/order_pb.js';
import * as pb3 from '../fixtures/gen/v3/carrier/contract/order_pb.js';
import { freshName } from '../support.js';

// The rolling-upgrade matrix of docs/schemas.md, once per schema format, on every transport: the
// same three cases run for Avro, Protobuf and JSON Schema through one implementation. Each format
// has three versions of an order: v1 `{ id, amount }`; v2 adds `note` (compatible both ways);
// v3 changes `amount` to a string (incompatible). Schemas go to the suite's schema registry
// (`schemaRegistry` option: the harness's real registry server on the brokers' specs).

const theme = 'schema evolution';

/** The fields of an order every version has. */
interface OrderFields {
  id: string;
  amount: number;
}

/** One schema format: its three versions' codecs and how to make a body of each. */
interface EvolvingFormat<V1 extends object, V2 extends object, V3 extends object> {
  /** Shown in the case names: `Avro`, `Protobuf`, `JSON Schema`. */
  readonly name: string;
  v1(registry: SchemaRegistry): Codec<V1>;
  v2(registry: SchemaRegistry): Codec<V2>;
  v3(registry: SchemaRegistry): Codec<V3>;
  order1(fields: OrderFields): V1;
  order2(fields: OrderFields & { note: string }): V2;
  order3(): V3;
  /** What a v2 reader reads as `note` from a v1 message. */
  readonly defaultNote: string | undefined;
  /** The message indexes of the order type in the frame (Protobuf only). */
  readonly messageIndexes?: readonly number[];
}

interface AvroOrderV1 extends OrderFields {}
interface AvroOrderV2 extends OrderFields {
  note: string;
}
interface OrderV3 {
  id: string;
  amount: string;
}

const avroOrder = (fields: readonly object[]) => ({
  type: 'record',
  name: 'Order',
  namespace: 'carrier.contract',
  fields: [{ name: 'id', type: 'string' }, ...fields],
});
const AVRO_AMOUNT = { name: 'amount', type: 'int' };

/** Avro (avsc): v2's `note` has a default, which a v2 reader fills in for v1 data. */
const avro: EvolvingFormat<AvroOrderV1, AvroOrderV2, OrderV3> = {
  name: 'Avro',
  v1: (registry) => avroCodec<AvroOrderV1>({ registry, schema: avroOrder([AVRO_AMOUNT]) }),
  v2: (registry) =>
    avroCodec<AvroOrderV2>({
      registry,
      schema: avroOrder([AVRO_AMOUNT, { name: 'note', type: 'string', default: 'none' }]),
    }),
  v3: (registry) =>
    avroCodec<OrderV3>({
      registry,
      schema: avroOrder([
        { name: 'amount', type: 'string' },
        { name: 'note', type: 'string', default: 'none' },
      ]),
    }),
  order1: (fields) => ({ ...fields }),
  order2: (fields) => ({ ...fields }),
  order3: () => ({ id: 'v3', amount: 'one' }),
  defaultNote: 'none',
};

/** Protobuf (@bufbuild/protobuf, types generated into src/fixtures): an absent field reads as proto3's default. */
const protobuf: EvolvingFormat<pb1.Order, pb2.Order, pb3.Order> = {
  name: 'Protobuf',
  v1: (registry) => protobufCodec({ registry, schema: pb1.OrderSchema }),
  v2: (registry) => protobufCodec({ registry, schema: pb2.OrderSchema }),
  v3: (registry) => protobufCodec({ registry, schema: pb3.OrderSchema }),
  order1: (fields) => create(pb1.OrderSchema, fields),
  order2: (fields) => create(pb2.OrderSchema, fields),
  order3: () => create(pb3.OrderSchema, { id: 'v3', amount: 'one' }),
  defaultNote: '',
  messageIndexes: messageIndexes(pb1.OrderSchema),
};

/** Closed content models, as BACKWARD evolution of JSON Schema wants (Confluent's rules). */
const jsonOrder = (properties: Record<string, object>) => ({
  type: 'object',
  properties: { id: { type: 'string' }, ...properties },
  required: ['id', 'amount'],
  additionalProperties: false,
});

/** JSON Schema (ajv): `note` is optional; JSON has no schema resolution, so a v1 body has none. */
const jsonSchema: EvolvingFormat<OrderFields, OrderFields & { note?: string }, OrderV3> = {
  name: 'JSON Schema',
  v1: (registry) => jsonSchemaCodec({ registry, schema: jsonOrder({ amount: { type: 'integer' } }) }),
  v2: (registry) =>
    jsonSchemaCodec({
      registry,
      schema: jsonOrder({ amount: { type: 'integer' }, note: { type: 'string' } }),
    }),
  v3: (registry) =>
    jsonSchemaCodec({
      registry,
      schema: jsonOrder({ amount: { type: 'string' }, note: { type: 'string' } }),
    }),
  order1: (fields) => ({ ...fields }),
  order2: (fields) => ({ ...fields }),
  order3: () => ({ id: 'v3', amount: 'one' }),
  defaultNote: undefined,
};

/** `id`, `amount` and `note` (when present) of a decoded body, without format-specific extras. */
function fieldsOf(body: object): { id?: unknown; amount?: unknown; note?: unknown } {
  const { id, amount, note } = body as Record<string, unknown>;
  return note === undefined ? { id, amount } : { id, amount, note };
}

/** Subscribe `group` on `topic` with `codec`, collecting what it gets. */
async function collect<T>(
  c: Awaited<ReturnType<CaseContext['carrier']>>,
  topic: string,
  codec: Codec<T>,
): Promise<Message<T>[]> {
  const got: Message<T>[] = [];
  await c.subscribe<T>(topic, { group: 'g', codec }, (m) => {
    got.push(m);
  });
  return got;
}

/**
 * v1 producer → v2 consumer (the default), v2 producer → v1 consumer (reads its fields), and an
 * incompatible v3 refused at publish with nothing sent.
 */
function readersAcrossVersions<V1 extends object, V2 extends object, V3 extends object>(
  format: EvolvingFormat<V1, V2, V3>,
): ContractCase {
  return {
    name: `schema evolution (${format.name}): a v2 reader reads v1 messages with the default, a v1 reader reads v2 messages, an incompatible v3 is refused at publish`,
    theme,
    async run({ carrier, schemaRegistry, until }) {
      const registry = schemaRegistry();
      const c = await carrier();
      const [upgraded, older] = [freshName('schema-up'), freshName('schema-down')];
      const subject = `${upgraded}-value`;
      const byV2 = await collect(c, upgraded, format.v2(registry));
      const byV1 = await collect(c, older, format.v1(registry));

      const v1 = format.v1(registry);
      const v2 = format.v2(registry);
      const first = await c.publish(upgraded, format.order1({ id: 'o-1', amount: 1 }), { codec: v1 });
      // the registry under test decides (Apicurio's default is NONE): ask for BACKWARD explicitly
      await registry.setCompatibility('BACKWARD', subject);
      const second = await c.publish(upgraded, format.order2({ id: 'o-2', amount: 2, note: 'n-2' }), {
        codec: v2,
      });
      await expectCode(
        c.publish(upgraded, format.order3(), { codec: format.v3(registry) }),
        'SCHEMA_INCOMPATIBLE',
      );
      expect(await registry.versions(subject), 'the refused v3 was not registered').toHaveLength(2);
      const last = await c.publish(upgraded, format.order2({ id: 'o-3', amount: 3, note: 'n-3' }), {
        codec: v2,
      });
      const down = await c.publish(older, format.order2({ id: 'o-4', amount: 4, note: 'n-4' }), {
        codec: v2,
      });

      await until(() => byV2.length >= 3 && byV1.length >= 1, 'every message');
      const ids = (messages: Message<object>[]) => messages.map((m) => m.id).sort();
      expect(ids(byV2), 'the v2 reader got v1 and v2 messages, nothing of v3').toEqual(
        [first.id, second.id, last.id].sort(),
      );
      const read = (id: string) => fieldsOf(byV2.find((m) => m.id === id)!.body);
      expect(read(first.id), 'v1 → v2: the new field takes its default').toEqual(
        fieldsOf({ id: 'o-1', amount: 1, note: format.defaultNote }),
      );
      expect(read(second.id)).toEqual({ id: 'o-2', amount: 2, note: 'n-2' });
      expect(byV1.map((m) => m.id)).toEqual([down.id]);
      expect(
        { ...fieldsOf(byV1[0]!.body), note: undefined },
        "v2 → v1: the v1 reader reads the fields it knows; v2's note does not disturb it",
      ).toEqual({ id: 'o-4', amount: 4, note: undefined });
    },
  };
}

/** v2 producer → v1 forwarder (edits `amount`, publishes on) → v2 consumer. */
function forwarderKeepsNewField<V1 extends object, V2 extends object, V3 extends object>(
  format: EvolvingFormat<V1, V2, V3>,
): ContractCase {
  return {
    name: `schema evolution (${format.name}): a v1 forwarder that edits a known field passes v2's new field on intact`,
    theme,
    async run({ carrier, schemaRegistry, until }) {
      const registry = schemaRegistry();
      const c = await carrier();
      const [inbound, outbound] = [freshName('schema-in'), freshName('schema-out')];
      const received = await collect(c, outbound, format.v2(registry));
      const forwarderCodec = format.v1(registry);
      await c.subscribe<V1>(inbound, { group: 'forwarder', codec: forwarderCodec }, async (m) => {
        // the natural path: spread the decoded body, change what v1 knows, publish with v1's codec
        const amount = (m.body as unknown as OrderFields).amount;
        await c.publish(outbound, { ...m.body, amount: amount * 10 }, { codec: forwarderCodec });
      });
      const v2 = format.v2(registry);
      const sent = { id: 'o-1', amount: 7, note: 'gift wrap ☀' };
      const { id } = await c.publish(inbound, format.order2(sent), { codec: v2 });
      await until(() => received.length >= 1, 'the forwarded message');
      expect(received).toHaveLength(1);
      expect(fieldsOf(received[0]!.body), 'the edit is there, the new field intact').toEqual({
        ...sent,
        amount: 70,
      });
      expect(received[0]!.id).not.toBe(id);
    },
  };
}

/** A body that does not match its schema is dead-lettered with a reason, at once. */
function mismatchDeadLettered<V1 extends object, V2 extends object, V3 extends object>(
  format: EvolvingFormat<V1, V2, V3>,
): ContractCase {
  return {
    name: `schema evolution (${format.name}): a body that does not match its schema is dead-lettered with a reason, handler never called`,
    theme,
    async run({ carrier, schemaRegistry, until }) {
      const registry = schemaRegistry();
      const c = await carrier();
      const topic = freshName('schema-bad');
      const codec = format.v1(registry);
      const handled = await collect(c, topic, codec);
      const letters: DeadLetter[] = [];
      await c.deadLetters(topic, 'g').subscribe((l) => {
        letters.push(l);
      });
      const valid = await c.publish(topic, format.order1({ id: 'o-1', amount: 1 }), { codec });
      const schemaId = (await registry.latest(`${topic}-value`))!.id;
      const options = { contentType: codec.contentType };
      const framed = (payload: Uint8Array) => encodeFrame(schemaId, payload, format.messageIndexes);
      // the schema's frame around bytes that are no order (a truncated varint in every format)
      const garbage = await c.publish(topic, framed(new Uint8Array([0xff, 0xff, 0xff, 0xff])), options);
      // the schema's frame around a v3 order (`amount` a string), as a confused producer writes it
      const v3 = await format.v3(registry).encode(format.order3(), { topic: freshName('schema-v3') });
      const v3Payload = decodeFrame(v3.bytes, {
        messageIndexes: format.messageIndexes !== undefined,
      }).payload;
      const mismatch = await c.publish(topic, framed(v3Payload), options);
      // a well-formed order under a schema id the registry does not have
      const good = (await codec.encode(format.order1({ id: 'o-2', amount: 2 }), { topic })).bytes;
      const unknownId = good.slice();
      new DataView(unknownId.buffer).setUint32(1, UNKNOWN_ID);
      const unknown = await c.publish(topic, unknownId, options);
      const tail = await c.publish(topic, format.order1({ id: 'o-3', amount: 3 }), { codec });

      await until(
        () => letters.length >= 3 && handled.length >= 2,
        'the dead letters and the valid messages',
      );
      expect(handled.map((m) => m.id).sort(), 'the handler saw the valid messages only').toEqual(
        [valid.id, tail.id].sort(),
      );
      expect(letters.map((l) => l.message.id).sort()).toEqual([garbage.id, mismatch.id, unknown.id].sort());
      for (const letter of letters) {
        expect(letter.attempts, 'dead-lettered at once, never retried').toBe(1);
        expect(Buffer.from(letter.message.raw).subarray(0, 1), 'the bytes as sent').toEqual(Buffer.from([0]));
      }
      const reason = (id: string) => letters.find((l) => l.message.id === id)!.reason;
      // DECODE_FAILED (bytes that do not parse), or INVALID_MESSAGE (JSON that fails its schema)
      for (const id of [garbage.id, mismatch.id])
        expect(reason(id)).toMatch(/^cannot decode: |does not match/);
      expect(reason(unknown.id)).toContain(`schema id ${UNKNOWN_ID} is not in the registry`);
    },
  };
}

/** A schema id no registry of the suite hands out. */
const UNKNOWN_ID = 0x7ffffff0;

/** The three cases of one format. */
function casesOf<V1 extends object, V2 extends object, V3 extends object>(
  format: EvolvingFormat<V1, V2, V3>,
): ContractCase[] {
  return [readersAcrossVersions(format), forwarderKeepsNewField(format), mismatchDeadLettered(format)];
}

/** The rolling-upgrade cases of each schema format (Avro, Protobuf, JSON Schema), in that order. */
export const schemaEvolutionCases: readonly ContractCase[] = [
  ...casesOf(avro),
  ...casesOf(protobuf),
  ...casesOf(jsonSchema),
];
