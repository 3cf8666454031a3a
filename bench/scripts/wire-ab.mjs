// Diagnostic A/B (docs/benchmarks.md, "Where the gaps come from"): the raw client publishing with the
// metadata Carrier puts on every message (ids, content type, publish time) against the same client
// plain, alternating, 3 rounds. Shows how much of a publish gap is the wire format, not code.
// usage (after npm run bench built dist/, with CARRIER_TEST_<BROKER>_URL set):
//   node bench/scripts/wire-ab.mjs rabbitmq|nats|kafka
import { randomUUID } from 'node:crypto';
import { compare, THROUGHPUT } from '../dist/compare.js';
import { publishBatches, publishSingle } from '../dist/measure.js';
import { table } from '../dist/report.js';

const broker = process.argv[2];
const url = process.env[`CARRIER_TEST_${broker.toUpperCase()}_URL`];
let plain, rich;
if (broker === 'nats') {
  const { JetStreamSide } = await import('../dist/brokers/nats.js');
  const { headers } = await import('@nats-io/transport-node');
  plain = await JetStreamSide.connect(url);
  const base = await JetStreamSide.connect(url);
  const one = (topic, p) => {
    const h = headers();
    h.set('carrier-content-type', 'application/octet-stream');
    h.set('carrier-published-at', String(Date.now()));
    return base.js.publish(`raw.${topic}`, p, {
      msgID: randomUUID(),
      headers: h,
      expect: { streamName: `RAW_${topic.replace(/\./g, '_')}` },
    });
  };
  rich = {
    label: 'with-carrier-headers',
    prepare: (t, g) => base.prepare(t, g),
    publishOne: async (t, p) => {
      await one(t, p);
    },
    publishBatch: async (t, ps) => {
      await Promise.all(ps.map((p) => one(t, p)));
    },
    consume: () => {
      throw new Error('n/a');
    },
    close: () => base.close(),
  };
} else if (broker === 'kafka') {
  const { KafkajsSide } = await import('../dist/brokers/kafka.js');
  plain = await KafkajsSide.connect(url);
  const base = await KafkajsSide.connect(url);
  const kafkajs = (await import('kafkajs')).default;
  const producer = base.kafka.producer({
    idempotent: true,
    maxInFlightRequests: 1,
    allowAutoTopicCreation: false,
    createPartitioner: kafkajs.Partitioners.DefaultPartitioner,
  });
  await producer.connect();
  base.getProducerForBench = async () => producer;
  const rec = (p) => ({
    value: Buffer.from(p),
    timestamp: String(Date.now()),
    headers: {
      'carrier-id': randomUUID(),
      'carrier-content-type': 'application/octet-stream',
      'carrier-published-at': new Date().toISOString(),
    },
  });
  rich = {
    label: 'with-carrier-headers',
    prepare: (t, g) => base.prepare(t, g),
    publishOne: async (t, p) => {
      await (await base.getProducerForBench()).send({ topic: t, acks: -1, messages: [rec(p)] });
    },
    publishBatch: async (t, ps) => {
      await (await base.getProducerForBench()).send({ topic: t, acks: -1, messages: ps.map(rec) });
    },
    consume: () => {
      throw new Error('n/a');
    },
    close: () => base.close(),
  };
} else {
  const { AmqplibSide } = await import('../dist/brokers/rabbitmq.js');
  plain = await AmqplibSide.connect(url);
  rich = await AmqplibSide.connect(url);
  const base = rich;
  const chan = await base.model.createConfirmChannel();
  const send = (topic, p) =>
    new Promise((res, rej) =>
      chan.publish(
        `raw:${topic}`,
        'carrier',
        Buffer.from(p),
        {
          persistent: true,
          mandatory: true,
          contentType: 'application/octet-stream',
          messageId: randomUUID(),
          timestamp: Math.floor(Date.now() / 1000),
          headers: { 'carrier-published-at': String(Date.now()) },
        },
        (e) => (e ? rej(e) : res()),
      ),
    );
  rich = {
    label: 'with-carrier-props',
    prepare: (t, g) => base.prepare(t, g),
    publishOne: (t, p) => send(t, p),
    publishBatch: async (t, ps) => {
      await Promise.all(ps.map((p) => send(t, p)));
    },
    consume: () => {
      throw new Error('n/a');
    },
    close: () => base.close(),
  };
}
const settings = {
  size: 1024,
  batch: 100,
  inflight: 16,
  consume: { prefetch: 64, concurrency: 16 },
  maxBacklog: 1000,
  deadlineMs: 300000,
};
const figs = [];
for (const [name, run, messages] of [
  ['publish-single', publishSingle, 3000],
  ['publish-batch', publishBatches, 10000],
]) {
  figs.push(
    ...(await compare({
      broker,
      runId: 'wire',
      carrier: rich,
      raw: plain,
      reference: 'plain',
      rounds: 3,
      scenario: { name, run, figures: [THROUGHPUT[0]], warmup: 200, settings: { ...settings, messages } },
    })),
  );
}
console.log(table(figs));
process.exit(0);
