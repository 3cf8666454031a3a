import { randomBytes } from 'node:crypto';
import { type Carrier, connect, redactUrl } from '@carrier/core';
import { migrate, Outbox, OutboxRelay } from '@carrier/outbox';
import pg from 'pg';
import { progress } from './compare.js';
import { type Figure, figure } from './report.js';
import type { BenchOptions } from './settings.js';
import { latencyPercentiles } from './stats.js';

// `npm run bench -- --broker outbox:<broker>`: the transactional outbox (@carrier/outbox) on a real
// broker and PostgreSQL, against Carrier publishing directly, alternating rounds A/B as every
// comparison here does.
//
// - relay.msgs_per_s: `messages` rows committed into the outbox first (transactions of `batch`
//   messages, 50 keys), then a relay starts; the time until the last row is confirmed by the broker
//   and deleted (the outbox table empty). Reference: the same messages through `publishBatch` in
//   batches of `batch` from one connection (Carrier's fastest confirmed publish).
// - commit-to-handler.p50_ms / p99_ms: with a relay running idle and a consumer subscribed,
//   `serial` transactions one after another (each inserts one message and commits; the next starts
//   when the consumer got the previous one), latency from COMMIT returning to the handler running.
//   Reference: `publish` to handler on the same broker, one message at a time.
//
// PostgreSQL from CARRIER_TEST_POSTGRES_URL (or DATABASE_URL); each round uses a fresh schema,
// dropped afterwards.

/** The brokers `outbox:<broker>` runs on. */
export const OUTBOX_BROKERS = ['kafka', 'rabbitmq', 'nats', 'sqs'] as const;

/** Rows per round when `--messages` is not given (moto is slow: SQS gets fewer). */
const DEFAULT_ROWS: Readonly<Record<string, number>> = {
  kafka: 5_000,
  rabbitmq: 5_000,
  nats: 5_000,
  sqs: 500,
};
const KEYS = 50;

/** The PostgreSQL URL of the bench, or undefined when none is set. */
export function benchPostgresUrl(env: NodeJS.ProcessEnv = process.env): string | undefined {
  return env.CARRIER_TEST_POSTGRES_URL ?? env.DATABASE_URL;
}

interface Round {
  readonly pool: pg.Pool;
  readonly schema: string;
  drop(): Promise<void>;
}

async function freshRound(postgresUrl: string): Promise<Round> {
  const schema = `outbox_bench_${Date.now().toString(36)}_${randomBytes(3).toString('hex')}`;
  const pool = new pg.Pool({ connectionString: postgresUrl, max: 6 });
  pool.on('error', (e) => progress(`outbox bench pool: ${e.message}`));
  await pool.query(`CREATE SCHEMA ${pg.escapeIdentifier(schema)}`);
  await migrate(pool, { schema });
  return {
    pool,
    schema,
    async drop() {
      try {
        await pool.query(`DROP SCHEMA IF EXISTS ${pg.escapeIdentifier(schema)} CASCADE`);
      } finally {
        await pool.end();
      }
    },
  };
}

