import { type Carrier, type Codec, connect, type Message } from '@carrier/core';
import { afterEach, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { avroCodec } from './avro/index.js';
import { EmbeddedRegistry } from './embedded-registry.js';
import { jsonSchemaCodec } from './json-schema/index.js';
import { fresh } from './test-support/registries.js';

// A typed topic that has both a validator (zod, which strips unknown keys) and a schema codec: a
// forwarder that knows only v1 must still pass on the field a v2 producer added.

interface V1 {
  id: string;
  total: number;
}
interface V2 extends V1 {
  currency: string;
}
const Order = z.object({ id: z.string(), total: z.number() });

/** Wait until `done()` holds, or fail after `ms`. */
async function waitFor(done: () => boolean, ms = 5_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!done()) {
    if (Date.now() > deadline) throw new Error(`condition not met within ${ms} ms`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

const open: Carrier[] = [];
afterEach(async () => {
  await Promise.all(open.splice(0).map((c) => c.close()));
});

const avro = {
  name: 'avro',
  level: 'FULL' as const,
  v1: {
    type: 'record',
    name: 'Order',
    fields: [
      { name: 'id', type: 'string' },
      { name: 'total', type: 'double' },
    ],
  },
  v2: {
    type: 'record',
    name: 'Order',
    fields: [
      { name: 'id', type: 'string' },
      { name: 'total', type: 'double' },
      { name: 'currency', type: 'string', default: 'EUR' },
    ],
  },
  codec: <T>(registry: EmbeddedRegistry, schema: Record<string, unknown>): Codec<T> =>
    avroCodec<T>({ registry, schema }),
};
const closedObject = (properties: Record<string, unknown>) => ({
  type: 'object',
  properties,
  required: ['id', 'total'],
  additionalProperties: false,
});
const jsonSchema = {
  name: 'JSON Schema (closed content model)',
  level: 'BACKWARD' as const, // adding a property to a closed model is BACKWARD, not FORWARD
  v1: closedObject({ id: { type: 'string' }, total: { type: 'number' } }),
  v2: closedObject({ id: { type: 'string' }, total: { type: 'number' }, currency: { type: 'string' } }),
  codec: <T>(registry: EmbeddedRegistry, schema: Record<string, unknown>): Codec<T> =>
    jsonSchemaCodec<T>({ registry, schema }),
};

describe.each([avro, jsonSchema])('typed topic with zod and $name: a v1 forwarder', (format) => {
  it("keeps the field a v2 producer added (the validator's stripped keys and the writer-schema mark put back)", async () => {
    const registry = new EmbeddedRegistry();
    const carrier = await connect(`memory://${fresh('fwd')}`);
    open.push(carrier);
    const [inbound, outbound] = [fresh('orders'), fresh('billed')];
    for (const topic of [inbound, outbound]) await registry.setCompatibility(format.level, `${topic}-value`);
    const v1 = format.codec<V1>(registry, format.v1);
    const v2 = format.codec<V2>(registry, format.v2);
    await v1.encode({ id: 'seed', total: 0 }, { topic: inbound }); // v1 came first
    await v1.encode({ id: 'seed', total: 0 }, { topic: outbound });

    const billed = carrier.topic(outbound, { schema: Order, codec: v1 });
    await carrier.topic(inbound, { schema: Order, codec: v1 }).subscribe({ group: 'vat' }, async (m) => {
      await billed.publish({ ...m.body, total: m.body.total * 2 });
    });
    const got: Message<V2>[] = [];
    await carrier.topic(outbound, { codec: v2 }).subscribe({ group: 'ledger' }, (m) => {
      got.push(m);
    });
    await carrier.topic(inbound, { codec: v2 }).publish({ id: 'o-1', total: 10, currency: 'USD' });
    await waitFor(() => got.length === 1);
    expect(got[0]!.body).toMatchObject({ id: 'o-1', total: 20, currency: 'USD' });
  });
});
