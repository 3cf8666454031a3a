import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { freshName, waitFor } from '@carrier/contract';
import { type Carrier, connect, type Message } from '@carrier/core';
import { afterEach, describe, expect, inject, it } from 'vitest';
import '../src/context.js';
import { cliTools } from '../src/paths.js';
import { kafkaBrokers } from '../src/urls.js';

// Interop with a plain Kafka client (kcat, librdkafka): a record kcat produces is consumed by
// Carrier intact, and a message Carrier publishes is read by kcat with the documented headers
// (docs/brokers/kafka.md). Both drivers: kafkajs (the default) and @platformatic/kafka (`?client=platformatic`).

const run = promisify(execFile);
const TIMEOUT_MS = 30_000;

function kcat(): string {
  const bin = cliTools.kcat();
  if (!bin) throw new Error('kcat is not installed: run `npm run brokers:install`');
  return bin;
}

interface KcatRecord {
  topic: string;
  partition: number;
  offset: number;
  ts: number;
  key: string | null;
  payload: string | null;
  headers?: string[];
}

const TRACEPARENT = '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01';

/** The harness's Kafka URL for `client` (the default driver: the URL as it is). */
function urlFor(client: 'kafkajs' | 'platformatic'): string {
  const url = inject('brokers').kafka;
  return client === 'kafkajs' ? url : `${url}${url.includes('?') ? '&' : '?'}client=${client}`;
}

describe.each(['kafkajs', 'platformatic'] as const)('kafka interop with kcat (client=%s)', (client) => {
  const open: Carrier[] = [];
  const dirs: string[] = [];
  afterEach(async () => {
    await Promise.allSettled(open.splice(0).map((c) => c.close()));
    for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
  });
  const bootstrap = () => kafkaBrokers(inject('brokers').kafka).join(',');

  it('a record produced by kcat with key and headers reaches Carrier with bytes, key and headers intact', async () => {
    const carrier = await connect(urlFor(client));
    open.push(carrier);
    const topic = freshName('kcat-in');
    const got: Message[] = [];
    await carrier.subscribe(topic, { group: 'g' }, (m) => {
      got.push(m);
    });
    // binary body with newlines and NULs: kcat sends a file given as argument as one message
    const body = Buffer.from([0x00, 0xff, 0x0a, 0x0d, 0x7b, 0x00, 0xc3, 0x28, 0x0a]);
    const dir = mkdtempSync(path.join(os.tmpdir(), 'carrier-kcat-'));
    dirs.push(dir);
    const file = path.join(dir, 'body.bin');
    writeFileSync(file, body);
    await run(
      kcat(),
      [
        '-P',
        '-b',
        bootstrap(),
        '-t',
        topic,
        '-k',
        'customer-7',
        '-H',
        'tenant=acme',
        '-H',
        'note=naïve ✓',
        '-H',
        `traceparent=${TRACEPARENT}`,
        file,
      ],
      { timeout: TIMEOUT_MS },
    );
    await waitFor(() => got.length >= 1, TIMEOUT_MS, 'the kcat record');
    const [m] = got;
    expect(Buffer.from(m!.raw).equals(body)).toBe(true);
    expect(m!.key).toBe('customer-7');
    expect(m!.headers).toEqual({ tenant: 'acme', note: 'naïve ✓' });
    expect(m!.metadata).toEqual({ traceparent: TRACEPARENT }); // as an instrumented native producer writes it
    expect(m!.contentType).toBe('application/octet-stream');
    expect(m!.body).toBeInstanceOf(Uint8Array);
    expect(m!.id).toMatch(new RegExp(`^${topic}-\\d+-\\d+$`));
    expect(m!.attempt).toBe(1);
    expect(m!.publishedAt.getTime()).toBeGreaterThan(Date.now() - 60_000);
  });

  it('a message published by Carrier is read by kcat with the documented headers', async () => {
    const carrier = await connect(urlFor(client));
    open.push(carrier);
    const topic = freshName('kcat-out');
    const body = { order: 42, note: 'grüße' };
    const before = Date.now();
    const { id } = await carrier.publish(topic, body, {
      key: 'customer-9',
      headers: { tenant: 'acme' },
      metadata: { traceparent: TRACEPARENT, correlationId: 'req-1' },
    });
    const { stdout } = await run(
      kcat(),
      ['-C', '-b', bootstrap(), '-t', topic, '-o', 'beginning', '-c', '1', '-J', '-q'],
      {
        timeout: TIMEOUT_MS,
      },
    );
    const record = JSON.parse(stdout.trim()) as KcatRecord;
    expect(record.key).toBe('customer-9');
    expect(record.payload).toBe(JSON.stringify(body));
    const pairs = record.headers ?? [];
    const headers: Record<string, string> = {};
    for (let i = 0; i + 1 < pairs.length; i += 2) headers[pairs[i]!] = pairs[i + 1]!;
    expect(headers).toEqual({
      tenant: 'acme',
      'carrier-id': id,
      'carrier-content-type': 'application/json',
      'carrier-published-at': expect.stringMatching(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/),
      traceparent: TRACEPARENT,
      'carrier-meta-correlation-id': 'req-1',
    });
    const publishedAt = Date.parse(headers['carrier-published-at']!);
    expect(publishedAt).toBeGreaterThanOrEqual(before - 1_000);
    expect(record.ts).toBe(publishedAt); // the record timestamp is publishedAt too
  });
});
