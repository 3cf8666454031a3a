import { connect, redactUrl } from '@carrier/core';
import { formatReport, runPipeline } from './pipeline.js';
import { evolveOrderSchema, formatEvolution } from './schema-evolution.js';

const url = process.env.CARRIER_URL ?? 'memory://';
const carrier = await connect(url);
try {
  // A fresh topic per run: groups are durable on real brokers, so runs never see each other's orders.
  const topic = `orders.demo-${Date.now().toString(36)}`;
  console.log(`connected to ${redactUrl(url)} (${carrier.transportName})`);
  const report = await runPipeline(carrier, topic);
  console.log(formatReport(carrier.transportName, report));
  // the order schema evolves once: v1 and v2 services side by side (schemas in an embedded registry)
  console.log(formatEvolution(await evolveOrderSchema(carrier, `${topic}.avro`)));
} finally {
  await carrier.close();
}
