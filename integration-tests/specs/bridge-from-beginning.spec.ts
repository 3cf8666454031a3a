import { randomBytes } from 'node:crypto';
import { bridge } from '@carrier/bridge';
import { type Carrier, connect } from '@carrier/core';
import { afterEach, describe, expect, inject, it } from 'vitest';
import '../src/context.js';
import { buildCli, CliProcess, runCli } from './cli-support.js';

const fresh = (prefix: string) => `${prefix}-${Date.now().toString(36)}-${randomBytes(3).toString('hex')}`;

const open: Carrier[] = [];
afterEach(async () => {
  await Promise.allSettled(open.splice(0).map((c) => c.close()));
});

async function carrier(url: string): Promise<Carrier> {
  const c = await connect(url);
  open.push(c);
  return c;
}

/** Publishes `n` messages to `topic` (which has a group `other`, so they are kept for someone); resolves with their ids. */
async function history(url: string, topic: string, n: number, prefix: string): Promise<string[]> {
  const c = await carrier(url);
  await c.declare(topic, ['other']);
  const entries = Array.from({ length: n }, (_, i) => ({
    body: { i },
    id: `${prefix}-${i}`,
    key: `k${i % 3}`,
  }));
  return (await c.publishBatch(topic, entries)).map((r) => r.id);
}

async function until(condition: () => boolean, what: string, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

describe('carrier bridge --from-beginning', () => {
  it('Kafka → RabbitMQ: the first run copies what Kafka kept from before the bridge group existed', async () => {
    await buildCli();
    const { kafka, rabbitmq } = inject('brokers');
    const topic = fresh('fb');
    const out = fresh('fb-out');
    const before = await history(kafka, topic, 30, 'before');
    const target = await carrier(rabbitmq);
    const got = new Set<string>();
    await target.subscribe(out, { group: 'app' }, (m) => {
      got.add(m.id);
    });
    const args = ['bridge', kafka, rabbitmq, '--topic', `${topic}:${out}`, '--group', fresh('bridge')];
    const run = new CliProcess([...args, '--from-beginning', '--no-verify-group', '--progress', '0']);
    try {
      await run.waitFor(
        'the bridge to start',
        (p) => /bridge: ready: .*--from-beginning/.test(p.stderr),
        60_000,
      );
      await until(() => before.every((id) => got.has(id)), 'every message published before the bridge');
      const after = await history(kafka, topic, 5, 'after');
      await until(() => after.every((id) => got.has(id)), 'the messages published after');
    } finally {
      run.kill('SIGINT');
    }
    expect((await run.exited).code, run.stderr).toBe(0);
  }, 180_000);

  it('a source that keeps no history (RabbitMQ) is refused with a clear error, exit 4', async () => {
    await buildCli();
    const { rabbitmq } = inject('brokers');
    const result = await runCli([
      'bridge',
      rabbitmq,
      'memory://',
      '--topic',
      fresh('fb'),
      '--group',
      'bridge',
      '--from-beginning',
    ]);
    expect(result.stderr).toMatch(/--from-beginning: the source \(rabbitmq\) keeps no history/);
    expect(result.code, result.stderr).toBe(4);
  }, 60_000);

  it('NATS with retention=limits → memory: history copied in order per key', async () => {
    const url = `${inject('brokers').nats}${inject('brokers').nats.includes('?') ? '&' : '?'}retention=limits`;
    const topic = fresh('fb');
    const before = await history(url, topic, 30, 'before');
    const memory = `memory://${fresh('fb')}`;
    const target = await carrier(memory);
    const got: string[] = [];
    await target.declare(topic, ['app']);
    await target.subscribe(topic, { group: 'app' }, (m) => {
      got.push(m.id);
    });
    const running = await bridge({
      from: url,
      to: memory,
      topics: [topic],
      group: 'bridge',
      fromBeginning: true,
      progressIntervalMs: 0,
    });
    try {
      await until(() => before.every((id) => got.includes(id)), 'every message published before the bridge');
    } finally {
      await running.stop();
    }
    for (let k = 0; k < 3; k++) {
      const ofKey = got.filter((id) => Number(id.split('-')[1]) % 3 === k);
      expect(ofKey, `key k${k}`).toEqual(before.filter((id) => Number(id.split('-')[1]) % 3 === k));
    }
  }, 120_000);
});
