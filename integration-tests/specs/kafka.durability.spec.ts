import { type ChildProcess, spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { freshName, waitFor } from '@carrier/contract';
import { type Carrier, CarrierError, connect } from '@carrier/core';
import { describe, expect, it } from 'vitest';
import '../src/context.js';
import { privateBroker } from '../src/faults.js';

// Durability on a private Kafka (killing it disturbs no other spec): a group of two members
// processes a stream of 10,000 messages while the broker is killed with SIGKILL and restarted, and
// while one member (a separate process) is killed with SIGKILL and replaced. Every message must be
// handled at least once; the duplicate count is printed (at-least-once allows duplicates).

const TOTAL = 10_000;
const BATCH = 200;
const GROUP = 'workers';
const cwd = fileURLToPath(new URL('..', import.meta.url));

// A member in its own process, so that it can really be killed (no LeaveGroup, no commit).
const MEMBER = `
import { connect } from '@carrier/core';
const carrier = await connect(process.env.KAFKA_URL, { onError: () => process.stdout.write('error\\n') });
await carrier.subscribe(process.env.TOPIC, { group: '${GROUP}', concurrency: 8 }, (m) => {
  process.stdout.write('handled ' + m.id + '\\n');
});
process.stdout.write('ready\\n');
`;

interface Member {
  readonly child: ChildProcess;
  readonly ready: Promise<void>;
}

function spawnMember(
  url: string,
  topic: string,
  onHandled: (id: string) => void,
  onError: () => void,
): Member {
  const child = spawn(process.execPath, ['--input-type=module', '-e', MEMBER], {
    cwd,
    env: { ...process.env, KAFKA_URL: url, TOPIC: topic },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const ready = new Promise<void>((resolve, reject) => {
    child.once('exit', (code) => reject(new Error(`member exited early (${code})`)));
    createInterface({ input: child.stdout! }).on('line', (line) => {
      if (line === 'ready') resolve();
      else if (line.startsWith('handled ')) onHandled(line.slice('handled '.length));
      else if (line === 'error') onError();
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

describe('kafka durability', () => {
  it(`a group handles all of ${TOTAL} messages through a broker kill -9 and a member kill -9`, {
    timeout: 600_000,
  }, async () => {
    const kafka = await privateBroker('kafka');
    const carriers: Carrier[] = [];
    const children: ChildProcess[] = [];
    try {
      const topic = freshName('durable');
      const counts = new Map<string, number>();
      const handled = (id: string) => counts.set(id, (counts.get(id) ?? 0) + 1);
      const errors: string[] = [];
      let childErrors = 0;
      const open = async () => {
        const c = await connect(kafka.url, { onError: (e) => errors.push(String(e)) });
        carriers.push(c);
        return c;
      };

      const publisher = await open();
      await publisher.declare(topic, [GROUP]);
      const inProcess = await open();
      await inProcess.subscribe(topic, { group: GROUP, concurrency: 8 }, (m) => {
        handled(m.id);
      });
      const doomed = spawnMember(kafka.url, topic, handled, () => childErrors++);
      children.push(doomed.child);
      await doomed.ready;

      // the stream: ids are fixed up front, so a republished message is the same message
      let republished = 0;
      const publishRange = async (from: number, to: number) => {
        for (let start = from; start < to; start += BATCH) {
          let entries = Array.from({ length: Math.min(BATCH, to - start) }, (_, i) => ({
            id: `m-${start + i}`,
            key: `k-${(start + i) % 97}`,
            body: { n: start + i },
          }));
          while (entries.length > 0) {
            try {
              await publisher.publishBatch(topic, entries);
              entries = [];
            } catch (error) {
              if (!(error instanceof CarrierError) || error.code !== 'PUBLISH_FAILED') throw error;
              const failed = new Set(error.failures.map((f) => f.index));
              entries = entries.filter((_, i) => failed.has(i));
              republished += entries.length;
            }
          }
        }
      };

      const deadline = 300_000;
      await publishRange(0, TOTAL / 2);
      await waitFor(() => counts.size >= 2_000, deadline, '2,000 messages handled before the broker kill');
      const killedAt = counts.size;
      await kafka.kill9();
      // the second half is published while the broker is down and coming back
      const publishing = publishRange(TOTAL / 2, TOTAL);
      await kafka.start();
      await waitFor(
        () => counts.size >= killedAt + 1_000,
        deadline,
        '1,000 more messages after the broker restart',
      );

      const memberKilledAt = counts.size;
      doomed.child.kill('SIGKILL');
      await killed(doomed.child);
      const replacement = spawnMember(kafka.url, topic, handled, () => childErrors++);
      children.push(replacement.child);
      await replacement.ready;

      await publishing;
      await waitFor(() => counts.size >= TOTAL, deadline, `all ${TOTAL} messages handled`);
      const expected = Array.from({ length: TOTAL }, (_, i) => `m-${i}`);
      expect(
        expected.filter((id) => !counts.has(id)),
        'messages never handled',
      ).toEqual([]);
      const duplicates = [...counts.values()].reduce((sum, n) => sum + n - 1, 0);
      console.log(
        `[kafka durability] ${TOTAL} messages, all handled; ${duplicates} duplicate deliveries ` +
          `(broker killed at ${killedAt} handled, member killed at ${memberKilledAt}; ${republished} republished after PUBLISH_FAILED; ` +
          `${errors.length + childErrors} async errors reported, e.g. failed acks while the broker was down)`,
      );
    } finally {
      for (const child of children) child.kill('SIGKILL');
      await Promise.allSettled(carriers.map((c) => c.close()));
      await kafka.dispose();
    }
  });
});
