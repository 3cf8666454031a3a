#!/usr/bin/env node
// A standalone outbox relay: publishes the committed rows of one outbox table to one Carrier URL
// until SIGTERM/SIGINT (clean close) or SIGKILL (the rows under way are published again by the
// next relay). Configured from the environment (see README.md, "Running a relay process"):
//   CARRIER_URL (required), DATABASE_URL (required), OUTBOX_SCHEMA, OUTBOX_TABLE, OUTBOX_DEAD_LETTER_TABLE,
//   OUTBOX_MIGRATE=1, OUTBOX_BATCH_SIZE, OUTBOX_POLL_INTERVAL_MS, OUTBOX_REBALANCE_INTERVAL_MS,
//   OUTBOX_MAX_IN_FLIGHT, OUTBOX_STATS_INTERVAL_MS.
// Prints one JSON line per event on stdout: {"event":"ready",…}, {"event":"stats",…},
// {"event":"closed",…}; problems as {"event":"error","code":…,"message":…} on stderr.
import { type CarrierError, connect, redactUrl } from '@carrier/core';
import pg from 'pg';
import { migrate } from '../migrate.js';
import { OutboxRelay } from '../relay.js';

function required(name: string): string {
  const value = process.env[name];
  if (!value) {
    process.stderr.write(`carrier-outbox-relay: ${name} is required\n`);
    process.exit(2);
  }
  return value;
}

function number(name: string): number | undefined {
  const value = process.env[name];
  return value === undefined || value === '' ? undefined : Number(value);
}

function emit(stream: NodeJS.WriteStream, event: string, fields: object): void {
  stream.write(`${JSON.stringify({ event, ...fields })}\n`);
}

const carrierUrl = required('CARRIER_URL');
const databaseUrl = required('DATABASE_URL');
const schema = process.env.OUTBOX_SCHEMA || undefined;
const outboxTable = process.env.OUTBOX_TABLE || undefined;
const deadLetterTable = process.env.OUTBOX_DEAD_LETTER_TABLE || undefined;

if (process.env.OUTBOX_MIGRATE === '1') {
  const pool = new pg.Pool({ connectionString: databaseUrl, max: 1 });
  try {
    await migrate(pool, { schema, outboxTable, deadLetterTable });
  } finally {
    await pool.end();
  }
}

const carrier = await connect(carrierUrl);
const relay = new OutboxRelay({
  connectionString: databaseUrl,
  carrier,
  schema,
  outboxTable,
  deadLetterTable,
  batchSize: number('OUTBOX_BATCH_SIZE'),
  pollIntervalMs: number('OUTBOX_POLL_INTERVAL_MS'),
  rebalanceIntervalMs: number('OUTBOX_REBALANCE_INTERVAL_MS'),
  maxInFlight: number('OUTBOX_MAX_IN_FLIGHT'),
  onError: (error: CarrierError) =>
    emit(process.stderr, 'error', { code: error.code, message: error.message }),
});
await relay.start();
emit(process.stdout, 'ready', { pid: process.pid, carrier: redactUrl(carrierUrl), ...relay.stats() });

const statsEvery = number('OUTBOX_STATS_INTERVAL_MS') ?? 0;
const timer =
  statsEvery > 0 ? setInterval(() => emit(process.stdout, 'stats', relay.stats()), statsEvery) : undefined;

let stopping = false;
async function stop(): Promise<void> {
  if (stopping) return;
  stopping = true;
  if (timer) clearInterval(timer);
  await relay.close();
  await carrier.close();
  emit(process.stdout, 'closed', relay.stats());
  process.exit(0);
}
process.on('SIGTERM', () => void stop());
process.on('SIGINT', () => void stop());
