#!/usr/bin/env node
// A standalone outbox relay: publishes the committed rows of one outbox table to one Carrier URL
// until SIGTERM/SIGINT (clean close) or SIGKILL (the rows under way are published again by the
// next relay). Configured from the environment (see README.md, "Running a relay process"):
//   CARRIER_URL (required), DATABASE_URL (required), OUTBOX_SCHEMA, OUTBOX_TABLE, OUTBOX_DEAD_LETTER_TABLE,
//   OUTBOX_MIGRATE=1, OUTBOX_BATCH_SIZE, OUTBOX_POLL_INTERVAL_MS, OUTBOX_REBALANCE_INTERVAL_MS,
//   OUTBOX_MAX_IN_FLIGHT, OUTBOX_STATS_INTERVAL_MS.
// Prints one JSON line per event on stdout: {"event":"ready",…}, {"event":"stats",…},
// {"event":"closed",…}; problems as {"event":"error","code":…,"message":…} on stderr. A startup
// failure (missing or invalid setting, PostgreSQL or the broker unreachable, missing tables) prints
// one such error line (no stack, no password) and exits with code 1.
import { type Carrier, CarrierError, connect, redactUrl, scrub, urlSecrets } from '@carrier/core';
import pg from 'pg';
import { migrate } from '../migrate.js';
import { OutboxRelay } from '../relay.js';

function required(name: string): string {
  const value = process.env[name];
  if (!value) throw new CarrierError('INVALID_ARGUMENT', `carrier-outbox-relay: ${name} is required`);
  return value;
}

function number(name: string): number | undefined {
  const value = process.env[name];
  if (value === undefined || value === '') return undefined;
  const parsed = Number(value);
  if (!Number.isSafeInteger(parsed) || parsed < 0) {
    throw new CarrierError(
      'INVALID_ARGUMENT',
      `carrier-outbox-relay: ${name} must be an integer, not ${JSON.stringify(value)}`,
    );
  }
  return parsed;
}

/** Passwords and tokens of a URL, also when it does not parse (`scheme://user:password@…`). */
function secretsOf(url: string | undefined): string[] {
  if (!url) return [];
  try {
    return urlSecrets(new URL(url));
  } catch {
    const password = /^[a-z][a-z0-9+.-]*:\/\/[^:/@]*:([^@]+)@/i.exec(url)?.[1];
    return password && password.length >= 3 ? [password] : [];
  }
}

function emit(stream: NodeJS.WriteStream, event: string, fields: object): void {
  stream.write(`${JSON.stringify({ event, ...fields })}\n`);
}

const secrets = [...secretsOf(process.env.DATABASE_URL), ...secretsOf(process.env.CARRIER_URL)];

/** Startup failed: one JSON error line on stderr (no stack, credentials removed), exit code 1. */
function fail(error: unknown): never {
  const code = error instanceof CarrierError ? error.code : 'CONNECTION';
  const message = error instanceof Error ? error.message : String(error);
  emit(process.stderr, 'error', { code, message: scrub(message, secrets) });
  process.exit(1);
}

let relay!: OutboxRelay;
let carrier: Carrier | undefined;
let statsEvery = 0;
try {
  const carrierUrl = required('CARRIER_URL');
  const databaseUrl = required('DATABASE_URL');
  const schema = process.env.OUTBOX_SCHEMA || undefined;
  const outboxTable = process.env.OUTBOX_TABLE || undefined;
  const deadLetterTable = process.env.OUTBOX_DEAD_LETTER_TABLE || undefined;
  statsEvery = number('OUTBOX_STATS_INTERVAL_MS') ?? 0;

  if (process.env.OUTBOX_MIGRATE === '1') {
    const pool = new pg.Pool({ connectionString: databaseUrl, max: 1 });
    try {
      await migrate(pool, { schema, outboxTable, deadLetterTable });
    } finally {
      await pool.end();
    }
  }

  carrier = await connect(carrierUrl);
  relay = new OutboxRelay({
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
      emit(process.stderr, 'error', { code: error.code, message: scrub(error.message, secrets) }),
  });
  await relay.start();
  emit(process.stdout, 'ready', { pid: process.pid, carrier: redactUrl(carrierUrl), ...relay.stats() });
} catch (error) {
  await carrier?.close().catch(() => {});
  fail(error);
}

const timer =
  statsEvery > 0 ? setInterval(() => emit(process.stdout, 'stats', relay.stats()), statsEvery) : undefined;

let stopping = false;
async function stop(): Promise<void> {
  if (stopping) return;
  stopping = true;
  if (timer) clearInterval(timer);
  await relay.close();
  await carrier?.close();
  emit(process.stdout, 'closed', relay.stats());
  process.exit(0);
}
process.on('SIGTERM', () => void stop());
process.on('SIGINT', () => void stop());
