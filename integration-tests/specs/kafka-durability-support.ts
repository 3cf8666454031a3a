import { type ChildProcess, spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { freshName } from '@carrier/contract';
import { type Carrier, CarrierError, connect } from '@carrier/core';
import { type PrivateBroker, privateBroker } from '../src/faults.js';
import { expectClean, History, type Report, report } from '../src/history/index.js';

// Durability on a private Kafka (killing it disturbs no other spec): a group of two members
// processes a stream of messages while the broker is killed with SIGKILL and restarted, and while
// one member (a separate process) is killed with SIGKILL and replaced. Every message must be
// handled at least once; duplicates are counted (at-least-once allows them). Publishes and handler
// calls are recorded in a History (src/history/) whose report the caller checks (lost, phantom,
// per-key order). A run that stops making progress fails with what is missing instead of waiting
// for a test timeout.

const BATCH = 200;
const GROUP = 'workers';
const cwd = fileURLToPath(new URL('..', import.meta.url));

// A member in its own process, so that it can really be killed (no LeaveGroup, no commit).
const MEMBER = `
import { connect } from '@carrier/core';
const carrier = await connect(process.env.KAFKA_URL, { onError: () => process.stdout.write('error\\n') });
await carrier.subscribe(process.env.TOPIC, { group: '${GROUP}', concurrency: 8 }, (m) => {
  process.stdout.write('handled ' + m.id + ' ' + m.key + ' ' + m.attempt + '\\n');
});
process.stdout.write('ready\\n');
`;

function spawnMember(
  url: string,
  topic: string,
  onHandled: (id: string, key: string, attempt: number) => void,
  onError: () => void,
): { child: ChildProcess; ready: Promise<void> } {
  const child = spawn(process.execPath, ['--input-type=module', '-e', MEMBER], {
    cwd,
    env: { ...process.env, KAFKA_URL: url, TOPIC: topic },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const ready = new Promise<void>((resolve, reject) => {
    child.once('exit', (code) => reject(new Error(`member exited early (${code})`)));
    createInterface({ input: child.stdout! }).on('line', (line) => {
      if (line === 'ready') resolve();
      else if (line.startsWith('handled ')) {
        const [id, key, attempt] = line.slice('handled '.length).split(' ');
        onHandled(id!, key!, Number(attempt));
      } else if (line === 'error') onError();
    });
  });
  return { child, ready };
}

function killed(child: ChildProcess): Promise<void> {
  return new Promise((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) resolve();
    else child.once('exit', () => resolve());
  });
}

export interface KafkaDurabilityResult {
  readonly total: number;
  /** The history's report, per-key order checked (Kafka orders by record key). */
  readonly report: Report;
  readonly asyncErrors: number;
  readonly killedAt: number;
  readonly memberKilledAt: number;
  readonly ms: number;
}

/**
 * One run. `stallMs`: longest time without a newly handled message before the run fails (listing
 * how many and which messages are missing). Children are added to `children` (kill them in every path).
 */
export async function runKafkaDurability(options: {
  readonly kafka: PrivateBroker;
  readonly total: number;
  readonly stallMs: number;
  readonly children: Set<ChildProcess>;
  /** URL options added to the broker's URL, e.g. `client=platformatic` (the driver under test). */
  readonly query?: string;
}): Promise<KafkaDurabilityResult> {
  const { kafka, total, stallMs, children } = options;
  const url =
    options.query === undefined
      ? kafka.url
      : `${kafka.url}${kafka.url.includes('?') ? '&' : '?'}${options.query}`;
  const started = Date.now();
  const carriers: Carrier[] = [];
  try {
    const topic = freshName('durable');
    const history = new History({ groups: [GROUP] });
    const counts = new Set<string>();
    const handler = (member: string) => (id: string, key: string, attempt: number) => {
      history.handled({ group: GROUP, member, id, key, attempt });
      counts.add(id);
    };
    let asyncErrors = 0;
    const open = async () => {
      const c = await connect(url, { onError: () => asyncErrors++ });
      carriers.push(c);
      return c;
    };
    // waits for `target` distinct messages; fails when nothing new was handled for stallMs
    const progress = async (target: number, what: string) => {
      let last = counts.size;
      let lastAt = Date.now();
      while (counts.size < target) {
        if (counts.size !== last) {
          last = counts.size;
          lastAt = Date.now();
        } else if (Date.now() - lastAt > stallMs) {
          const missing = Array.from({ length: total }, (_, i) => `m-${i}`).filter((id) => !counts.has(id));
          throw new Error(
            `stalled waiting for ${what}: ${counts.size} handled, nothing new for ${stallMs} ms; ` +
              `${missing.length} missing, e.g. ${missing.slice(0, 20).join(', ')}`,
          );
        }
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
    };

    const publisher = await open();
    await publisher.declare(topic, [GROUP]);
    const inProcess = await open();
    const inProcessHandled = handler('in-process');
    await inProcess.subscribe(topic, { group: GROUP, concurrency: 8 }, (m) => {
      inProcessHandled(m.id, m.key ?? '', m.attempt);
    });
    const doomed = spawnMember(url, topic, handler('child-1'), () => asyncErrors++);
    children.add(doomed.child);
    await doomed.ready;

    // the stream: ids are fixed up front, so a republished message is the same message
    const publishRange = async (from: number, to: number) => {
      for (let start = from; start < to; start += BATCH) {
        let entries = Array.from({ length: Math.min(BATCH, to - start) }, (_, i) => ({
          id: `m-${start + i}`,
          key: `k-${(start + i) % 97}`,
          body: { n: start + i },
        }));
        while (entries.length > 0) {
          try {
            const batch = entries;
            await history.track(batch, () => publisher.publishBatch(topic, batch));
            entries = [];
          } catch (error) {
            if (!(error instanceof CarrierError) || error.code !== 'PUBLISH_FAILED') throw error;
            const failed = new Set(error.failures.map((f) => f.index));
            entries = entries.filter((_, i) => failed.has(i));
          }
        }
      }
    };

    await publishRange(0, total / 2);
    await progress(Math.floor(total / 5), 'a fifth handled before the broker kill');
    const killedAt = counts.size;
    await kafka.kill9();
    // the second half is published while the broker is down and coming back
    const publishing = publishRange(total / 2, total);
    await kafka.start();
    await progress(killedAt + Math.floor(total / 10), 'progress after the broker restart');

    const memberKilledAt = counts.size;
    doomed.child.kill('SIGKILL');
    await killed(doomed.child);
    const replacement = spawnMember(url, topic, handler('child-2'), () => asyncErrors++);
    children.add(replacement.child);
    await replacement.ready;

    await publishing;
    await progress(total, `all ${total} messages`);
    return {
      total,
      report: report(history, { order: true }),
      asyncErrors,
      killedAt,
      memberKilledAt,
      ms: Date.now() - started,
    };
  } finally {
    for (const child of children) child.kill('SIGKILL');
    await Promise.allSettled(carriers.map((c) => c.close()));
  }
}

export function describeResult(r: KafkaDurabilityResult): string {
  return (
    `${r.total} messages in ${(r.ms / 1000).toFixed(0)} s (broker killed at ${r.killedAt} handled, member killed ` +
    `at ${r.memberKilledAt}; ${r.asyncErrors} async errors reported, e.g. failed acks while the broker was down); ` +
    r.report.summary
  );
}

/**
 * The durability spec's body: 10,000 messages on a private broker through a broker kill -9 and a
 * member kill -9, then the history checked clean (per-key order included). `query` selects the
 * driver (e.g. `client=platformatic`); `label` names the printed result.
 */
export async function checkKafkaDurability(label: string, query?: string): Promise<void> {
  const kafka = await privateBroker('kafka');
  const children = new Set<ChildProcess>();
  try {
    const result = await runKafkaDurability({
      kafka,
      total: 10_000,
      stallMs: 120_000,
      children,
      ...(query === undefined ? {} : { query }),
    });
    console.log(`[${label}] ${describeResult(result)}`);
    expectClean(result.report, { order: true });
  } finally {
    for (const child of children) child.kill('SIGKILL');
    await kafka.dispose();
  }
}
