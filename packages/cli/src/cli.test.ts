import { randomBytes } from 'node:crypto';
import { EventEmitter } from 'node:events';
import { mkdtempSync, readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import { connect, NonRetryableError } from '@carrier/core';
import { describe, expect, it } from 'vitest';
import { main } from './main.js';

const fresh = (prefix: string) => `${prefix}-${randomBytes(4).toString('hex')}`;

async function waitFor(condition: () => boolean, timeoutMs: number, what: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

interface Run {
  readonly code: Promise<number>;
  readonly stdout: () => string;
  readonly stderr: () => string;
  readonly signals: EventEmitter;
}

/** Run `carrier` in this process (so memory:// brokers are shared with the test). */
function start(args: string[], stdin: string | Uint8Array = ''): Run {
  let out = '';
  let err = '';
  const signals = new EventEmitter();
  const input = Object.assign(
    Readable.from([typeof stdin === 'string' ? Buffer.from(stdin) : Buffer.from(stdin)]),
    {
      isTTY: false,
    },
  );
  const code = main(args, {
    stdout: { write: (t: string) => (out += t) },
    stderr: { write: (t: string) => (err += t) },
    stdin: input,
    signals,
  });
  return { code, stdout: () => out, stderr: () => err, signals };
}

async function run(args: string[], stdin?: string | Uint8Array) {
  const r = start(args, stdin);
  const code = await r.code;
  return { code, stdout: r.stdout(), stderr: r.stderr() };
}

describe('carrier --help', () => {
  const commands = [
    [],
    ['publish'],
    ['tail'],
    ['dlq'],
    ['dlq', 'list'],
    ['dlq', 'show'],
    ['dlq', 'redrive'],
    ['dlq', 'purge'],
    ['bridge'],
    ['doctor'],
  ];
  it.each(commands)('%s %s --help prints usage and exits 0', async (...command) => {
    const r = await run([...command, '--help']);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain(`Usage: carrier${command.length ? ` ${command.join(' ')}` : ''}`);
    expect(r.stdout).toMatch(/Exit codes:/);
  });
  it('--version prints the version', async () => {
    const r = await run(['--version']);
    expect(r).toMatchObject({ code: 0, stdout: '0.1.0\n' });
  });
});

describe('usage errors exit 2', () => {
  it.each([
    [['nope']],
    [['publish', 'memory://']],
    [['publish', 'memory://', 't', '--bogus']],
    [['publish', 'memory://', 'bad topic']],
    [['publish', 'memory://', 't', '--header', 'novalue']],
    [['publish', 'memory://', 't', '--header', 'carrier-id=1']],
    [['publish', 'memory://', 't', '--header', 'traceparent=1']],
    [['publish', 'memory://', 't', '--json']],
    [['tail', 'memory://', 't', '--count', '0']],
    [['bridge', 'memory://', 'memory://', '--group', 'g']],
    [['bridge', 'memory://', 'memory://', '--topic', 't']],
    [['dlq', 'purge', 'memory://', 't', 'g']],
  ])('%j', async (args) => {
    const r = await run(args, 'not json');
    expect(r.code).toBe(2);
    expect(r.stderr.length).toBeGreaterThan(0);
  });
});

describe('credentials never printed', () => {
  it('redacts the password of an unreachable broker URL in every line (exit 3)', async () => {
    const r = await run(['doctor', 'amqp://user:hunter2pass@127.0.0.1:1/vhost']);
    expect(r.code).toBe(3);
    expect(r.stdout + r.stderr).not.toContain('hunter2pass');
    expect(r.stdout).toContain('amqp://user:***@127.0.0.1:1/vhost');
  });
  it('redacts secrets in query parameters and in commander errors', async () => {
    const r = await run(['publish', 'memory://x?token=sekrit-value', 't', '--nope']);
    expect(r.code).toBe(2);
    expect(r.stdout + r.stderr).not.toContain('sekrit-value');
    const unknown = await run(['kafka://u:pw-secret@h:1']);
    expect(unknown.code).toBe(2);
    expect(unknown.stdout + unknown.stderr).not.toContain('pw-secret');
  });
});

describe('publish and tail on memory://', () => {
  it('publishes stdin bytes with key, headers, id and content type; tail --json prints them and acknowledges', async () => {
    const broker = `memory://${fresh('b')}`;
    const topic = fresh('t');
    const carrier = await connect(broker);
    await carrier.declare(topic, ['g']);
    const p = await run(
      [
        'publish',
        broker,
        topic,
        '--json',
        '-k',
        'customer-7',
        '-H',
        'tenant=acme',
        '-H',
        'eq=a=b',
        '--id',
        'order-1',
      ],
      '{"id": 42}',
    );
    expect(p).toMatchObject({ code: 0, stdout: 'order-1\n' });
    const t = await run(['tail', broker, topic, '--group', 'g', '--json', '--count', '1', '--timeout', '5s']);
    expect(t.code).toBe(0);
    const record = JSON.parse(t.stdout.trim());
    expect(record).toMatchObject({
      id: 'order-1',
      topic,
      key: 'customer-7',
      headers: { tenant: 'acme', eq: 'a=b' },
      contentType: 'application/json',
      attempt: 1,
      body: '{"id": 42}',
    });
    // acknowledged: nothing left for the group
    const again = await run(['tail', broker, topic, '--group', 'g', '--count', '1', '--timeout', '200ms']);
    expect(again.code).toBe(6);
    expect(again.stderr).toContain('tail: lag of group g: 0 message(s) not consumed (memory queue');
    await carrier.close();
  });

  it('tail prints the lag of its group at the start, and again with --lag-every', async () => {
    const broker = `memory://${fresh('b')}`;
    const topic = fresh('t');
    const carrier = await connect(broker);
    await carrier.declare(topic, ['g']);
    const t = await run(['tail', broker, topic, '--group', 'g', '--lag-every', '50ms', '--timeout', '400ms']);
    expect(t.code).toBe(0);
    const lines = t.stderr.split('\n').filter((l) => l.startsWith('tail: lag of group g: 0 message(s)'));
    expect(lines.length, t.stderr).toBeGreaterThanOrEqual(2);
    await carrier.close();
  });

  it('publishes binary bytes unchanged and tail shows them as base64 / a hex preview', async () => {
    const broker = `memory://${fresh('b')}`;
    const topic = fresh('t');
    const carrier = await connect(broker);
    await carrier.declare(topic, ['g']);
    const bytes = new Uint8Array([0, 1, 2, 255, 10]);
    expect((await run(['publish', broker, topic], bytes)).code).toBe(0);
    expect((await run(['publish', broker, topic, '--text'], 'line one\nline two')).code).toBe(0);
    const t = await run(['tail', broker, topic, '--group', 'g', '--json', '--count', '2', '--timeout', '5s']);
    const [first, second] = t.stdout
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l));
    expect(Buffer.from(first.bodyBase64, 'base64')).toEqual(Buffer.from(bytes));
    expect(first.contentType).toBe('application/octet-stream');
    expect(second.body).toBe('line one\nline two');
    await carrier.close();
  });

  it('--lines publishes one message per line and prints every id', async () => {
    const broker = `memory://${fresh('b')}`;
    const topic = fresh('t');
    const carrier = await connect(broker);
    await carrier.declare(topic, ['g']);
    const p = await run(
      ['publish', broker, topic, '--lines', '--json', '--batch', '2'],
      '{"n":1}\n{"n":2}\n{"n":3}\n',
    );
    expect(p.code).toBe(0);
    expect(p.stdout.trim().split('\n')).toHaveLength(3);
    const t = await run(['tail', broker, topic, '--group', 'g', '--count', '3', '--timeout', '5s']);
    expect(t.code).toBe(0);
    expect(t.stdout).toContain('{"n":3}');
    expect(t.stdout).toContain('content-type: application/json');
    await carrier.close();
  });

  it('tail stops cleanly on SIGINT with exit 0', async () => {
    const broker = `memory://${fresh('b')}`;
    const topic = fresh('t');
    const r = start(['tail', broker, topic, '--group', 'g']);
    await waitFor(() => r.stderr().includes('Ctrl-C'), 5_000, 'tail to start');
    r.signals.emit('SIGINT');
    expect(await r.code).toBe(0);
  });
});

