import { connect, redactUrl } from '@carrier/core';
import { formatOutboxReport, runOutboxOrders } from './outbox-orders.js';
import { formatReport, runPipeline } from './pipeline.js';
import { evolveOrderSchema, formatEvolution } from './schema-evolution.js';

const url = process.env.CARRIER_URL ?? 'memory://';
const databaseUrl = process.env.DATABASE_URL;
const carrier = await connect(url);
try {
  // A fresh topic per run: groups are durable on real brokers, so runs never see each other's orders.
  const topic = `orders.demo-${Date.now().toString(36)}`;
  console.log(`connected to ${redactUrl(url)} (${carrier.transportName})`);
  const report = await runPipeline(carrier, topic);
  console.log(formatReport(carrier.transportName, report));
  // the order schema evolves once: v1 and v2 services side by side (schemas in an embedded registry)
  console.log(formatEvolution(await evolveOrderSchema(carrier, `${topic}.avro`)));
  // with a database: orders written to PostgreSQL and published through the transactional outbox
  if (databaseUrl) {
    console.log(`PostgreSQL ${redactUrl(databaseUrl)}`);
    console.log(formatOutboxReport(await runOutboxOrders(carrier, databaseUrl, `${topic}.outbox`)));
  }
} finally {
  await carrier.close();
}
