import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { GetQueueAttributesCommand, GetQueueUrlCommand, SQSClient } from '@aws-sdk/client-sqs';
import { groupQueueName } from '@carrier/adapter-sqs';
import { duplicates, freshName, waitFor } from '@carrier/contract';
import { connect } from '@carrier/core';
import { describe, expect, it } from 'vitest';
import '../src/context.js';
import { privateBroker } from '../src/faults.js';
import { harnessRoot } from '../src/paths.js';
import { sqsEndpoint } from '../src/urls.js';

// Durability of the SQS transport: 10,000 messages through a publisher and a consumer process that
// is killed with SIGKILL mid-stream and started again, while the publisher keeps publishing. The
// emulator (moto) keeps its state in memory only, so restarting it would lose every queue: the
// fault here is the consumer's crash instead. Nothing may be lost; what the dead consumer held comes
// back after the visibility timeout; duplicates (handled but not yet deleted at the kill) are
// counted and printed. The emulator is private to this test (no other spec's traffic).

const TOTAL = 10_000;
const BATCH = 100;
/**
 * Most messages published and not yet handled. moto keeps each queue in a list that it scans on
 * every receive and delete, so a deep backlog makes the emulator quadratically slow; a bounded
 * backlog keeps the run about the transport, not about moto.
 */
const MAX_BACKLOG = 300;
/** Handled messages at which the first consumer is killed. */
const KILL_AT = 3_000;
const repoRoot = path.resolve(harnessRoot, '..');

// The consumer process: appends every handled id to its own file with a synchronous write before
// the handler returns (so before the ack), which survives SIGKILL; stdout only says "ready".
const CONSUMER = `
import { openSync, writeSync } from 'node:fs';
import { connect } from '@carrier/core';
const out = openSync(process.env.OUT, 'a');
const carrier = await connect(process.env.CARRIER_URL, { onError: (e) => process.stderr.write(String(e) + '\\n') });
await carrier.subscribe(process.env.TOPIC, { group: 'g', concurrency: 32 }, (m) => {
  writeSync(out, m.id + '\\n');
});
process.stdout.write('ready\\n');
process.on('SIGTERM', async () => {
  await carrier.close();
  process.exit(0);
});
`;

interface Consumer {
  readonly child: ChildProcess;
  readonly ready: Promise<void>;
  readonly exited: Promise<void>;
}

