import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { GetQueueAttributesCommand, GetQueueUrlCommand, SQSClient } from '@aws-sdk/client-sqs';
import { deadLetterQueueName, groupQueueName } from '@carrier/adapter-sqs';
import { freshName } from '@carrier/contract';
import { CarrierError, connect } from '@carrier/core';
import { expect } from 'vitest';
import { expectClean, History, report } from '../src/history/index.js';
import { harnessRoot } from '../src/paths.js';
import { sqsEndpoint } from '../src/urls.js';

// Durability of the SQS transport, shared by the CI spec (small) and the soak spec (10,000): messages
// through a publisher and a consumer process that is killed with SIGKILL mid-stream and started
// again, while the publisher keeps publishing. moto keeps its state in memory only, so the fault is
// the consumer's crash, not the broker's. Nothing may be lost; what the dead consumer held comes
// back after the visibility timeout (heartbeats extend a lease to one visibility timeout from the
// last beat, never more, so a crashed member's messages are back within visibilityTimeout seconds
// of the kill, plus one long-poll wait for a poll the server still ran for the dead process).
//
// Every phase waits against one budget; when it runs out the run fails with what is missing and
// the queue state (visible, in flight, delayed, dead letters), then waits one more visibility
// timeout to tell hidden from lost. It never outlives its budget by more than that. At the end the
// history checker (src/history/) judges the publishes and handler calls: nothing lost, nothing
// phantom (SQS standard queues promise no order).

export interface DurabilityOptions {
  /** URL of the (private) broker. */
  readonly url: string;
  readonly total: number;
  /** Distinct handled messages at which the first consumer is killed. */
  readonly killAt: number;
  /** Most messages published and not yet handled (moto scans a queue on every call). */
  readonly maxBacklog: number;
  /** Everything (publish, kill, restart, all handled) must be done within this, in ms. */
  readonly budgetMs: number;
  /** Visibility timeout of the consumer, in seconds. */
  readonly visibilityTimeoutSeconds: number;
  readonly label: string;
  /** Child processes started, so that the caller's afterAll can kill them whatever happened. */
  readonly children: Set<ChildProcess>;
}

const repoRoot = path.resolve(harnessRoot, '..');
const BATCH = 100;