async function until(
  condition: () => boolean | Promise<boolean>,
  timeoutMs: number,
  what: string,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline)
      throw new Error(`outbox bench: timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 2));
  }
}

async function outboxRows(round: Round): Promise<number> {
  const { rows } = await round.pool.query<{ n: string }>(
    `SELECT count(*) AS n FROM ${pg.escapeIdentifier(round.schema)}.outbox`,
  );
  return Number(rows[0]!.n);
}

/** Commits `messages` outbox rows in transactions of `batch`. */
async function fill(
  carrier: Carrier,
  round: Round,
  topic: string,
  messages: number,
  batch: number,
  body: Uint8Array,
) {
  const outbox = new Outbox(carrier, { schema: round.schema });
  const client = await round.pool.connect();
  try {
    for (let start = 0; start < messages; start += batch) {
      await client.query('BEGIN');
      for (let i = start; i < Math.min(messages, start + batch); i++) {
        await outbox.publish(client, topic, body, { key: `k-${i % KEYS}` });
      }
      await client.query('COMMIT');
    }
  } finally {
    client.release();
  }
}

/** One relay round: ms/message from a started relay to an empty outbox. Returns msg/s. */
async function relayRound(carrier: Carrier, postgresUrl: string, o: BenchOptions, rows: number) {
  const round = await freshRound(postgresUrl);
  try {
    const topic = `bench.outbox.${Date.now().toString(36)}.${randomBytes(3).toString('hex')}`;
    const drain = await drainingGroup(carrier, topic);
    await fill(carrier, round, topic, rows, o.batch, randomBytes(o.size));
    const relay = new OutboxRelay({ pool: round.pool, carrier, schema: round.schema });
    const t0 = performance.now();
    await relay.start();
    await until(async () => (await outboxRows(round)) === 0, 600_000, `the relay to publish ${rows} rows`);
    const seconds = (performance.now() - t0) / 1000;
    await relay.close();
    await drain.close();
    return rows / seconds;
  } finally {
    await round.drop();
  }
}

/** The reference of relayRound: the same messages through publishBatch. Returns msg/s. */
async function directRound(carrier: Carrier, o: BenchOptions, rows: number): Promise<number> {
  const topic = `bench.direct.${Date.now().toString(36)}.${randomBytes(3).toString('hex')}`;
  const body = randomBytes(o.size);
  const drain = await drainingGroup(carrier, topic);
  const t0 = performance.now();
  for (let start = 0; start < rows; start += o.batch) {
    const n = Math.min(o.batch, rows - start);
    await carrier.publishBatch(
      topic,
      Array.from({ length: n }, (_, j) => ({ body, key: `k-${(start + j) % KEYS}` })),
    );
  }
  const perSecond = rows / ((performance.now() - t0) / 1000);
  await drain.close();
  return perSecond;
}

/**
 * A group that takes the messages of `topic` and does nothing, on both sides alike: RabbitMQ
 * refuses a publish that no queue takes (NO_ROUTE), so a topic needs a group before its first
 * message (the relay would retry such a row until one exists).
 */
function drainingGroup(carrier: Carrier, topic: string) {
  return carrier.subscribe(
    topic,
    { group: `drain-${randomBytes(3).toString('hex')}`, concurrency: 16 },
    () => {},
  );
}

/** Serial latencies, one message at a time: `send(i)` resolves at the moment the clock starts. */
async function serialLatencies(
  carrier: Carrier,
  topic: string,
  count: number,
  send: (i: number) => Promise<number>,
): Promise<number[]> {
  const arrived = new Map<number, number>();
  const sub = await carrier.subscribe<{ i: number }>(
    topic,
    { group: `bench-${randomBytes(3).toString('hex')}` },
    (m) => {
      if (!arrived.has(m.body.i)) arrived.set(m.body.i, performance.now());
    },
  );
  try {
    const latencies: number[] = [];
    for (let i = 0; i < count; i++) {
      const startedAt = await send(i);
      await until(() => arrived.has(i), 60_000, `message ${i} to reach the handler`);
      latencies.push(arrived.get(i)! - startedAt);
    }
    return latencies;
  } finally {
    await sub.close();
  }
}

async function outboxLatencyRound(carrier: Carrier, postgresUrl: string, count: number) {
  const round = await freshRound(postgresUrl);
  const relay = new OutboxRelay({ pool: round.pool, carrier, schema: round.schema });
  try {
    await relay.start();
    const outbox = new Outbox(carrier, { schema: round.schema });
    const topic = `bench.outbox-latency.${Date.now().toString(36)}.${randomBytes(3).toString('hex')}`;
    const client = await round.pool.connect();
    try {
      return await serialLatencies(carrier, topic, count, async (i) => {
        await client.query('BEGIN');
        await outbox.publish(client, topic, { i }, { key: `k-${i % KEYS}` });
        await client.query('COMMIT');
        return performance.now();
      });
    } finally {
      client.release();
    }
  } finally {
    await relay.close();
    await round.drop();
  }
}

async function directLatencyRound(carrier: Carrier, count: number): Promise<number[]> {
  const topic = `bench.direct-latency.${Date.now().toString(36)}.${randomBytes(3).toString('hex')}`;
  return serialLatencies(carrier, topic, count, async (i) => {
    const startedAt = performance.now();
    await carrier.publish(topic, { i }, { key: `k-${i % KEYS}` });
    return startedAt;
  });
}

/**
 * `outbox:<broker>`: relay throughput and commit-to-handler latency (p50, p99) of the outbox on
 * `url`, against Carrier publishing directly; `o.rounds` rounds per side, alternating.
 */
export async function outboxFigures(
  broker: string,
  url: string,
  postgresUrl: string,
  o: BenchOptions,
): Promise<Figure[]> {
  const name = `outbox:${broker}`;
  const rows = o.messages ?? DEFAULT_ROWS[broker] ?? 2_000;
  const serial = o.serial;
  const carrier = await connect(url, { onError: (e) => progress(`${name} async error: ${e.message}`) });
  progress(
    `${name}: ${redactUrl(url)}, PostgreSQL ${redactUrl(postgresUrl)}, ${rows} rows, ${serial} serial`,
  );
  try {
    const relay: number[] = [];
    const direct: number[] = [];
    const p50: [number[], number[]] = [[], []];
    const p99: [number[], number[]] = [[], []];
    // warm-up, untimed: connections, topic declarations, JIT
    await relayRound(carrier, postgresUrl, o, Math.min(200, rows));
    await directRound(carrier, o, Math.min(200, rows));
    for (let r = 0; r < o.rounds; r++) {
      if (!o.skip.has('batch')) {
        relay.push(await relayRound(carrier, postgresUrl, o, rows));
        direct.push(await directRound(carrier, o, rows));
        progress(
          `${name} round ${r + 1}: relay ${Math.round(relay.at(-1)!)} msg/s, direct ${Math.round(direct.at(-1)!)} msg/s`,
        );
      }
      if (!o.skip.has('serial')) {
        const viaOutbox = latencyPercentiles(await outboxLatencyRound(carrier, postgresUrl, serial));
        const viaPublish = latencyPercentiles(await directLatencyRound(carrier, serial));
        p50[0].push(viaOutbox.p50);
        p50[1].push(viaPublish.p50);
        p99[0].push(viaOutbox.p99);
        p99[1].push(viaPublish.p99);
        progress(
          `${name} round ${r + 1}: commit-to-handler p50 ${viaOutbox.p50.toFixed(1)} ms p99 ${viaOutbox.p99.toFixed(1)} ms; publish-to-handler p50 ${viaPublish.p50.toFixed(1)} ms p99 ${viaPublish.p99.toFixed(1)} ms`,
        );
      }
    }
    const figures: Figure[] = [];
    if (relay.length > 0) {
      figures.push(
        figure(
          {
            broker: name,
            figure: 'relay.msgs_per_s',
            unit: 'msg/s',
            higherIsBetter: true,
            reference: `Carrier publishBatch of ${o.batch} (direct, no outbox)`,
            note: `${rows} committed rows of ${o.size} bytes, ${KEYS} keys, from relay start to an empty outbox table`,
          },
          relay,
          direct,
        ),
      );
    }
    if (p50[0].length > 0) {
      const note = `${serial} transactions one at a time (relay idle between them), from COMMIT to the handler`;
      const reference = 'Carrier publish to handler (direct, no outbox)';
      figures.push(
        figure(
          {
            broker: name,
            figure: 'commit-to-handler.p50_ms',
            unit: 'ms',
            higherIsBetter: false,
            reference,
            note,
          },
          p50[0],
          p50[1],
        ),
        figure(
          {
            broker: name,
            figure: 'commit-to-handler.p99_ms',
            unit: 'ms',
            higherIsBetter: false,
            reference,
            note,
          },
          p99[0],
          p99[1],
        ),
      );
    }
    return figures;
  } finally {
    await carrier.close();
  }
}
