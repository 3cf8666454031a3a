import { type Carrier, isCarrierError } from '@carrier/core';
import { EmbeddedRegistry, type SchemaRegistry } from '@carrier/schema';
import { avroCodec } from '@carrier/schema/avro';

/** The order as v1 of its Avro schema knows it. */
export interface OrderV1 {
  id: number;
  customer: string;
  total: number;
}

/** v2 adds `currency`, with a default, so v1 and v2 read each other (docs/schemas.md). */
export interface OrderV2 extends OrderV1 {
  currency: string;
}

export const ORDER_V1 = {
  type: 'record',
  name: 'Order',
  namespace: 'shop',
  fields: [
    { name: 'id', type: 'int' },
    { name: 'customer', type: 'string' },
    { name: 'total', type: 'double' },
  ],
} as const;

export const ORDER_V2 = {
  ...ORDER_V1,
  fields: [...ORDER_V1.fields, { name: 'currency', type: 'string', default: 'EUR' }],
} as const;

/** v3 turns `id` into a string: neither side could read the other's, refused by the registry. */
export const ORDER_V3 = {
  ...ORDER_V1,
  fields: [{ name: 'id', type: 'string' }, ...ORDER_V1.fields.slice(1)],
} as const;

/** What the evolution step saw, for the summary and the test. */
export interface EvolutionReport {
  topic: string;
  /** The subject's compatibility level. */
  level: string;
  /** A v1 order read by the v2 consumer: `currency` took its default. */
  v1ReadByV2: OrderV2 | undefined;
  /** A v2 order read by the v1 consumer: its typed fields (the v1 type has no `currency`). */
  v2ReadByV1: OrderV1 | undefined;
  /** The v2 order after the v1 forwarder added a surcharge, read by a v2 consumer. */
  forwardedReadByV2: OrderV2 | undefined;
  /** The code v3's publish was refused with (`SCHEMA_INCOMPATIBLE`). */
  v3Refused: string | undefined;
}

async function until(condition: () => boolean, timeoutMs: number, what: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

/**
 * Evolve the order schema once, as a rolling upgrade would meet it: v1 and v2 producers and
 * consumers of `topic` run side by side (Avro with the Confluent wire format, the schemas in
 * `registry`, level `FULL_TRANSITIVE` so either side may deploy first), a forwarder still on v1
 * republishes v2 orders to `<topic>.billed` with a surcharge and keeps `currency`, and a v3 that
 * breaks compatibility is refused before anything is sent.
 */
export async function evolveOrderSchema(
  carrier: Carrier,
  topic: string,
  registry: SchemaRegistry = new EmbeddedRegistry(),
  timeoutMs = 20_000,
): Promise<EvolutionReport> {
  const level = 'FULL_TRANSITIVE';
  await registry.setCompatibility(level, `${topic}-value`);
  await registry.setCompatibility(level, `${topic}.billed-value`);
  const v1 = avroCodec<OrderV1>({ registry, schema: ORDER_V1 });
  const v2 = avroCodec<OrderV2>({ registry, schema: ORDER_V2 });
  const ordersV1 = carrier.topic(topic, { codec: v1 });
  const ordersV2 = carrier.topic(topic, { codec: v2 });
  const billedV1 = carrier.topic(`${topic}.billed`, { codec: v1 });
  const billedV2 = carrier.topic(`${topic}.billed`, { codec: v2 });

  const report: EvolutionReport = {
    topic,
    level,
    v1ReadByV2: undefined,
    v2ReadByV1: undefined,
    forwardedReadByV2: undefined,
    v3Refused: undefined,
  };

  // the new consumer (already upgraded) and the old one (not yet) read the same topic
  const newConsumer = await ordersV2.subscribe({ group: 'analytics-v2' }, (msg) => {
    if (msg.body.id === 1) report.v1ReadByV2 = msg.body;
  });
  const oldConsumer = await ordersV1.subscribe({ group: 'billing-v1' }, async (msg) => {
    if (msg.body.id !== 2) return;
    report.v2ReadByV1 = { id: msg.body.id, customer: msg.body.customer, total: msg.body.total };
    // the old service forwards: it edits what it knows; the spread keeps `currency` and the
    // writer-schema marker, so the v2 field is written on
    await billedV1.publish({ ...msg.body, total: Math.round(msg.body.total * 1.05 * 100) / 100 });
  });
  const downstream = await billedV2.subscribe({ group: 'ledger-v2' }, (msg) => {
    report.forwardedReadByV2 = msg.body;
  });

  await ordersV1.publish({ id: 1, customer: 'customer-1', total: 12.5 }); // an old producer
  await ordersV2.publish({ id: 2, customer: 'customer-2', total: 25, currency: 'USD' }); // a new one

  try {
    const ordersV3 = carrier.topic(topic, {
      codec: avroCodec<{ id: string; customer: string; total: number }>({ registry, schema: ORDER_V3 }),
    });
    await ordersV3.publish({ id: 'o-3', customer: 'customer-3', total: 37.5 });
  } catch (error) {
    if (!isCarrierError(error, 'SCHEMA_INCOMPATIBLE')) throw error;
    report.v3Refused = error.code;
  }

  await until(
    () => report.v1ReadByV2 !== undefined && report.forwardedReadByV2 !== undefined,
    timeoutMs,
    'the v1 and v2 orders to be read and forwarded',
  );
  await Promise.all([newConsumer.close(), oldConsumer.close(), downstream.close()]);
  return report;
}

/** The human summary of the evolution step. */
export function formatEvolution(report: EvolutionReport): string {
  const show = (order: object | undefined) => (order ? JSON.stringify({ ...order }) : 'not read');
  return [
    `schema evolution (Avro, level ${report.level}) — topic ${report.topic}; v2 adds currency (default "EUR"), the forwarder adds 5 %`,
    `  v1 producer → v2 consumer : ${show(report.v1ReadByV2)}`,
    `  v2 producer → v1 consumer : ${show(report.v2ReadByV1)}`,
    `  v2 → v1 forwarder → v2    : ${show(report.forwardedReadByV2)}`,
    `  v3 (id: int → string)     : ${report.v3Refused ? `refused with ${report.v3Refused}, nothing sent` : 'NOT refused'}`,
  ].join('\n');
}