function startConsumer(url: string, topic: string, out: string, stderr: string[]): Consumer {
  const child = spawn(process.execPath, ['--input-type=module', '-e', CONSUMER], {
    cwd: repoRoot,
    env: { ...process.env, CARRIER_URL: url, TOPIC: topic, OUT: out },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let markReady!: () => void;
  const ready = new Promise<void>((resolve) => {
    markReady = resolve;
  });
  child.stdout!.setEncoding('utf8').on('data', (chunk: string) => {
    if (chunk.includes('ready')) markReady();
  });
  child.stderr!.setEncoding('utf8').on('data', (chunk: string) => stderr.push(chunk));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  return { child, ready, exited };
}

/** Every id handled so far, by all consumers, in the order each wrote them. */
function readHandled(files: readonly string[]): string[] {
  const ids: string[] = [];
  for (const file of files) {
    if (!existsSync(file)) continue;
    for (const line of readFileSync(file, 'utf8').split('\n')) if (line) ids.push(line);
  }
  return ids;
}

/** What the emulator says is left in the group queue (for the report when something is missing). */
async function queueDepth(url: string, topic: string): Promise<string> {
  const sqs = new SQSClient(sqsEndpoint(url));
  try {
    const { QueueUrl } = await sqs.send(
      new GetQueueUrlCommand({ QueueName: groupQueueName(topic, 'g', { fifo: false }) }),
    );
    const out = await sqs.send(new GetQueueAttributesCommand({ QueueUrl, AttributeNames: ['All'] }));
    const a = out.Attributes ?? {};
    return `visible ${a.ApproximateNumberOfMessages}, in flight ${a.ApproximateNumberOfMessagesNotVisible}`;
  } finally {
    sqs.destroy();
  }
}

function alive(c: Consumer): boolean {
  return c.child.exitCode === null && c.child.signalCode === null;
}

describe('sqs durability', () => {
  it('10,000 messages: consumer process killed -9 mid-stream and restarted, nothing lost', async () => {
    const moto = await privateBroker('sqs');
    const url = moto.url;
    const topic = freshName('durable');
    const publisher = await connect(url);
    const dir = mkdtempSync(path.join(os.tmpdir(), 'carrier-sqs-durability-'));
    const files: string[] = [];
    let received: string[] = [];
    let distinctCount = 0;
    const refresh = () => {
      received = readHandled(files);
      distinctCount = new Set(received).size;
    };
    const ledger = setInterval(refresh, 200);
    const t0 = Date.now();
    const progress = setInterval(() => {
      console.log(
        `[sqs durability] ${Math.round((Date.now() - t0) / 1000)} s: ${received.length} handled, ${distinctCount} distinct`,
      );
    }, 30_000);
    const stderr: string[] = [];
    const consumers: Consumer[] = [];
    const start = async () => {
      const file = path.join(dir, `consumer-${files.length}.ids`);
      files.push(file);
      const c = startConsumer(url, topic, file, stderr);
      consumers.push(c);
      await Promise.race([
        c.ready,
        c.exited.then(() => {
          throw new Error(`consumer exited early: ${stderr.join('')}`);
        }),
      ]);
      return c;
    };
    const distinct = () => distinctCount;
    const kills: { published: number; handled: number }[] = [];
    try {
      await publisher.declare(topic, ['g']);
      const first = await start();
      const started = Date.now();
      let published = 0;
      const publishing = (async () => {
        for (let n = 0; n < TOTAL; n += BATCH) {
          await waitFor(() => published - distinct() < MAX_BACKLOG, 300_000, 'the backlog to shrink');
          const entries = Array.from({ length: BATCH }, (_, j) => ({ id: `m-${n + j}`, body: { n: n + j } }));
          await publisher.publishBatch(topic, entries);
          published += entries.length;
        }
      })();
      await waitFor(() => distinct() >= KILL_AT, 300_000, `the first consumer to handle ${KILL_AT} messages`);
      kills.push({ published, handled: received.length });
      first.child.kill('SIGKILL');
      await first.exited;
      const killedAt = Date.now();
      await start();
      const restartedAt = Date.now();
      await publishing;
      const publishedAt = Date.now();
      try {
        await waitFor(() => distinct() >= TOTAL, 300_000, `all ${TOTAL} messages`);
      } catch (error) {
        refresh();
        const seen = new Set(received);
        const missing = Array.from({ length: TOTAL }, (_, i) => `m-${i}`).filter((id) => !seen.has(id));
        throw new Error(
          `${(error as Error).message}: ${missing.length} missing (${missing.slice(0, 10).join(', ')}…); queue: ${await queueDepth(url, topic)}`,
        );
      }
      const doneAt = Date.now();
      refresh();

      const dups = duplicates(received);
      const extra = [...dups.values()].reduce((sum, n) => sum + n - 1, 0);
      console.log(
        [
          `[sqs durability] consumer killed -9 at ${kills[0]!.published} published / ${kills[0]!.handled} handled; the new one was ready ${restartedAt - killedAt} ms later`,
          `published ${published} in ${publishedAt - started} ms; all handled after ${doneAt - started} ms`,
          `handled ${received.length} deliveries, ${distinct()} distinct, ${dups.size} ids handled more than once (${extra} extra deliveries)`,
          `consumer errors on stderr: ${stderr.length ? stderr.join('').slice(0, 500) : 'none'}`,
        ].join('\n'),
      );
      expect(published).toBe(TOTAL);
      const seen = new Set(received);
      expect(Array.from({ length: TOTAL }, (_, i) => `m-${i}`).filter((id) => !seen.has(id))).toEqual([]);
    } finally {
      clearInterval(ledger);
      clearInterval(progress);
      for (const c of consumers) {
        if (!alive(c)) continue;
        c.child.kill('SIGTERM');
        await Promise.race([c.exited, new Promise((resolve) => setTimeout(resolve, 30_000).unref())]);
        if (alive(c)) c.child.kill('SIGKILL');
      }
      await publisher.close();
      await moto.dispose();
      rmSync(dir, { recursive: true, force: true });
    }
  }, 900_000);
});
