import { randomBytes } from 'node:crypto';
import { connect, redactUrl } from '@carrier/core';
import { afterAll, describe, expect, inject, it } from 'vitest';
import '../src/context.js';
import { type PrivateBroker, privateBroker } from '../src/faults.js';
import { expectClean, History, report } from '../src/history/index.js';
import { buildCli, CliProcess, movedSoFar, runCli } from './cli-support.js';

const fresh = (prefix: string) => `${prefix}-${Date.now().toString(36)}-${randomBytes(3).toString('hex')}`;

// The other half of at-least-once: the TARGET crashes (kill -9 of RabbitMQ) while the bridge
// copies Kafka → RabbitMQ. Kafka messages are acknowledged only after RabbitMQ confirmed their
// copy, so whatever RabbitMQ had not made durable is copied again once it is back: verify
// finds nothing missing, and the history checker (src/history/: Kafka publishes, the handler
// calls of the application's group on RabbitMQ) finds nothing lost and nothing phantom.
describe('carrier bridge: the target broker is killed mid-run', () => {
  let rabbit: PrivateBroker | undefined;
  afterAll(async () => {
    await rabbit?.dispose();
  });

  it('Kafka → RabbitMQ (kill -9, restart): every message arrives; --verify reports 0 missing', async () => {
    await buildCli();
    const { kafka } = inject('brokers');
    rabbit = await privateBroker('rabbitmq');
    const total = 5_000;
    const topic = fresh('crash');
    const group = fresh('bridge');
    const args = ['bridge', kafka, rabbit.url, '--topic', topic, '--group', group, '--progress', '500ms'];
    const withApp = [...args, '--target-group', 'app'];
    const bridge = new CliProcess(withApp);
    const log: string[] = [];
    const history = new History({ groups: ['app'] });
    try {
      await bridge.waitFor('the bridge to be ready', (p) => p.stderr.includes('bridge: ready'), 120_000);
      const source = await connect(kafka);
      try {
        for (let start = 0; start < total; start += 500) {
          const entries = Array.from({ length: 500 }, (_, j) => ({
            body: { n: start + j },
            id: `c-${start + j}`,
            key: `k${j % 10}`,
          }));
          await history.track(entries, () => source.publishBatch(topic, entries));
        }
      } finally {
        await source.close();
      }
      await bridge.waitFor('1,000 moved', (p) => movedSoFar(p) >= 1_000, 120_000);
      await rabbit.kill9();
      log.push(`RabbitMQ killed after ${movedSoFar(bridge)} moved`);
      await rabbit.start();
      log.push(`RabbitMQ back; the bridge had moved ${movedSoFar(bridge)}`);
      // verify until every id is there; --state carries what one run read on one side only
      const state = `${process.env.TMPDIR ?? '/tmp'}/${fresh('verify')}.json`;
      let last = { code: -1 as number | null, stdout: '' };
      for (let run = 0; run < 20 && last.code !== 0; run++) {
        const v = await runCli([...args, '--verify', '--idle', '3s', '--state', state, '--show', '5'], {
          timeoutMs: 300_000,
        });
        last = v;
      }
      log.push(
        last.stdout
          .split('\n')
          .filter((l) => !l.startsWith('      '))
          .join('\n'),
      );
      expect(last.code, last.stdout).toBe(0);
      expect(last.stdout).toContain('missing on target: 0');
      expect(bridge.stderr).not.toContain('dead-lettered c-');
      // and the application's group on RabbitMQ, declared by the bridge, holds every id
      const target = await connect(rabbit.url);
      const ids = new Set<string>();
      try {
        await target.subscribe(topic, { group: 'app', concurrency: 64 }, (m) => {
          history.handled({
            group: 'app',
            member: 'target',
            id: m.id,
            ...(m.key ? { key: m.key } : {}),
            attempt: m.attempt,
          });
          ids.add(m.id);
        });
        const deadline = Date.now() + 120_000;
        while (ids.size < total && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
      } finally {
        await target.close();
      }
      log.push(`the app group on RabbitMQ received ${ids.size} distinct ids`);
      expect(ids.size).toBe(total);
      const r = report(history);
      log.push(...r.lines);
      expectClean(r, { order: false });
      bridge.kill('SIGTERM');
      const done = await bridge.exited;
      log.push(
        done.stderr
          .trim()
          .split('\n')
          .filter((l) => l.includes('| moved'))
          .at(-1) ?? '',
      );
      expect(done.code, done.stderr.slice(-3000)).toBe(0);
      expect(done.stderr).not.toContain(new URL(rabbit.url).password || '\u0000never');
      console.log(log.join('\n').replaceAll(rabbit.url, redactUrl(rabbit.url)));
    } finally {
      if (bridge.child.exitCode === null && bridge.child.signalCode === null) bridge.kill('SIGKILL');
    }
  }, 900_000);
});
