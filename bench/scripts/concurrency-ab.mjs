// Diagnostic A/B (docs/benchmarks.md): Carrier with handler concurrency 16 against Carrier with 64,
// same prefetch (64), trivial handler, end to end, alternating, 3 rounds of 10,000 messages. A gain
// means settlements, not handlers, hold the concurrency slots.
// usage: node bench/scripts/concurrency-ab.mjs kafka|nats|rabbitmq|sqs
import { connect } from '@carrier/core';
import { CarrierSide } from '../dist/carrier-side.js';
import { compare, THROUGHPUT } from '../dist/compare.js';
import { endToEnd } from '../dist/measure.js';
import { table } from '../dist/report.js';

const url = process.env[`CARRIER_TEST_${process.argv[2].toUpperCase()}_URL`];
const fixed = (side, label, concurrency) => ({
  label,
  prepare: (t, g) => side.prepare(t, g),
  publishOne: (t, p) => side.publishOne(t, p),
  publishBatch: (t, p) => side.publishBatch(t, p),
  consume: (t, g, o, f) => side.consume(t, g, { ...o, concurrency }, f),
  close: () => side.close(),
});
const a = fixed(new CarrierSide(await connect(url)), 'c16', 16);
const b = fixed(new CarrierSide(await connect(url)), 'c64', 64);
const scenario = {
  name: 'e2e',
  run: endToEnd,
  figures: THROUGHPUT,
  warmup: 500,
  settings: {
    messages: 10000,
    size: 1024,
    batch: 100,
    inflight: 16,
    consume: { prefetch: 64, concurrency: 16 },
    maxBacklog: 1000,
    deadlineMs: 300000,
  },
};
const figs = await compare({
  broker: process.argv[2],
  runId: 'conc',
  carrier: a,
  raw: b,
  reference: 'carrier c64',
  scenario,
  rounds: 3,
});
console.log(table(figs));
await a.close();
await b.close();
process.exit(0);
