import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { freshName } from '@carrier/contract';
import { type Carrier, connect, type DeadLetter } from '@carrier/core';
import { describe, expect, inject, it } from 'vitest';
import '../src/context.js';
import { harnessRoot } from '../src/paths.js';
import type { BrokerName } from '../src/types.js';
import { shut, waitUntil, withParams } from './network-faults-support.js';

// A message that kills its consumer is not redelivered forever: a consumer process subscribed with
// maxAttempts 2 dies (SIGKILL, inside its handler) on one poison message among a few normal ones;
// the test restarts it after every death. Expected on every broker: the handler sees the poison
// message with attempts 1, 2 (two deaths), the next delivery (attempt 3: the count goes on past 2)
// is dead-lettered by core without calling the handler, with a reason saying the consumer died ("delivered N times, the last one
// without settlement …"), and the normal messages are handled.

const MAX_ATTEMPTS = 2;
/** Consumer processes started at most: one per death, one that dead-letters, one spare. */
const MAX_RUNS = MAX_ATTEMPTS + 2;
const NORMAL = 4;
const child = path.join(harnessRoot, 'specs', 'fixtures', 'crash-loop-child.ts');
const urls = inject('brokers');

interface Variant {
  label: string;
  broker: BrokerName;
  /**
   * URL options that make a dead consumer's message come back soon: Kafka's session timeout (the
   * broker's minimum), NATS's ack wait, SQS's visibility timeout (its minimum); RabbitMQ requeues
   * at once when the connection drops.
   */
  params: Record<string, string>;
  /** How long one consumer process may take to die or finish (redelivery delay included). */
  perRunMs: number;
}

const VARIANTS: Variant[] = [
  { label: 'kafka', broker: 'kafka', params: { sessionTimeoutMs: '6000' }, perRunMs: 60_000 },
  { label: 'rabbitmq (quorum queue)', broker: 'rabbitmq', params: { queueType: 'quorum' }, perRunMs: 30_000 },
  {
    label: 'rabbitmq (classic queue)',
    broker: 'rabbitmq',
    params: { queueType: 'classic' },
    perRunMs: 30_000,
  },
  { label: 'nats', broker: 'nats', params: { ackWaitMs: '3000' }, perRunMs: 30_000 },
  { label: 'sqs', broker: 'sqs', params: { visibilityTimeout: '3' }, perRunMs: 30_000 },
];

interface Run {
  proc: ChildProcess;
  exited: Promise<void>;
  stderr: string[];
}

function startConsumer(url: string, topic: string, poison: string, out: string): Run {
  const proc = spawn(process.execPath, ['--import', 'tsx', '--conditions', 'carrier-source', child], {
    cwd: harnessRoot,
    env: {
      ...process.env,
      CARRIER_URL: url,
      TOPIC: topic,
      POISON: poison,
      OUT: out,
      MAX_ATTEMPTS: String(MAX_ATTEMPTS),
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const stderr: string[] = [];
  proc.stderr!.setEncoding('utf8').on('data', (d: string) => stderr.push(d));
  proc.stdout!.resume();
  const exited = new Promise<void>((resolve) => proc.once('exit', () => resolve()));
  return { proc, exited, stderr };
}

const alive = (r: Run) => r.proc.exitCode === null && r.proc.signalCode === null;

/** `<id> <attempt>` lines the consumer processes wrote. */
function seen(out: string): { id: string; attempt: number }[] {
  if (!existsSync(out)) return [];
  return readFileSync(out, 'utf8')
    .split('\n')
    .filter(Boolean)
    .map((l) => {
      const [id, attempt] = l.split(' ');
      return { id: id!, attempt: Number(attempt) };
    });
}

describe.concurrent('a message that kills its consumer', () => {
  for (const v of VARIANTS) {
    it(`${v.label}: is dead-lettered after ${MAX_ATTEMPTS} deliveries with a reason saying the consumer died; the others are handled`, async () => {
      const url = withParams(urls[v.broker], v.params);
      const topic = freshName('crashloop');
      const dir = mkdtempSync(path.join(os.tmpdir(), 'carrier-crash-loop-'));
      const out = path.join(dir, 'seen.txt');
      const runs: Run[] = [];
      let observer: Carrier | undefined;
      try {
        observer = await connect(url, { onError: () => {} });
        await observer.declare(topic, ['g']);
        const letters: DeadLetter[] = [];
        await observer.deadLetters(topic, 'g').subscribe((l) => {
          letters.push(l);
        });
        const { id: poison } = await observer.publish(topic, { poison: true });
        const normal = (
          await observer.publishBatch(
            topic,
            Array.from({ length: NORMAL }, (_, i) => ({ body: { normal: i } })),
          )
        ).map((r) => r.id);

        const lettered = () => letters.find((l) => l.message.id === poison);
        const othersHandled = () => {
          const ids = new Set(seen(out).map((s) => s.id));
          return normal.every((id) => ids.has(id));
        };
        const done = () => lettered() !== undefined && othersHandled();
        const deaths: string[] = [];
        while (!done() && runs.length < MAX_RUNS) {
          const run = startConsumer(url, topic, poison, out);
          runs.push(run);
          let ended = false;
          void run.exited.then(() => {
            ended = true;
          });
          try {
            await waitUntil(
              `consumer process ${runs.length} to die or finish`,
              () => ended || done(),
              v.perRunMs,
            );
          } catch {
            break; // neither: reported below
          }
          if (ended) deaths.push(`${run.proc.signalCode ?? `exit ${run.proc.exitCode}`}`);
        }

        const poisonAttempts = seen(out)
          .filter((s) => s.id === poison)
          .map((s) => s.attempt);
        const letter = lettered();
        const diagnosis =
          `consumer processes: ${runs.length} (ends: ${deaths.join(', ') || 'none'}); ` +
          `poison attempts seen by the handler: [${poisonAttempts.join(', ')}]; ` +
          `dead letter: ${letter ? `attempts ${letter.attempts}, reason "${letter.reason}"` : 'none'}; ` +
          `normal handled: ${normal.filter((id) => seen(out).some((s) => s.id === id)).length}/${NORMAL}; ` +
          `stderr: ${
            runs
              .flatMap((r) => r.stderr)
              .join('')
              .slice(0, 600) || 'none'
          }`;
        console.log(`[crash loop] ${v.label}: ${diagnosis}`);

        expect(poisonAttempts, diagnosis).toEqual(Array.from({ length: MAX_ATTEMPTS }, (_, i) => i + 1));
        expect(deaths.filter((d) => d === 'SIGKILL').length, diagnosis).toBe(MAX_ATTEMPTS);
        expect(letter, diagnosis).toBeDefined();
        expect(letter!.attempts, diagnosis).toBe(MAX_ATTEMPTS);
        expect(letter!.reason, diagnosis).toMatch(/without settlement|consumer (crashed|died)/i);
        expect(letter!.message.body).toEqual({ poison: true });
        expect(othersHandled(), diagnosis).toBe(true);
      } finally {
        for (const r of runs) {
          if (!alive(r)) continue;
          r.proc.kill('SIGTERM');
          await Promise.race([r.exited, new Promise((resolve) => setTimeout(resolve, 15_000).unref())]);
          if (alive(r)) r.proc.kill('SIGKILL');
        }
        await shut(observer, `${v.label} observer`, (line) => console.log(`[crash loop] ${line}`));
        rmSync(dir, { recursive: true, force: true });
      }
    }, 300_000);
  }
});
