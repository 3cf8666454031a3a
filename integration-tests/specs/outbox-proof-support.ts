import { type ChildProcess, spawn } from 'node:child_process';
import path from 'node:path';
import { duplicates, freshName } from '@carrier/contract';
import { type Carrier, connect } from '@carrier/core';
import { migrate, Outbox } from '@carrier/outbox';
import pg from 'pg';
import { type PrivateBroker, privateBroker } from '../src/faults.js';
import { harnessRoot } from '../src/paths.js';
import { type FreshSchema, freshSchema } from './postgres-schema-support.js';
import { postgresUrl } from './postgres-support.js';

// The proof of the transactional outbox (issue 19), shared by the CI spec (specs/outbox.proof.spec.ts)
// and the soak spec (soak/outbox.proof.soak.spec.ts).
//
// N business writes, each one transaction that inserts an order row and publishes one outbox message
// (`Outbox.publish(tx, …)`); every tenth transaction is rolled back on purpose. The relay runs as a
// child process (an `OutboxRelay` from the built package) that is SIGKILLed twice and started again,
// and the broker (private to the test) is killed -9 and started again once while the relay works. A consumer in this
// process records every delivery. At the end: every committed message arrived at least once, none
// of the rolled-back ones did, the first deliveries of each key came in the key's sequence order,
// and the outbox table is empty (every row confirmed by the broker, then deleted). Duplicates are
// counted and printed: at-least-once, a relay killed between the broker's confirmation and its
// DELETE publishes those rows again.
//
// Per-key order: the writers own disjoint keys (one writer per key at a time), so a key's sequence
// numbers are in insert and commit order; the relay publishes a key's rows one at a time in `seq`
// order. The consumer asks for `ordered: true` where the transport keeps per-key order across a
// group (Kafka, RabbitMQ, SQS FIFO); on NATS (no `perKeyOrder`) it is one member, which receives a
// stream in stream order and runs a key's messages one at a time (core's keyed scheduler).

export type ProofBroker = 'kafka' | 'rabbitmq' | 'nats' | 'sqs';

export interface ProofOptions {
  readonly broker: ProofBroker;
  /** Business transactions (committed and rolled back). */
  readonly total: number;
  /** Distinct message keys (default 50). */
  readonly keys?: number;
  /** Concurrent writer connections, each owning every `writers`-th key (default 4). */
  readonly writers?: number;
  /** Committed but not yet delivered messages at most before the writers wait (default 2,000). */
  readonly maxBacklog?: number;
  /** Everything must be done within this, in ms; past it the run fails with what is missing. */
  readonly budgetMs: number;
  /**
   * Why the broker is not restarted, when it is not (SQS: moto keeps nothing across a restart).
   * Absent: the broker is restarted once mid-run.
   */
  readonly noBrokerRestart?: string;
  /** Children started, so that the caller's afterAll can kill them whatever happened. */
  readonly children: Set<ChildProcess>;
  /** Resources to release in the caller's afterAll (the private broker, the schema, the consumer). */
  readonly cleanups: Set<() => Promise<void>>;
}

/** What the run measured, for the caller's assertions and the printed summary. */
export interface ProofResult {
  readonly committed: number;
  readonly rolledBack: number;
  readonly deliveries: number;
  readonly distinctDelivered: number;
  readonly missing: readonly string[];
  readonly rolledBackDelivered: readonly string[];
  readonly orderViolations: readonly string[];
  readonly duplicateIds: number;
  readonly extraDeliveries: number;
  readonly outboxRowsLeft: number;
  readonly orderRows: number;
  readonly timeline: readonly string[];
  readonly elapsedMs: number;
}

const repoRoot = path.resolve(harnessRoot, '..');

/** Rolled back on purpose: every tenth transaction. */
export function rolledBackOnPurpose(i: number): boolean {
  return i % 10 === 7;
}

/** A message's id. */
export function messageId(i: number): string {
  return `m-${i}`;
}

// The relay process: an OutboxRelay from the built package, relaying the schema's outbox to the
// broker. stdout only says "ready"; it is stopped with SIGKILL (the fault) or SIGTERM (clean stop),
// and ends by itself when the test process dies (its stdin closes).
const RELAY = `
import { connect } from '@carrier/core';
import { OutboxRelay } from '@carrier/outbox';
const report = (e) => process.stderr.write(e.code + ' ' + e.message + '\\n');
const carrier = await connect(process.env.CARRIER_URL, { onError: report });
const relay = new OutboxRelay({
  connectionString: process.env.DATABASE_URL,
  carrier,
  schema: process.env.OUTBOX_SCHEMA,
  onError: report,
});
await relay.start();
process.stdout.write('ready\\n');
// the test process is gone (its stdin pipe closed): go too, as abruptly as a crash
process.stdin.on('close', () => process.exit(1));
process.stdin.resume();
process.on('SIGTERM', async () => {
  await relay.close();
  await carrier.close();
  process.exit(0);
});
`;