describe('dlq on memory://', () => {
  it('list and show read without removing; redrive moves back; purge deletes', async () => {
    const broker = `memory://${fresh('b')}`;
    const topic = fresh('t');
    const carrier = await connect(broker);
    let failing = true;
    const handled: string[] = [];
    const sub = await carrier.subscribe(topic, { group: 'billing' }, (m) => {
      if (failing) throw new NonRetryableError(`cannot bill ${m.id}`);
      handled.push(m.id);
    });
    await carrier.publishBatch(topic, [
      { body: { n: 1 }, id: 'a' },
      { body: { n: 2 }, id: 'b' },
      { body: { n: 3 }, id: 'c' },
    ]);
    const count = async () => {
      const r = await run(['dlq', 'list', broker, topic, 'billing', '--idle', '200ms']);
      expect(r.code).toBe(0);
      return r.stdout.trim().split('\n').filter(Boolean);
    };
    let rows: string[] = [];
    for (const deadline = Date.now() + 5_000; rows.length < 3 && Date.now() < deadline; )
      rows = await count();
    expect(rows.map((r) => r.split('\t')[0]).sort()).toEqual(['a', 'b', 'c']);
    expect(rows[0]).toMatch(/\t1\t.*\tcannot bill /);
    expect(await count()).toHaveLength(3); // still there

    const shown = await run(['dlq', 'show', broker, topic, 'billing', 'b', '--json', '--idle', '200ms']);
    expect(shown.code).toBe(0);
    expect(JSON.parse(shown.stdout)).toMatchObject({
      id: 'b',
      reason: 'cannot bill b',
      attempts: 1,
      body: '{"n":2}',
    });
    const pretty = await run(['dlq', 'show', broker, topic, 'billing', 'b', '--idle', '200ms']);
    expect(pretty.stdout).toContain('reason: cannot bill b');
    const missing = await run(['dlq', 'show', broker, topic, 'billing', 'zzz', '--idle', '200ms']);
    expect(missing.code).toBe(7);

    failing = false;
    const redriven = await run(['dlq', 'redrive', broker, topic, 'billing', '--max', '1']);
    expect(redriven).toMatchObject({ code: 0, stdout: '1\n' });
    await waitFor(() => handled.length === 1, 5_000, 'the redriven message handled');

    const purged = await run(['dlq', 'purge', broker, topic, 'billing', '--yes', '--idle', '200ms']);
    expect(purged).toMatchObject({ code: 0, stdout: '2\n' });
    expect(await count()).toHaveLength(0);
    await sub.close();
    await carrier.close();
  });
});

