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

// The relay process: the package's own (`carrier-outbox-relay`, packages/outbox/src/bin/relay.ts,
// run from its build), configured from the environment. Its stdout has one JSON line per event
// ("ready", "closed" with its stats); it is stopped with SIGKILL (the fault) or SIGTERM (clean
// stop), and by the caller's afterAll or this process's exit handler whatever happens.
const RELAY_BIN = path.join(repoRoot, 'packages/outbox/dist/bin/relay.js');

/** A relay child process. */
export interface RelayProcess {
  readonly child: ChildProcess;
  readonly ready: Promise<void>;
  readonly exited: Promise<void>;
  /** Rows it published and saw confirmed, from its "closed" event (after a clean stop). */
  readonly published: () => number | undefined;
}

const running = new Set<ChildProcess>();
process.once('exit', () => {
  for (const child of running) child.kill('SIGKILL');
});

/** Starts a relay process on `schema`'s outbox, publishing to `carrierUrl`. */
export function startRelay(
  carrierUrl: string,
  schema: string,
  children: Set<ChildProcess>,
  stderr: string[],
): RelayProcess {
  const child = spawn(process.execPath, [RELAY_BIN], {
    cwd: repoRoot,
    env: { ...process.env, CARRIER_URL: carrierUrl, DATABASE_URL: postgresUrl(), OUTBOX_SCHEMA: schema },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  children.add(child);
  running.add(child);
  let published: number | undefined;
  let markReady!: () => void;
  let failReady!: (e: Error) => void;
  const ready = new Promise<void>((resolve, reject) => {
    markReady = resolve;
    failReady = reject;
  });
  let out = '';
  child.stdout!.setEncoding('utf8').on('data', (chunk: string) => {
    out += chunk;
    for (let nl = out.indexOf('\n'); nl >= 0; nl = out.indexOf('\n')) {
      const line = out.slice(0, nl);
      out = out.slice(nl + 1);
      if (line.includes('"event":"ready"')) markReady();
      if (line.includes('"event":"closed"'))
        published = (JSON.parse(line) as { published: number }).published;
    }
  });
  child.stderr!.setEncoding('utf8').on('data', (chunk: string) => {
    stderr.push(chunk);
    if (stderr.length > 200) stderr.splice(0, stderr.length - 200);
  });
  const exited = new Promise<void>((resolve) =>
    child.once('exit', (code, signal) => {
      children.delete(child);
      running.delete(child);
      failReady(
        new Error(`relay exited (${signal ?? code}) before it was ready: ${stderr.join('').slice(-2_000)}`),
      );
      resolve();
    }),
  );
  return { child, ready, exited, published: () => published };
}

/** SIGTERM (clean close) and wait until it is gone; SIGKILL after 15 s. */
export async function stopRelay(relay: RelayProcess): Promise<void> {
  relay.child.kill('SIGTERM');
  await Promise.race([relay.exited, new Promise((resolve) => setTimeout(resolve, 15_000))]);
  if (relay.child.exitCode === null && relay.child.signalCode === null) await kill9(relay);
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

  await stopRelay(relay);

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

/** What two relays at once did (no faults). */
export interface TwoRelaysResult {
  readonly committed: number;
  readonly deliveries: number;
  readonly missing: readonly string[];
  readonly extraDeliveries: number;
  readonly orderViolations: readonly string[];
  /** Rows each relay published (from its "closed" event). */
  readonly publishedBy: readonly (number | undefined)[];
}

/**
 * Two relay processes on one outbox at once, no faults, on `url` (a shared broker): `total`
 * messages (one transaction each, 50 keys, 4 writers) while both run. Resolves with the
 * deliveries and what each relay published.
 */
export async function runTwoRelays(opts: {
  readonly url: string;
  readonly total: number;
  readonly budgetMs: number;
  readonly children: Set<ChildProcess>;
  readonly cleanups: Set<() => Promise<void>>;
}): Promise<TwoRelaysResult> {
  const keys = 50;
  const writers = 4;
  const deadline = Date.now() + opts.budgetMs;
  const schema = await freshSchema('outbox_two', writers + 2);
  opts.cleanups.add(() => schema.drop());
  await migrate(schema.pool, { schema: schema.name });
  const carrier = await connect(opts.url);
  opts.cleanups.add(() => carrier.close());
  const topic = freshName('outbox-two-relays');
  const deliveries: Delivery[] = [];
  const distinct = new Set<string>();
  const sub = await carrier.subscribe<OrderBody>(
    topic,
    { group: 'two', concurrency: 16, ...(carrier.capabilities.perKeyOrder ? { ordered: true } : {}) },
    (m) => {
      deliveries.push({ id: m.id, key: m.body.key, seq: m.body.seq });
      distinct.add(m.id);
    },
  );
  opts.cleanups.add(() => sub.close());
  const stderr: string[] = [];
  const relays = [0, 1].map(() => startRelay(opts.url, schema.name, opts.children, stderr));
  await Promise.all(relays.map((r) => r.ready));
  const outbox = new Outbox(carrier, { schema: schema.name });
  await Promise.all(
    Array.from({ length: writers }, async (_, w) => {
      const client = await schema.pool.connect();
      try {
        await client.query('SET synchronous_commit = off'); // see runOutboxProof
        for (let i = 0; i < opts.total; i++) {
          const k = i % keys;
          if (k % writers !== w) continue;
          const key = `k-${k}`;
          const seq = Math.floor(i / keys);
          await client.query('BEGIN');
          await outbox.publish(client, topic, { n: i, key, seq } satisfies OrderBody, {
            id: messageId(i),
            key,
          });
          await client.query('COMMIT');
        }
      } finally {
        client.release();
      }
    }),
  );
  const all = Array.from({ length: opts.total }, (_, i) => messageId(i));
  const delivered = await until(() => all.every((id) => distinct.has(id)), deadline);
  const rowsLeft = async () => {
    const { rows } = await schema.pool.query<{ n: string }>(
      `SELECT count(*) AS n FROM ${pg.escapeIdentifier(schema.name)}.outbox`,
    );
    return Number(rows[0]!.n);
  };
  if (delivered) await until(async () => (await rowsLeft()) === 0, deadline);
  await Promise.all(relays.map((r) => stopRelay(r)));
  const dups = duplicates(deliveries.map((d) => d.id));
  const result: TwoRelaysResult = {
    committed: opts.total,
    deliveries: deliveries.length,
    missing: all.filter((id) => !distinct.has(id)),
    extraDeliveries: [...dups.values()].reduce((sum, n) => sum + n - 1, 0),
    orderViolations: orderViolations(deliveries),
    publishedBy: relays.map((r) => r.published()),
  };
  console.log(
    `[outbox two relays] ${result.committed} committed; published by the relays: ${result.publishedBy.join(' + ')}; ` +
      `delivered ${distinct.size} distinct in ${result.deliveries} deliveries (${result.extraDeliveries} extra); ` +
      `missing ${result.missing.length}; per-key order violations ${result.orderViolations.length}` +
      (stderr.length ? `; relay stderr: ${stderr.join('').slice(-500)}` : ''),
  );
  return result;
}
