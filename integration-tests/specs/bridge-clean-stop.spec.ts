import { randomBytes } from 'node:crypto';
import { connect } from '@carrier/core';
import { describe, expect, inject, it } from 'vitest';
import '../src/context.js';
import { buildCli, CliProcess, movedSoFar, runCli } from './cli-support.js';

const fresh = (prefix: string) => `${prefix}-${Date.now().toString(36)}-${randomBytes(3).toString('hex')}`;

// A clean stop (SIGTERM) in the middle of a run finishes the copies in flight and settles them on
// the source, so the restarted bridge resumes where it stopped: verify finds 0 missing, and a
// duplicate can only be a message the stopping bridge had fetched but not started (given back,
// then copied by the restart while a later one of its Kafka partition was already copied: Kafka
// commits offsets contiguously) — at most the bridge's prefetch (--concurrency, 256), never a re-run.
describe.each([
  ['kafka', 'rabbitmq'],
  ['rabbitmq', 'kafka'],
] as const)('carrier bridge %s → %s: SIGTERM mid-run', (from, to) => {
  it('exits 0 after finishing in-flight work; the restart resumes without duplicates', async () => {
    await buildCli();
    const brokers = inject('brokers');
    const total = 5_000;
    const topic = fresh('stop');
    const args = [
      'bridge',
      brokers[from],
      brokers[to],
      '--topic',
      topic,
      '--group',
      fresh('bridge'),
      '--progress',
      '200ms',
    ];
    const first = new CliProcess(args);
    await first.waitFor('the bridge to be ready', (p) => p.stderr.includes('bridge: ready'), 120_000);
    const source = await connect(brokers[from]);
    try {
      for (let start = 0; start < total; start += 500) {
        await source.publishBatch(
          topic,
          Array.from({ length: 500 }, (_, j) => ({
            body: { n: start + j },
            id: `s-${start + j}`,
            key: `k${j % 20}`,
          })),
        );
      }
    } finally {
      await source.close();
    }
    await first.waitFor('500 moved', (p) => movedSoFar(p) >= 500, 120_000);
    first.kill('SIGTERM');
    const stopped = await first.exited;
    expect(stopped.code, stopped.stderr.slice(-3000)).toBe(0);
    const inFlight = Number(/SIGTERM: stopping, finishing (\d+) in flight/.exec(stopped.stderr)?.[1]);
    const final = /bridge: stopped \| moved (\d+) \|.*\| in flight (\d+) \|/.exec(stopped.stderr);
    expect(final?.[2]).toBe('0');
    const movedBeforeStop = Number(final?.[1]);
    expect(movedBeforeStop).toBeLessThan(total);

    const second = new CliProcess(args);
    await second.waitFor('the rest', (p) => movedSoFar(p) >= total - movedBeforeStop, 300_000);
    second.kill('SIGTERM');
    expect((await second.exited).code).toBe(0);
    const v = await runCli([...args, '--verify', '--idle', '5s'], { timeoutMs: 300_000 });
    console.log(
      `${from} → ${to}: stopped with ${inFlight} in flight after ${movedBeforeStop} moved\n${v.stdout}`,
    );
    expect(v.code, v.stdout + v.stderr).toBe(0);
    expect(v.stdout).toContain(`source: ${total} ids`);
    expect(v.stdout).toContain('missing on target: 0');
    const duplicated = Number(/duplicates on target: (\d+) ids/.exec(v.stdout)?.[1]);
    expect(duplicated).toBeLessThanOrEqual(256);
  }, 600_000);
});
