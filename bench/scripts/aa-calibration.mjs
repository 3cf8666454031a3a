// Calibration (docs/benchmarks.md): Carrier against itself (two connections), publish-single and
// publish-batch, alternating A/B/A/B, 3 rounds. Ratios away from 1 are the bench's own noise and order bias.
// usage: node bench/scripts/aa-calibration.mjs kafka|nats|rabbitmq|sqs
import { connect } from '@carrier/core';
import { CarrierSide } from '../dist/carrier-side.js';
import { compare, THROUGHPUT } from '../dist/compare.js';
import { publishBatches, publishSingle } from '../dist/measure.js';
import { table } from '../dist/report.js';

const broker = process.argv[2];
const url = process.env[`CARRIER_TEST_${broker.toUpperCase()}_URL`];
const mk = async (label) => {
  const s = new CarrierSide(await connect(url));
  return {
    label,
    prepare: (t, g) => s.prepare(t, g),
    publishOne: (t, p) => s.publishOne(t, p),
    publishBatch: (t, p) => s.publishBatch(t, p),
    consume: (...a) => s.consume(...a),
    close: () => s.close(),
  };
};
const a = await mk('first');
const b = await mk('second');
const base = {
  size: 1024,
  batch: 100,
  inflight: 16,
  consume: { prefetch: 64, concurrency: 16 },
  maxBacklog: 1000,
  deadlineMs: 300000,
};
const figs = [];
for (const [name, run, messages] of [
  ['publish-single', publishSingle, 2000],
  ['publish-batch', publishBatches, 20000],
]) {
  figs.push(
    ...(await compare({
      broker,
      runId: 'aa',
      carrier: a,
      raw: b,
      reference: 'A/A',
      rounds: 3,
      scenario: { name, run, figures: [THROUGHPUT[0]], warmup: 500, settings: { ...base, messages } },
    })),
  );
}
console.log(table(figs));
process.exit(0);
