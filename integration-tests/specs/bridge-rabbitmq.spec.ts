import { randomBytes } from 'node:crypto';
import { connect } from '@carrier/core';
import amqp from 'amqplib';
import { describe, expect, inject, it } from 'vitest';
import '../src/context.js';
import { bridgeRoundTripProof } from './bridge-support.js';
import { buildCli, CliProcess, runCli } from './cli-support.js';

const fresh = (prefix: string) => `${prefix}-${Date.now().toString(36)}-${randomBytes(3).toString('hex')}`;

describe('carrier bridge on RabbitMQ', () => {
  // The proof of bridge.spec.ts within one broker (three topics), smaller: kill, restart, resume, verify.
  it('moves 4,000 messages there and back with two SIGKILLs per bridge; --verify reports 0 missing', async () => {
    await buildCli();
    const { rabbitmq } = inject('brokers');
    const log = await bridgeRoundTripProof({ a: rabbitmq, b: rabbitmq, total: 4_000, killAt: [800, 800] });
    console.log(log.join('\n'));
  }, 600_000);

  it('dead-letters, with the reason, native messages whose headers Carrier cannot republish; moves the rest', async () => {
    await buildCli();
    const { rabbitmq } = inject('brokers');
    const topic = fresh('native');
    const out = fresh('native-out');
    const group = fresh('bridge');
    const target = await connect(rabbitmq);
    const got: string[] = [];
    await target.subscribe(out, { group: 'app' }, (m) => {
      got.push(m.id);
    });
    const bridge = new CliProcess([
      'bridge',
      rabbitmq,
      rabbitmq,
      '--topic',
      `${topic}:${out}`,
      '--group',
      group,
    ]);
    const connection = await amqp.connect(rabbitmq);
    try {
      await bridge.waitFor('the bridge to be ready', (p) => p.stderr.includes('bridge: ready'), 60_000);
      // a plain AMQP producer (no Carrier) writes to the topic's exchange, `carrier:<topic>`
      const channel = await connection.createConfirmChannel();
      const exchange = `carrier:${topic}`;
      const publish = (id: string, headers: Record<string, string>) =>
        channel.publish(exchange, '', Buffer.from(`body of ${id}`), {
          messageId: id,
          contentType: 'text/plain',
          headers,
          persistent: true,
        });
      publish('native-nul', { 'bad\0key': 'v' });
      publish('native-newline', { multi: 'line one\nline two' });
      publish('native-good', { ok: '1', 'trace.id': 'abc' });
      await channel.waitForConfirms();
      await bridge.waitFor('the good copy', () => got.includes('native-good'), 60_000);
      await bridge.waitFor(
        'two dead letters',
        (p) => (p.stderr.match(/dead-lettered native-/g) ?? []).length === 2,
        60_000,
      );
      const list = await runCli(['dlq', 'list', rabbitmq, topic, group, '--json', '--idle', '3s'], {
        timeoutMs: 60_000,
      });
      expect(list.code).toBe(0);
      const letters = list.stdout
        .trim()
        .split('\n')
        .map(
          (l) =>
            JSON.parse(l) as { id: string; reason: string; headers: Record<string, string>; body: string },
        );
      const byId = new Map(letters.map((l) => [l.id, l]));
      expect(byId.get('native-nul')?.reason).toMatch(
        /cannot republish to rabbitmq topic .*"bad\\u0000key" contains CR, LF or NUL/,
      );
      expect(byId.get('native-nul')?.headers).toEqual({ 'bad\0key': 'v' });
      expect(byId.get('native-nul')?.body).toBe('body of native-nul');
      expect(byId.get('native-newline')?.reason).toMatch(/contains CR, LF or NUL/);
      expect(got).toEqual(['native-good']);
      bridge.kill('SIGTERM');
      expect((await bridge.exited).code).toBe(0);
      expect(bridge.stderr).toMatch(/moved 1 \| .* dead-lettered 2 /);
    } finally {
      if (bridge.child.exitCode === null && bridge.child.signalCode === null) bridge.kill('SIGKILL');
      await connection.close();
      await target.close();
    }
  }, 180_000);
});