// The consumer process: appends every handler call (id, attempt, time) to its own file with a
// synchronous write before the handler returns (so before the ack), which survives SIGKILL; stdout
// only says "ready".
const CONSUMER = `
import { openSync, writeSync } from 'node:fs';
import { CarrierError, connect } from '@carrier/core';
const out = openSync(process.env.OUT, 'a');
const carrier = await connect(process.env.CARRIER_URL, { onError: (e) => process.stderr.write(String(e) + '\\n') });
await carrier.subscribe(process.env.TOPIC, { group: 'g', concurrency: 32 }, (m) => {
  writeSync(out, m.id + ' ' + m.attempt + ' ' + Date.now() + '\\n');
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

function startConsumer(opts: DurabilityOptions, topic: string, out: string, stderr: string[]): Consumer {
  const url = new URL(opts.url);
  url.searchParams.set('visibilityTimeout', String(opts.visibilityTimeoutSeconds));
  const child = spawn(process.execPath, ['--input-type=module', '-e', CONSUMER], {
    cwd: repoRoot,
    env: { ...process.env, CARRIER_URL: url.toString(), TOPIC: topic, OUT: out },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  opts.children.add(child);
  let markReady!: () => void;
  const ready = new Promise<void>((resolve) => {
    markReady = resolve;
  });
  child.stdout!.setEncoding('utf8').on('data', (chunk: string) => {
    if (chunk.includes('ready')) markReady();
  });
  child.stderr!.setEncoding('utf8').on('data', (chunk: string) => stderr.push(chunk));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  void exited.then(() => opts.children.delete(child));
  return { child, ready, exited };
}

interface Call {
  readonly member: string;
  readonly id: string;
  readonly attempt: number;
  readonly at: number;
}

/** The handler calls the consumers wrote, member by member (`consumer-N`). */
function readCalls(files: readonly string[]): Call[] {
  const calls: Call[] = [];
  files.forEach((file, n) => {
    if (!existsSync(file)) return;
    for (const line of readFileSync(file, 'utf8').split('\n')) {
      const [id, attempt, at] = line.split(' ');
      // a line cut by SIGKILL mid-write has no time: the id was handled, when is unknown
      if (id)
        calls.push({ member: `consumer-${n + 1}`, id, attempt: Number(attempt ?? 0), at: Number(at) || 0 });
    }
  });
  return calls;
}

/** The group queue's and its dead-letter queue's state, for the report. */
export async function queueState(url: string, topic: string): Promise<string> {
  const sqs = new SQSClient(sqsEndpoint(url));
  const one = async (name: string) => {
    const { QueueUrl } = await sqs.send(new GetQueueUrlCommand({ QueueName: name }));
    const a =
      (await sqs.send(new GetQueueAttributesCommand({ QueueUrl, AttributeNames: ['All'] }))).Attributes ?? {};
    return `visible ${a.ApproximateNumberOfMessages}, not visible ${a.ApproximateNumberOfMessagesNotVisible}, delayed ${a.ApproximateNumberOfMessagesDelayed}`;
  };
  try {
    return `group queue: ${await one(groupQueueName(topic, 'g', { fifo: false }))}; dead letters: ${await one(deadLetterQueueName(topic, 'g', { fifo: false }))}`;
  } catch (error) {
    return `queue state unavailable: ${(error as Error).message}`;
  } finally {
    sqs.destroy();
  }
}

/** Polls `condition` until it holds or `until` (epoch ms) passes; returns whether it held. */
async function until(condition: () => boolean, deadline: number): Promise<boolean> {
  while (!condition()) {
    if (Date.now() >= deadline) return false;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  return true;
}

function alive(c: Consumer): boolean {
  return c.child.exitCode === null && c.child.signalCode === null;
}

/** Runs the scenario; throws with a full report when anything is missing at the end of the budget. */
export async function runSqsDurability(opts: DurabilityOptions): Promise<void> {
  const { total, label } = opts;
  const topic = freshName('durable');
  const publisher = await connect(opts.url);
  const history = new History({ groups: ['g'] });
  const dir = mkdtempSync(path.join(os.tmpdir(), 'carrier-sqs-durability-'));
  const files: string[] = [];
  let calls: Call[] = [];
  let received: string[] = [];
  let distinctCount = 0;
  const refresh = () => {
    calls = readCalls(files);
    received = calls.map((c) => c.id);
    distinctCount = new Set(received).size;
  };
  const ledger = setInterval(refresh, 200);
  const t0 = Date.now();
  const deadline = t0 + opts.budgetMs;
  const progress = setInterval(() => {
    console.log(
      `[${label}] ${Math.round((Date.now() - t0) / 1000)} s: ${received.length} handled, ${distinctCount} distinct`,
    );
  }, 30_000);
  const stderr: string[] = [];
  const consumers: Consumer[] = [];
  const events: string[] = [];
  const mark = (what: string) => events.push(`${what} at ${Date.now() - t0} ms`);
  let published = 0;
  let stopPublishing = false;

  const missing = () => {
    refresh();
    const seen = new Set(received);
    return Array.from({ length: total }, (_, i) => `m-${i}`).filter((id) => !seen.has(id));
  };
  const fail = async (what: string): Promise<never> => {
    stopPublishing = true;
    const stateAtBudget = await queueState(opts.url, topic);
    const lateAtBudget = missing();
    // tell hidden from lost: one more visibility timeout (plus a long poll) for invisible messages
    const graceMs = (opts.visibilityTimeoutSeconds + 6) * 1_000;
    await until(() => distinctCount >= published, Date.now() + graceMs);
    const stillMissing = missing().filter((id) => Number(id.slice(2)) < published);
    throw new Error(
      [
        `[${label}] ${what} not reached within the ${opts.budgetMs} ms budget`,
        `published ${published} of ${total}; handled ${distinctCount} distinct at the budget (${received.length} deliveries)`,
        `missing at the budget: ${lateAtBudget.length} (${lateAtBudget.slice(0, 20).join(', ')}${lateAtBudget.length > 20 ? ', …' : ''})`,
        `queue at the budget: ${stateAtBudget}`,
        `after ${graceMs} ms more: ${stillMissing.length} published ids still missing (${stillMissing.slice(0, 20).join(', ')}); queue: ${await queueState(opts.url, topic)}`,
        `timeline: ${events.join('; ')}`,
        `consumer stderr: ${stderr.join('').slice(-1_000) || 'none'}`,
      ].join('\n'),
    );
  };

  const start = async () => {
    const file = path.join(dir, `consumer-${files.length}.ids`);
    files.push(file);
    const c = startConsumer(opts, topic, file, stderr);
    consumers.push(c);
    const ok = await Promise.race([
      c.ready.then(() => true),
      c.exited.then(() => {
        throw new Error(`consumer exited early: ${stderr.join('')}`);
      }),
      new Promise<boolean>((resolve) => setTimeout(() => resolve(false), Math.max(0, deadline - Date.now()))),
    ]);
    if (!ok) await fail('a consumer ready');
    mark(`consumer ${consumers.length} ready`);
    return c;
  };

  try {
    await publisher.declare(topic, ['g']);
    const first = await start();
    const started = Date.now();
    const publishing = (async () => {
      for (let n = 0; n < total && !stopPublishing; n += BATCH) {
        if (!(await until(() => stopPublishing || published - distinctCount < opts.maxBacklog, deadline)))
          return;
        if (stopPublishing) return;
        const entries = Array.from({ length: Math.min(BATCH, total - n) }, (_, j) => ({
          id: `m-${n + j}`,
          body: { n: n + j },
        }));
        // entries a PUBLISH_FAILED names are published again, as a user would (moto under load
        // may not answer within the deadline); the history excuses their duplicates
        let pending = entries;
        while (pending.length > 0) {
          const batch = pending;
          try {
            await history.track(batch, () => publisher.publishBatch(topic, batch));
            pending = [];
          } catch (error) {
            if (!(error instanceof CarrierError) || error.code !== 'PUBLISH_FAILED' || Date.now() >= deadline)
              throw error;
            const failed = new Set(error.failures.map((f) => f.index));
            pending = batch.filter((_, i) => failed.has(i));
          }
        }
        published += entries.length;
      }
      mark('all published');
    })();
    if (!(await until(() => distinctCount >= opts.killAt, deadline))) await fail(`${opts.killAt} handled`);
    const kill = { published, handled: distinctCount };
    first.child.kill('SIGKILL');
    await first.exited;
    mark(`first consumer killed -9 (${kill.published} published, ${kill.handled} handled)`);
    const killedAt = Date.now();
    await start();
    const restartedAt = Date.now();
    await publishing;
    if (published < total) await fail(`all ${total} published`);
    const publishedAt = Date.now();
    if (!(await until(() => distinctCount >= total, deadline))) await fail(`all ${total} handled`);
    const doneAt = Date.now();
    refresh();
    for (const c of calls) history.handled({ group: 'g', ...c });
    const r = report(history);
    console.log(
      [
        `[${label}] consumer killed -9 at ${kill.published} published / ${kill.handled} handled; the new one was ready ${restartedAt - killedAt} ms later`,
        `published ${published} in ${publishedAt - started} ms; all handled after ${doneAt - started} ms`,
        ...r.lines,
        `consumer errors on stderr: ${stderr.length ? stderr.join('').slice(0, 500) : 'none'}`,
      ].join('\n'),
    );
    expectClean(r, { order: false });
    expect(r.publishes.confirmed, `[${label}] confirmed publishes`).toBe(total);
  } finally {
    stopPublishing = true;
    clearInterval(ledger);
    clearInterval(progress);
    for (const c of consumers) {
      if (!alive(c)) continue;
      c.child.kill('SIGTERM');
      await Promise.race([c.exited, new Promise((resolve) => setTimeout(resolve, 10_000).unref())]);
      if (alive(c)) c.child.kill('SIGKILL');
    }
    await publisher.close();
    rmSync(dir, { recursive: true, force: true });
  }
}