/** A relay child process. */
export interface RelayProcess {
  readonly child: ChildProcess;
  readonly ready: Promise<void>;
  readonly exited: Promise<void>;
}

/** Starts a relay process on `schema`'s outbox, publishing to `carrierUrl`. */
export function startRelay(
  carrierUrl: string,
  schema: string,
  children: Set<ChildProcess>,
  stderr: string[],
): RelayProcess {
  const child = spawn(process.execPath, ['--input-type=module', '-e', RELAY], {
    cwd: repoRoot,
    env: { ...process.env, CARRIER_URL: carrierUrl, DATABASE_URL: postgresUrl(), OUTBOX_SCHEMA: schema },
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  children.add(child);
  let markReady!: () => void;
  let failReady!: (e: Error) => void;
  const ready = new Promise<void>((resolve, reject) => {
    markReady = resolve;
    failReady = reject;
  });
  child.stdout!.setEncoding('utf8').on('data', (chunk: string) => {
    if (chunk.includes('ready')) markReady();
  });
  child.stderr!.setEncoding('utf8').on('data', (chunk: string) => {
    stderr.push(chunk);
    if (stderr.length > 200) stderr.splice(0, stderr.length - 200);
  });
  const exited = new Promise<void>((resolve) =>
    child.once('exit', (code, signal) => {
      children.delete(child);
      failReady(
        new Error(`relay exited (${signal ?? code}) before it was ready: ${stderr.join('').slice(-2_000)}`),
      );
      resolve();
    }),
  );
  return { child, ready, exited };
}

/** SIGKILL and wait until the process is gone. */
export async function kill9(relay: RelayProcess): Promise<void> {
  relay.child.kill('SIGKILL');
  await relay.exited;
}

/** One delivery as the consumer recorded it. */
interface Delivery {
  readonly id: string;
  readonly key: string;
  readonly seq: number;
}

interface OrderBody {
  readonly n: number;
  readonly key: string;
  readonly seq: number;
}

/** Polls `condition` every 50 ms until it holds or `deadline` (epoch ms) passes; returns whether it held. */
async function until(condition: () => boolean | Promise<boolean>, deadline: number): Promise<boolean> {
  while (!(await condition())) {
    if (Date.now() >= deadline) return false;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  return true;
}

/** The broker's URL for the proof: SQS through a FIFO queue, so that it keeps per-key order. */
function proofUrl(broker: ProofBroker, url: string): string {
  if (broker !== 'sqs') return url;
  return `${url}${url.includes('?') ? '&' : '?'}fifo=true`;
}

/**
 * Per key, the sequence numbers of the first deliveries must increase: returns the violations
 * (`key: seq a after seq b`).
 */
export function orderViolations(deliveries: readonly Delivery[]): string[] {
  const seen = new Set<string>();
  const last = new Map<string, number>();
  const violations: string[] = [];
  for (const d of deliveries) {
    if (seen.has(d.id)) continue;
    seen.add(d.id);
    const before = last.get(d.key);
    if (before !== undefined && d.seq <= before)
      violations.push(`${d.key}: seq ${d.seq} after seq ${before}`);
    last.set(d.key, d.seq);
  }
  return violations;
}

/** Runs the proof on a private broker; resolves with what happened (the caller asserts). */
export async function runOutboxProof(opts: ProofOptions): Promise<ProofResult> {
  const keys = opts.keys ?? 50;
  const writers = opts.writers ?? 4;
  const maxBacklog = opts.maxBacklog ?? 2_000;
  const label = `outbox proof ${opts.broker} ${opts.total}`;
  const broker: PrivateBroker = await privateBroker(opts.broker);
  opts.cleanups.add(() => broker.dispose());
  // the budget starts once the private broker is up (a Kafka start takes 10–40 s on a busy machine)
  const t0 = Date.now();
  const deadline = t0 + opts.budgetMs;
  const timeline: string[] = [];
  const mark = (what: string) => {
    timeline.push(`${what} at ${Date.now() - t0} ms`);
  };
  mark(`private ${broker.version} up`);
  const url = proofUrl(opts.broker, broker.url);
  const schema: FreshSchema = await freshSchema('outbox_proof', writers + 2);
  opts.cleanups.add(() => schema.drop());
  const pool = schema.pool;
  await migrate(pool, { schema: schema.name });
  await pool.query(
    `CREATE TABLE ${pg.escapeIdentifier(schema.name)}.orders (n integer PRIMARY KEY, key text NOT NULL, seq integer NOT NULL)`,
  );

  const asyncErrors: string[] = [];
  const carrier: Carrier = await connect(url, { onError: (e) => asyncErrors.push(e.message) });
  opts.cleanups.add(() => carrier.close());
  const topic = freshName('outbox-proof');
  const deliveries: Delivery[] = [];
  const distinct = new Set<string>();
  const ordered = carrier.capabilities.perKeyOrder;
  const subscription = await carrier.subscribe<OrderBody>(
    topic,
    { group: 'proof', concurrency: 16, ...(ordered ? { ordered: true } : {}) },
    (m) => {
      deliveries.push({ id: m.id, key: m.body.key, seq: m.body.seq });
      distinct.add(m.id);
    },
  );
  opts.cleanups.add(() => subscription.close());
  const outbox = new Outbox(carrier, { schema: schema.name });

  const committedIds = new Set<string>();
  const rolledBackIds = new Set<string>();
  for (let i = 0; i < opts.total; i++)
    (rolledBackOnPurpose(i) ? rolledBackIds : committedIds).add(messageId(i));
  const expected = committedIds.size;
  let committedSoFar = 0;

  const progress = setInterval(() => {
    console.log(
      `[${label}] ${Math.round((Date.now() - t0) / 1000)} s: ${committedSoFar} committed, ${distinct.size} distinct delivered (${deliveries.length} deliveries)`,
    );
  }, 30_000);

  const relayStderr: string[] = [];
  let relay = startRelay(url, schema.name, opts.children, relayStderr);
  const startRelayReady = async () => {
    const ok = await Promise.race([
      relay.ready.then(() => true),
      new Promise<boolean>((resolve) => setTimeout(() => resolve(false), Math.max(0, deadline - Date.now()))),
    ]);
    if (!ok) throw new Error(`[${label}] the relay was not ready within the budget: ${relayStderr.join('')}`);
  };
  await startRelayReady();
  mark('relay 1 ready');

  let stopWriting = false;
  const write = async (w: number) => {
    const client = await pool.connect();
    try {
      // The faults here are the relay's and the broker's, not PostgreSQL's: the writers do not wait
      // for their commit's WAL flush (a PostgreSQL crash could lose the last commits, message and
      // business row together). With it on, the commits of notifying transactions queue behind one
      // another's flush (NOTIFY holds a global lock through commit), which on a busy 2-core
      // machine makes the writers, not the relay, the bottleneck.
      await client.query('SET synchronous_commit = off');
      for (let i = 0; i < opts.total && !stopWriting; i++) {
        const k = i % keys;
        if (k % writers !== w) continue;
        if (committedSoFar - distinct.size > maxBacklog) {
          await until(() => stopWriting || committedSoFar - distinct.size <= maxBacklog / 2, deadline);
          if (Date.now() >= deadline) return;
        }
        const key = `k-${k}`;
        const seq = Math.floor(i / keys);
        await client.query('BEGIN');
        try {
          await client.query(
            `INSERT INTO ${pg.escapeIdentifier(schema.name)}.orders (n, key, seq) VALUES ($1, $2, $3)`,
            [i, key, seq],
          );
          await outbox.publish(client, topic, { n: i, key, seq } satisfies OrderBody, {
            id: messageId(i),
            key,
          });
          if (rolledBackOnPurpose(i)) {
            await client.query('ROLLBACK');
          } else {
            await client.query('COMMIT');
            committedSoFar++;
          }
        } catch (error) {
          await client.query('ROLLBACK').catch(() => undefined);
          throw error;
        }
      }
    } finally {
      client.release();
    }
  };
  const writing = Promise.all(Array.from({ length: writers }, (_, w) => write(w))).then(() =>
    mark('all written'),
  );
  writing.catch(() => {
    stopWriting = true;
  });

  const outboxRows = async () => {
    const { rows } = await pool.query<{ n: string }>(
      `SELECT count(*) AS n FROM ${pg.escapeIdentifier(schema.name)}.outbox`,
    );
    return Number(rows[0]!.n);
  };
  const fail = async (what: string): Promise<never> => {
    stopWriting = true;
    const missing = [...committedIds].filter((id) => !distinct.has(id));
    throw new Error(
      [
        `[${label}] ${what} not reached within the ${opts.budgetMs} ms budget`,
        `committed ${committedSoFar} of ${expected}; delivered ${distinct.size} distinct (${deliveries.length} deliveries)`,
        `missing: ${missing.length} (${missing.slice(0, 20).join(', ')}${missing.length > 20 ? ', …' : ''})`,
        `outbox rows left: ${await outboxRows().catch((e: Error) => `unknown (${e.message})`)}`,
        `timeline: ${timeline.join('; ')}`,
        `relay stderr (tail): ${relayStderr.join('').slice(-2_000) || 'none'}`,
        `consumer asynchronous errors: ${asyncErrors.length}${asyncErrors.length ? ` (last: ${asyncErrors.at(-1)})` : ''}`,
      ].join('\n'),
    );
  };
  const reach = async (fraction: number, what: string) => {
    if (!(await until(() => distinct.size >= Math.floor(expected * fraction), deadline))) await fail(what);
  };

  try {
    // fault 1: the relay is killed -9 while it publishes, and started again
    await reach(0.2, '20 % delivered');
    mark(`relay 1 killed -9 (${distinct.size} delivered)`);
    await kill9(relay);
    relay = startRelay(url, schema.name, opts.children, relayStderr);
    await startRelayReady();
    mark('relay 2 ready');

    // fault 2: the broker restarts while the relay publishes
    await reach(0.45, '45 % delivered');
    if (opts.noBrokerRestart === undefined) {
      mark(`broker killed -9 (${distinct.size} delivered)`);
      await broker.kill9();
      await broker.start();
      mark('broker back');
    } else {
      mark(`broker not restarted: ${opts.noBrokerRestart}`);
    }

    // fault 3: the relay is killed -9 again, and started again
    await reach(0.7, '70 % delivered');
    mark(`relay 2 killed -9 (${distinct.size} delivered)`);
    await kill9(relay);
    relay = startRelay(url, schema.name, opts.children, relayStderr);
    await startRelayReady();
    mark('relay 3 ready');

    await writing;
    if (!(await until(() => [...committedIds].every((id) => distinct.has(id)), deadline))) {
      await fail('every committed message delivered');
    }
    mark('every committed message delivered');
    if (!(await until(async () => (await outboxRows()) === 0, deadline))) await fail('an empty outbox table');
    mark('outbox table empty');
  } finally {
    stopWriting = true;
    clearInterval(progress);
    await writing.catch(() => undefined);
  }

  relay.child.kill('SIGTERM');
  await Promise.race([relay.exited, new Promise((resolve) => setTimeout(resolve, 10_000))]);
  if (relay.child.exitCode === null && relay.child.signalCode === null) await kill9(relay);

  const ids = deliveries.map((d) => d.id);
  const dups = duplicates(ids);
  const { rows } = await pool.query<{ n: string }>(
    `SELECT count(*) AS n FROM ${pg.escapeIdentifier(schema.name)}.orders`,
  );
  const result: ProofResult = {
    committed: expected,
    rolledBack: rolledBackIds.size,
    deliveries: deliveries.length,
    distinctDelivered: distinct.size,
    missing: [...committedIds].filter((id) => !distinct.has(id)),
    rolledBackDelivered: [...rolledBackIds].filter((id) => distinct.has(id)),
    orderViolations: orderViolations(deliveries),
    duplicateIds: dups.size,
    extraDeliveries: [...dups.values()].reduce((sum, n) => sum + n - 1, 0),
    outboxRowsLeft: await outboxRows(),
    orderRows: Number(rows[0]!.n),
    timeline,
    elapsedMs: Date.now() - t0,
  };
  console.log(
    [
      `[${label}] ${result.committed} committed, ${result.rolledBack} rolled back, ${keys} keys, ${writers} writers, consumer ${ordered ? 'ordered: true' : 'one member'} concurrency 16`,
      `delivered ${result.distinctDelivered} distinct in ${result.deliveries} deliveries: ${result.duplicateIds} ids delivered more than once (${result.extraDeliveries} extra deliveries)`,
      `missing ${result.missing.length}, rolled back but delivered ${result.rolledBackDelivered.length}, per-key order violations ${result.orderViolations.length}`,
      `took ${result.elapsedMs} ms; timeline: ${timeline.join('; ')}`,
      `consumer asynchronous errors: ${asyncErrors.length}${asyncErrors.length ? ` (last: ${asyncErrors.at(-1)})` : ''}`,
    ].join('\n'),
  );
  return result;
}
