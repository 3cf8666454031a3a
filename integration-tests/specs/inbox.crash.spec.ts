import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { freshName } from '@carrier/contract';
import { type Carrier, connect } from '@carrier/core';
import type pg from 'pg';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import '../src/context.js';
import { harnessRoot } from '../src/paths.js';
import type { BrokerName } from '../src/types.js';
import {
  createInboxSchema,
  dropSchema,
  effectCounts,
  freshSchema,
  inboxRows,
  testPool,
} from './inbox-test-support.js';
import { shut, withParams } from './network-faults-support.js';
import { postgresUrl } from './postgres-support.js';

// The inbox's proof: a consumer process (fixtures/inbox-crash-child.ts) handles N messages with
// withInbox, each run writing one row to an `effects` table in the inbox transaction, and kills
// itself with SIGKILL at chosen messages: AFTER_COMMIT ones once the transaction committed and
// before core acknowledged (the broker delivers the message again, the inbox must skip it), and
// BEFORE_COMMIT ones inside the handler after its write (PostgreSQL rolls it back, the handler must
// run again). Other messages in flight at each kill are cut at whatever point they reached. The
// test restarts the consumer after every death. Expected on every broker: every message's effect
// row exists exactly once, every message has one inbox record, and every crashed message was
// delivered again.

// Sized for CI (each crash costs a process start and a redelivery wait): 3 crashes per broker.
const N = 120;
const CONCURRENCY = 4;
const id = (i: number) => `m-${String(i).padStart(3, '0')}`;
const AFTER_COMMIT = [15, 95].map(id);
const BEFORE_COMMIT = [50].map(id);
const CRASHES = AFTER_COMMIT.length + BEFORE_COMMIT.length;
/** Consumer processes started at most: one per crash, one that finishes, one spare. */
const MAX_RUNS = CRASHES + 2;
const child = path.join(harnessRoot, 'specs', 'fixtures', 'inbox-crash-child.ts');
const urls = inject('brokers');

interface Variant {
  broker: BrokerName;
  /**
   * URL options that make a dead consumer's messages come back soon (as in crash-loop.spec.ts):
   * Kafka's session timeout, NATS's ack wait, SQS's visibility timeout; RabbitMQ requeues at once.
   */
  params: Record<string, string>;
  /** How long one consumer process may take to die or finish (redelivery delay included). */
  perRunMs: number;
}

const VARIANTS: Variant[] = [
  { broker: 'kafka', params: { sessionTimeoutMs: '6000' }, perRunMs: 90_000 },
  { broker: 'rabbitmq', params: {}, perRunMs: 60_000 },
  { broker: 'nats', params: { ackWaitMs: '3000' }, perRunMs: 60_000 },
  { broker: 'sqs', params: { visibilityTimeout: '3' }, perRunMs: 60_000 },
];

interface Run {
  proc: ChildProcess;
  exited: Promise<void>;
  stderr: string[];
}

/** Deliveries per message id, from the `<id> <attempt>` lines the consumer processes wrote. */
function deliveryCounts(log: string): Map<string, number> {
  const counts = new Map<string, number>();
  for (const line of existsSync(log) ? readFileSync(log, 'utf8').split('\n') : []) {
    const [mid] = line.split(' ');
    if (mid) counts.set(mid, (counts.get(mid) ?? 0) + 1);
  }
  return counts;
}

const alive = (r: Run) => r.proc.exitCode === null && r.proc.signalCode === null;

let pool: pg.Pool;
beforeAll(() => {
  pool = testPool();
});
afterAll(() => pool.end());

