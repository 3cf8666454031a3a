import { randomBytes } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { type Carrier, connect, NonRetryableError } from '@carrier/core';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import '../src/context.js';
import { buildCli, CliProcess, runCli } from './cli-support.js';

// Every `carrier` command, run as a child process against each of the harness's real brokers.

const fresh = (prefix: string) => `${prefix}-${Date.now().toString(36)}-${randomBytes(3).toString('hex')}`;

async function waitFor(condition: () => boolean, timeoutMs: number, what: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** Secrets that must never appear in anything carrier prints, for a URL. */
function secretOf(url: string): string | undefined {
  const u = new URL(url);
  return u.password ? `${u.username}:${u.password}@` : undefined;
}

beforeAll(() => buildCli(), 120_000);

describe.each(['rabbitmq', 'kafka', 'nats', 'sqs'] as const)('carrier CLI against %s', (name) => {
  const url = () => inject('brokers')[name];
  const noSecrets = (text: string) => {
    const secret = secretOf(url());
    if (secret) expect(text).not.toContain(secret);
  };

  it('doctor: connects, prints transport and capabilities, round-trips a message and a dead letter', async () => {
    // a fresh scratch topic: brokers reused across adapter versions may hold an older carrier.doctor
    const topic = fresh('doctor');
    const r = await runCli(['doctor', url(), '--timeout', '60s', '--topic', topic], { timeoutMs: 120_000 });
    expect(r.stdout).toContain(`transport: ${name}`);
    expect(r.stdout).toContain('maxMessageBytes:');
    expect(r.stdout).toContain('ok   round trip');
    expect(r.stdout).toContain('ok   dead letters');
    expect(r.stdout).toContain('doctor: all checks passed');
    expect(r.code).toBe(0);
    noSecrets(r.stdout + r.stderr);
    const json = await runCli(['doctor', url(), '--json', '--timeout', '60s', '--topic', topic], {
      timeoutMs: 120_000,
    });
    expect(json.code).toBe(0);
    expect(JSON.parse(json.stdout)).toMatchObject({ ok: true, transport: name });
    noSecrets(json.stdout + json.stderr);
  });

  it('doctor --topic --group: reads the lag of a group without publishing; tail prints its lag', async () => {
    const topic = fresh('lag');
    const c = await connect(url());
    try {
      await c.declare(topic, ['g']);
      await c.publishBatch(topic, [{ body: 1 }, { body: 2 }, { body: 3 }, { body: 4 }]);
      // SQS's counts are approximate: wait until the broker reports all four
      const deadline = Date.now() + 60_000;
      while ((await c.lag(topic, 'g')).messages !== 4) {
        if (Date.now() > deadline) throw new Error('the broker never reported a lag of 4');
        await new Promise((r) => setTimeout(r, 200));
      }
      const r = await runCli(['doctor', url(), '--topic', topic, '--group', 'g', '--json'], {
        timeoutMs: 120_000,
      });
      expect(r.code, r.stderr).toBe(0);
      const report = JSON.parse(r.stdout);
      expect(report).toMatchObject({ ok: true, lag: { topic, group: 'g', messages: 4 } });
      expect(report.checks.map((check: { name: string }) => check.name)).toEqual(['connect', 'lag']);
      noSecrets(r.stdout + r.stderr);
      expect((await c.lag(topic, 'g')).messages, 'doctor --group published nothing').toBe(4);
      const t = await runCli(['tail', url(), topic, '--group', 'g', '--count', '4', '--timeout', '60s'], {
        timeoutMs: 120_000,
      });
      expect(t.code, t.stderr).toBe(0);
      expect(t.stderr).toMatch(/tail: lag of group g: \d+ message\(s\) not consumed \(/);
    } finally {
      await c.close();
    }
  });

  it('publish (stdin, --file, --lines) and tail --json across processes: bytes, key, headers, id unchanged', async () => {
    const topic = fresh('cli');
    const group = fresh('tail');
    const tail = new CliProcess([
      'tail',
      url(),
      topic,
      '--group',
      group,
      '--json',
      '--count',
      '4',
      '--timeout',
      '90s',
    ]);
    await tail.waitFor('tail to subscribe', (p) => p.stderr.includes('Ctrl-C'), 60_000);
    const one = await runCli(
      [
        'publish',
        url(),
        topic,
        '--json',
        '-k',
        'customer-7',
        '-H',
        'tenant=acme',
        '-H',
        'trace.id=t-1',
        '--id',
        'order-1',
      ],
      { input: '{"id": 42, "items": [1,2]}' },
    );
    expect(one).toMatchObject({ code: 0, stdout: 'order-1\n' });
    const dir = mkdtempSync(path.join(os.tmpdir(), 'carrier-cli-'));
    const file = path.join(dir, 'blob.bin');
    const blob = new Uint8Array(randomBytes(300));
    writeFileSync(file, blob);
    const two = await runCli([
      'publish',
      url(),
      topic,
      '-f',
      file,
      '--content-type',
      'image/x-test',
      '--id',
      'blob-1',
    ]);
    expect(two.code).toBe(0);
    const lines = await runCli(['publish', url(), topic, '--lines', '--text', '-k', 'lines'], {
      input: 'first\nsecond\n',
    });
    expect(lines.code).toBe(0);
    expect(lines.stdout.trim().split('\n')).toHaveLength(2);
    const done = await tail.exited;
    expect(done.code).toBe(0);
    const records = done.stdout
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(records).toHaveLength(4);
    const byId = new Map(records.map((r) => [r.id, r]));
    expect(byId.get('order-1')).toMatchObject({
      topic,
      key: 'customer-7',
      headers: { tenant: 'acme', 'trace.id': 't-1' },
      contentType: 'application/json',
      body: '{"id": 42, "items": [1,2]}',
      attempt: 1,
    });
    expect(byId.get('blob-1')).toMatchObject({ contentType: 'image/x-test', key: null });
    expect(Buffer.from(String(byId.get('blob-1')?.bodyBase64), 'base64')).toEqual(Buffer.from(blob));
    expect(records.filter((r) => r.key === 'lines').map((r) => r.body)).toEqual(['first', 'second']);
    noSecrets(done.stdout + done.stderr + one.stderr + two.stderr);

    // pretty output, and the group resumes: nothing left after the four were acknowledged
    const more = await runCli(['publish', url(), topic, '--text', '-H', 'h=v'], { input: 'pretty one' });
    expect(more.code).toBe(0);
    const pretty = await runCli(
      ['tail', url(), topic, '--group', group, '--count', '1', '--timeout', '60s'],
      {
        timeoutMs: 90_000,
      },
    );
    expect(pretty.code).toBe(0);
    expect(pretty.stdout).toContain(`── ${topic}  id=`);
    expect(pretty.stdout).toContain('   content-type: text/plain; charset=utf-8');
    expect(pretty.stdout).toContain('   h: v');
    expect(pretty.stdout).toContain('   pretty one');
  });

  it('exit codes: 3 for an unreachable broker (credentials redacted), 2 for usage errors', async () => {
    const u = new URL(url());
    u.port = '1';
    u.password = u.password ? 'pw-never-printed' : '';
    const unreachable = await runCli(['doctor', u.toString(), '--timeout', '5s'], { timeoutMs: 90_000 });
    expect(unreachable.code).toBe(3);
    expect(unreachable.stdout + unreachable.stderr).not.toContain('pw-never-printed');
    const usage = await runCli(['publish', url(), 'bad topic name'], { input: 'x' });
    expect(usage.code).toBe(2);
    noSecrets(usage.stdout + usage.stderr);
  });
});

// `dlq list`/`show` give every letter back when done; a given-back letter is readable again at
// once on every broker (on SQS since the adapter's dead-letter readers stopped long-polling).
describe.each(['rabbitmq', 'kafka', 'nats', 'sqs'] as const)('carrier dlq against %s', (name) => {
  const url = () => inject('brokers')[name];
  const open: Carrier[] = [];
  afterAll(async () => {
    for (const c of open) await c.close().catch(() => undefined);
  });
  const carrier = async () => {
    const c = await connect(url());
    open.push(c);
    return c;
  };
  const noSecrets = (text: string) => {
    const secret = secretOf(url());
    if (secret) expect(text).not.toContain(secret);
  };

  it('dlq list/show read without removing, redrive moves back to the group, purge deletes', async () => {
    const topic = fresh('dlq');
    const group = 'billing';
    const c = await carrier();
    let failing = true;
    const handled: string[] = [];
    const sub = await c.subscribe(topic, { group }, (m) => {
      if (failing) throw new NonRetryableError(`cannot bill ${m.id}`);
      handled.push(m.id);
    });
    await c.publishBatch(topic, [
      { body: { n: 1 }, id: 'a' },
      { body: { n: 2 }, id: 'b', headers: { tenant: 'acme' } },
      { body: { n: 3 }, id: 'c' },
    ]);
    const list = async () => {
      const r = await runCli(['dlq', 'list', url(), topic, group, '--idle', '3s'], { timeoutMs: 90_000 });
      expect(r.code).toBe(0);
      noSecrets(r.stdout + r.stderr);
      return r.stdout.trim().split('\n').filter(Boolean);
    };
    let rows: string[] = [];
    for (const deadline = Date.now() + 60_000; rows.length < 3 && Date.now() < deadline; )
      rows = await list();
    expect(rows.map((r) => r.split('\t')[0]).sort()).toEqual(['a', 'b', 'c']);
    expect(rows.find((r) => r.startsWith('b\t'))).toMatch(/^b\t1\t\S+\tcannot bill b$/);
    expect((await list()).length).toBe(3); // list did not remove anything

    const shown = await runCli(['dlq', 'show', url(), topic, group, 'b', '--json', '--idle', '3s'], {
      timeoutMs: 90_000,
    });
    expect(shown.code).toBe(0);
    expect(JSON.parse(shown.stdout)).toMatchObject({
      id: 'b',
      reason: 'cannot bill b',
      attempts: 1,
      headers: { tenant: 'acme' },
      body: '{"n":2}',
    });
    const notFound = await runCli(['dlq', 'show', url(), topic, group, 'nope', '--idle', '3s'], {
      timeoutMs: 90_000,
    });
    expect(notFound.code).toBe(7);

    failing = false;
    const redrive = await runCli(['dlq', 'redrive', url(), topic, group, '--max', '1'], {
      timeoutMs: 90_000,
    });
    expect(redrive).toMatchObject({ code: 0, stdout: '1\n' });
    await waitFor(() => handled.length === 1, 60_000, 'the redriven letter to reach the group');

    const purge = await runCli(['dlq', 'purge', url(), topic, group, '--yes', '--idle', '3s'], {
      timeoutMs: 90_000,
    });
    expect(purge).toMatchObject({ code: 0, stdout: '2\n' });
    expect(await list()).toEqual([]);
    await sub.close();
  });
});