describe('bridge on memory://', () => {
  it('moves until SIGTERM (exit 0), then --verify reports OK; a message missing on the target fails with exit 5', async () => {
    const from = `memory://${fresh('src')}`;
    const to = `memory://${fresh('dst')}`;
    const topic = fresh('t');
    const source = await connect(from);
    const target = await connect(to);
    const copies: string[] = [];
    await target.subscribe(topic, { group: 'app' }, (m) => {
      copies.push(m.id);
    });
    const b = start(['bridge', from, to, '--topic', topic, '--group', 'bridge', '--progress', '20ms']);
    await waitFor(() => b.stderr().includes('bridge: ready'), 5_000, 'the bridge to start');
    await source.publishBatch(
      topic,
      Array.from({ length: 100 }, (_, i) => ({ body: { i }, id: `m${i}` })),
    );
    await waitFor(() => copies.length === 100, 5_000, 'copies');
    await waitFor(() => b.stderr().includes('moved 100'), 5_000, 'a progress line');
    b.signals.emit('SIGTERM');
    expect(await b.code).toBe(0);
    expect(b.stderr()).toContain('SIGTERM: stopping');
    expect(b.stderr()).toMatch(/bridge: stopped \| moved 100 /);

    const ok = await run([
      'bridge',
      from,
      to,
      '--topic',
      topic,
      '--group',
      'bridge',
      '--verify',
      '--idle',
      '200ms',
    ]);
    expect(ok.code).toBe(0);
    expect(ok.stdout).toContain('source: 100 ids');
    expect(ok.stdout).toContain('missing on target: 0');
    expect(ok.stdout).toContain('result: OK');

    await source.publish(topic, 'never bridged', { id: 'lost-1' });
    await target.publish(topic, 'x', { id: 'dup-1' });
    await source.publish(topic, 'x', { id: 'dup-1' });
    await target.publish(topic, 'x', { id: 'dup-1' });
    const bad = await run([
      'bridge',
      from,
      to,
      '--topic',
      topic,
      '--group',
      'bridge',
      '--verify',
      '--idle',
      '200ms',
    ]);
    expect(bad.code).toBe(5);
    expect(bad.stdout).toContain('missing on target: 1');
    expect(bad.stdout).toContain('      lost-1');
    expect(bad.stdout).toContain('      dup-1 ×2');
    expect(bad.stdout).toContain('result: FAILED: 1 missing');
    const json = await run([
      'bridge',
      from,
      to,
      '--topic',
      topic,
      '--group',
      'bridge',
      '--verify',
      '--idle',
      '200ms',
      '--json',
    ]);
    expect(JSON.parse(json.stdout)).toMatchObject({ ok: true, complete: true });
    await source.close();
    await target.close();
  });
});