describe('a consumer killed between its database commit and the broker acknowledgement', () => {
  for (const v of VARIANTS) {
    it(`${v.broker}: after ${CRASHES} SIGKILLs and restarts, every one of ${N} messages had its effect exactly once`, async () => {
      const url = withParams(urls[v.broker], v.params);
      const topic = freshName('inbox-crash');
      const group = freshName('g');
      const schema = freshSchema('inbox_crash');
      const dir = mkdtempSync(path.join(os.tmpdir(), 'carrier-inbox-crash-'));
      const log = path.join(dir, 'deliveries.txt');
      const marks = path.join(dir, 'marks');
      mkdirSync(marks);
      const runs: Run[] = [];
      let observer: Carrier | undefined;
      const start = (): Run => {
        const proc = spawn(process.execPath, ['--import', 'tsx', '--conditions', 'carrier-source', child], {
          cwd: harnessRoot,
          env: {
            ...process.env,
            CARRIER_URL: url,
            CARRIER_TEST_POSTGRES_URL: postgresUrl(),
            TOPIC: topic,
            GROUP: group,
            SCHEMA: schema,
            LOG: log,
            MARKS: marks,
            AFTER_COMMIT: AFTER_COMMIT.join(','),
            BEFORE_COMMIT: BEFORE_COMMIT.join(','),
            CONCURRENCY: String(CONCURRENCY),
          },
          stdio: ['ignore', 'pipe', 'pipe'],
        });
        const stderr: string[] = [];
        proc.stderr!.setEncoding('utf8').on('data', (d: string) => stderr.push(d));
        proc.stdout!.resume();
        const exited = new Promise<void>((resolve) => proc.once('exit', () => resolve()));
        return { proc, exited, stderr };
      };
      try {
        await createInboxSchema(pool, schema);
        observer = await connect(url, { onError: () => {} });
        await observer.declare(topic, [group]);
        for (let i = 0; i < N; i += 50) {
          await observer.publishBatch(
            topic,
            Array.from({ length: Math.min(50, N - i) }, (_, j) => ({ id: id(i + j), body: { n: i + j } })),
          );
        }

        let handled = 0;
        const crashed = () => readdirSync(marks).length;
        // every message handled, every crash point fired, and every crashed message delivered again
        const done = () =>
          handled === N &&
          crashed() === CRASHES &&
          [...AFTER_COMMIT, ...BEFORE_COMMIT].every((m) => (deliveryCounts(log).get(m) ?? 0) >= 2);
        const deaths: string[] = [];
        while (!done() && runs.length < MAX_RUNS) {
          const run = start();
          runs.push(run);
          let ended = false;
          void run.exited.then(() => {
            ended = true;
          });
          const deadline = Date.now() + v.perRunMs;
          while (!ended && !done() && Date.now() < deadline) {
            await new Promise((resolve) => setTimeout(resolve, 100));
            handled = (await effectCounts(pool, schema)).size;
          }
          if (ended) deaths.push(run.proc.signalCode ?? `exit ${run.proc.exitCode}`);
          else if (!done()) break; // neither died nor finished in time: reported below
        }
        // the last consumer stops cleanly (in-flight handlers finish and are settled)
        const last = runs.at(-1);
        if (last && alive(last)) {
          last.proc.kill('SIGTERM');
          await Promise.race([last.exited, new Promise((resolve) => setTimeout(resolve, 15_000))]);
        }

        const effects = await effectCounts(pool, schema);
        const records = await inboxRows(pool, schema, group);
        const deliveries = deliveryCounts(log);
        const twice = [...effects].filter(([, n]) => n !== 1);
        const missing = Array.from({ length: N }, (_, i) => id(i)).filter((m) => !effects.has(m));
        const redelivered = [...deliveries.values()].filter((n) => n > 1).length;
        const diagnosis =
          `consumer processes: ${runs.length} (ends: ${deaths.join(', ') || 'none'}); crash points fired: ${crashed()}/${CRASHES}; ` +
          `messages with an effect: ${effects.size}/${N}; effect not exactly once: ${JSON.stringify(twice.slice(0, 10))}; ` +
          `missing: ${missing.slice(0, 10).join(', ') || 'none'}; inbox records: ${records.length}; ` +
          `deliveries: ${[...deliveries.values()].reduce((a, b) => a + b, 0)} (${redelivered} messages delivered more than once); ` +
          `stderr: ${
            runs
              .flatMap((r) => r.stderr)
              .join('')
              .slice(0, 600) || 'none'
          }`;
        console.log(`[inbox crash] ${v.broker}: ${diagnosis}`);

        expect(deaths.filter((d) => d === 'SIGKILL').length, diagnosis).toBe(CRASHES);
        expect(missing, diagnosis).toEqual([]);
        expect(twice, diagnosis).toEqual([]);
        expect(records.length, diagnosis).toBe(N);
        // the crash points were really crossed, and their messages came back after the kill
        for (const m of [...AFTER_COMMIT, ...BEFORE_COMMIT]) {
          expect(
            deliveries.get(m) ?? 0,
            `${m} delivered again after its crash; ${diagnosis}`,
          ).toBeGreaterThanOrEqual(2);
        }
      } finally {
        for (const r of runs) {
          if (!alive(r)) continue;
          r.proc.kill('SIGTERM');
          await Promise.race([r.exited, new Promise((resolve) => setTimeout(resolve, 15_000).unref())]);
          if (alive(r)) r.proc.kill('SIGKILL');
        }
        await shut(observer, `${v.broker} observer`, (line) => console.log(`[inbox crash] ${line}`));
        await dropSchema(pool, schema);
        rmSync(dir, { recursive: true, force: true });
      }
    }, 600_000);
  }
});
