import type { Codec, DeadLetter, Message, StandardSchemaV1 } from '@carrier/core';
import { CarrierError } from '@carrier/core';
import { expect } from 'vitest';
import type { ContractCase } from '../case.js';
import { BINARY } from '../expect-code.js';
import { freshName } from '../support.js';

const theme = 'codecs and typed topics';

interface Order {
  id: string;
  amount: number;
}

/**
 * A Standard Schema validator written by hand (what zod, valibot and arktype implement): an order
 * needs a string `id` and a number `amount`; unknown keys are stripped from its output, as a zod
 * object does, so the case also sees them restored.
 */
const ORDER_SCHEMA: StandardSchemaV1<unknown, Order> = {
  '~standard': {
    version: 1,
    vendor: 'carrier-contract',
    validate(value) {
      if (typeof value !== 'object' || value === null) return { issues: [{ message: 'must be an object' }] };
      const { id, amount } = value as Record<string, unknown>;
      const issues: StandardSchemaV1.Issue[] = [];
      if (typeof id !== 'string') issues.push({ message: 'must be a string', path: ['id'] });
      if (typeof amount !== 'number') issues.push({ message: 'must be a number', path: ['amount'] });
      return issues.length > 0 ? { issues } : { value: { id: id as string, amount: amount as number } };
    },
  },
};

/** A reading of the custom codec below. */
interface Reading {
  sensor: string;
  value: number;
}

/** Content type of {@link readingCodec}: parameters included, to be carried as they are. */
const READING_CONTENT_TYPE = 'application/vnd.carrier.contract.reading+binary; v=1';

/**
 * A custom codec of binary bodies that no text codec survives: the Confluent framing (magic byte
 * 0, the schema id as a 4-byte big-endian integer), {@link BINARY}, the value as a float64 and the
 * sensor name in UTF-8. Asynchronous, as a codec that asks a registry is.
 */
function readingCodec(schemaId: number): Codec<Reading> {
  return {
    name: 'reading',
    contentType: READING_CONTENT_TYPE,
    async encode(reading) {
      await Promise.resolve();
      const sensor = new TextEncoder().encode(reading.sensor);
      const bytes = new Uint8Array(5 + BINARY.length + 8 + sensor.length);
      const view = new DataView(bytes.buffer);
      view.setUint8(0, 0);
      view.setUint32(1, schemaId);
      bytes.set(BINARY, 5);
      view.setFloat64(5 + BINARY.length, reading.value);
      bytes.set(sensor, 5 + BINARY.length + 8);
      return { bytes, contentType: READING_CONTENT_TYPE, schemaId: String(schemaId) };
    },
    async decode(bytes) {
      await Promise.resolve();
      const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
      if (bytes.length < 5 + BINARY.length + 8 || view.getUint8(0) !== 0)
        throw new CarrierError('DECODE_FAILED', 'not a framed reading');
      return {
        value: view.getFloat64(5 + BINARY.length),
        sensor: new TextDecoder().decode(bytes.subarray(5 + BINARY.length + 8)),
      };
    },
  };
}

export const typedTopicDeadLettersInvalidBody: ContractCase = {
  name: "a body a typed topic's consumer finds invalid is dead-lettered with the issues as its reason, handler never called",
  theme,
  async run({ carrier, until }) {
    const c = await carrier();
    const topic = freshName('typed-invalid');
    const orders = c.topic(topic, { schema: ORDER_SCHEMA });
    const handled: Message<Order>[] = [];
    await orders.subscribe({ group: 'g' }, (m) => {
      handled.push(m);
    });
    const letters: DeadLetter[] = [];
    await c.deadLetters(topic, 'g').subscribe((l) => {
      letters.push(l);
    });
    // published raw, bypassing the handle's validation (an older or foreign producer)
    const { id } = await c.publish(topic, { id: 42, amount: 'twelve', note: 'kept' });
    const valid = await orders.publish({ id: 'o-2', amount: 12, addedLater: true } as Order);
    await until(() => letters.length >= 1 && handled.length >= 1, 'the dead letter and the valid message');
    const [letter] = letters;
    expect(letter!.message.id).toBe(id);
    expect(letter!.reason).toMatch(/^body does not match the schema of topic /);
    expect(letter!.reason).toContain('id: must be a string');
    expect(letter!.reason).toContain('amount: must be a number');
    expect(letter!.attempts, 'dead-lettered at once, never retried').toBe(1);
    expect(letter!.message.body).toEqual({ id: 42, amount: 'twelve', note: 'kept' });
    expect(
      handled.map((m) => m.id),
      'the handler saw the valid message only',
    ).toEqual([valid.id]);
    expect(handled[0]!.body, 'keys the validator stripped are put back').toEqual({
      id: 'o-2',
      amount: 12,
      addedLater: true,
    });
  },
};

export const customCodecBytes: ContractCase = {
  name: "a custom codec's bytes and content type arrive byte for byte, and metadata.schemaId travels",
  theme,
  async run({ carrier, until }) {
    const c = await carrier();
    const topic = freshName('codec');
    const codec = readingCodec(0x01ff00fe);
    const decoded: Message<Reading>[] = [];
    const raw: Message[] = [];
    await c.subscribe<Reading>(topic, { group: 'decoded', codec }, (m) => {
      decoded.push(m);
    });
    if (c.capabilities.fanOut) {
      await c.subscribe(topic, { group: 'raw' }, (m) => {
        raw.push(m);
      });
    }
    const readings: Reading[] = [
      { sensor: 'température ☀', value: -273.15 },
      { sensor: '', value: Number.MAX_VALUE },
    ];
    await c.publish(topic, readings[0], { codec, id: 'one' });
    await c.publishBatch(topic, [{ body: readings[1], id: 'two' }], { codec });
    const expectedRaw = c.capabilities.fanOut ? 2 : 0;
    await until(() => decoded.length >= 2 && raw.length >= expectedRaw, 'every message');
    for (const [i, id] of ['one', 'two'].entries()) {
      const bytes = (await codec.encode(readings[i]!, { topic })).bytes;
      for (const m of [...decoded, ...raw].filter((x) => x.id === id)) {
        expect(Buffer.from(m.raw).equals(Buffer.from(bytes)), `${id}: the bytes`).toBe(true);
        expect(m.contentType, `${id}: the content type`).toBe(READING_CONTENT_TYPE);
        expect(m.metadata.schemaId, `${id}: the schema id`).toBe(String(0x01ff00fe));
      }
      expect(decoded.find((m) => m.id === id)!.body).toEqual(readings[i]);
    }
    // without the codec the bytes are the body: an unknown content type is never parsed
    for (const m of raw) expect(m.body).toEqual(m.raw);
  },
};