describe('bridge signals on memory://', () => {
  it('a second SIGINT aborts at once with exit 130', async () => {
    const b = start([
      'bridge',
      `memory://${fresh('a')}`,
      `memory://${fresh('b')}`,
      '--topic',
      't',
      '--group',
      'g',
    ]);
    await waitFor(() => b.stderr().includes('bridge: ready'), 5_000, 'the bridge to start');
    b.signals.emit('SIGINT');
    b.signals.emit('SIGINT');
    expect(await b.code).toBe(130);
    expect(b.stderr()).toContain('second signal: aborting');
  });
});

describe('bridge --verify --state on memory://', () => {
  it('keeps missing ids between runs, so a copy that arrives late is matched by the next run', async () => {
    const from = `memory://${fresh('src')}`;
    const to = `memory://${fresh('dst')}`;
    const topic = fresh('t');
    const state = path.join(mkdtempSync(path.join(os.tmpdir(), 'carrier-state-')), 'verify.json');
    const source = await connect(from);
    const target = await connect(to);
    await source.declare(topic, ['g-verify']);
    await target.declare(topic, ['g-verify']);
    const args = [
      'bridge',
      from,
      to,
      '--topic',
      topic,
      '--group',
      'g',
      '--verify',
      '--idle',
      '200ms',
      '--state',
      state,
    ];
    await source.publish(topic, 'late', { id: 'late' });
    const first = await run(args);
    expect(first.code).toBe(5);
    expect(first.stdout).toContain('      late');
    await target.publish(topic, 'late', { id: 'late' });
    const second = await run(args);
    expect(second.code).toBe(0);
    expect(second.stdout).toContain('source: 1 ids');
    expect(JSON.parse(readFileSync(state, 'utf8'))).toEqual({
      version: 1,
      routes: { [`${topic}:${topic}`]: { source: {}, target: {} } },
    });
    await source.close();
    await target.close();
  });
});

describe('doctor on memory://', () => {
  it('passes every check and prints capabilities', async () => {
    const r = await run(['doctor', `memory://${fresh('d')}`]);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('transport: memory');
    expect(r.stdout).toContain('maxMessageBytes: 1048576');
    expect(r.stdout).toContain('ok   round trip');
    expect(r.stdout).toContain('ok   dead letters');
    const json = await run(['doctor', `memory://${fresh('d')}`, '--json']);
    expect(JSON.parse(json.stdout)).toMatchObject({
      ok: true,
      transport: 'memory',
      capabilities: { fanOut: true },
    });
  });

  it('with --group and --topic reads only the lag of that group', async () => {
    const broker = `memory://${fresh('d')}`;
    const topic = fresh('t');
    const carrier = await connect(broker);
    await carrier.declare(topic, ['g']);
    await carrier.publishBatch(topic, [{ body: 1 }, { body: 2 }, { body: 3 }]);
    const r = await run(['doctor', broker, '--topic', topic, '--group', 'g']);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('lag: true');
    expect(r.stdout).toMatch(
      /ok {3}lag \(\d+ ms\): group g of t-\w+: 3 message\(s\) not consumed \(memory queue/,
    );
    expect(r.stdout).not.toContain('round trip');
    const json = await run(['doctor', broker, '--topic', topic, '--group', 'g', '--json']);
    expect(JSON.parse(json.stdout)).toMatchObject({ ok: true, lag: { topic, group: 'g', messages: 3 } });
    const missing = await run(['doctor', broker, '--topic', topic, '--group', 'nobody']);
    expect(missing.code).toBe(2);
    expect(missing.stdout).toContain('FAIL lag');
    const usage = await run(['doctor', broker, '--group', 'g']);
    expect(usage.code).toBe(2);
    expect(usage.stderr).toContain('--group needs --topic');
    await carrier.close();
  });
});
