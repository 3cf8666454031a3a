import { execFile } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { consumerName, topicStream, topicSubject } from '@carrier/adapter-nats';
import { freshName, waitFor } from '@carrier/contract';
import { type Carrier, connect, type Message } from '@carrier/core';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import '../src/context.js';
import { cliTools, findExecutable, harnessRoot } from '../src/paths.js';

// Interop: Carrier's NATS messages are plain JetStream messages. Two clients that are not nats.js
// cross them both ways with headers intact: the NATS CLI (natscli, installed by
// `npm run brokers:install`) and a small Go program on github.com/nats-io/nats.go
// (interop/nats-go, built here with the machine's Go).

const run = promisify(execFile);
const url = () => inject('brokers').nats;
const TIMEOUT = 20_000;

/** Parse a NATS header block (`NATS/1.0\r\nName: value\r\n…\r\n\r\n`) into name → values. */
function parseHeaderBlock(block: string): Record<string, string[]> {
  const out: Record<string, string[]> = {};
  for (const line of block.split('\r\n').slice(1)) {
    const i = line.indexOf(':');
    if (i <= 0) continue;
    const name = line.slice(0, i);
    out[name] = [...(out[name] ?? []), line.slice(i + 1).trim()];
  }
  return out;
}

const BINARY = new Uint8Array([0x00, 0xff, 0xfe, 0x00, 0x80, 0xc3, 0x28, 0x0a, 0x0d, 0x00]);
const UNICODE = 'naïve café ✓ 日本語 🚀';

const TRACEPARENT = '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01';

describe('nats interop with clients that are not nats.js', () => {
  let carrier: Carrier;
  let goBin: string;
  let tmp: string;

  const natsCli = () => {
    const bin = cliTools.nats();
    if (!bin)
      throw new Error('the nats CLI is missing: run `npm run brokers:install` (it builds natscli with Go)');
    return bin;
  };

  beforeAll(async () => {
    carrier = await connect(url());
    const go = findExecutable('go', '/usr/local/go/bin/go');
    if (!go)
      throw new Error(
        'Go is missing: the interop client interop/nats-go needs it (apt install golang or go.dev/dl)',
      );
    tmp = mkdtempSync(path.join(os.tmpdir(), 'carrier-nats-go-'));
    goBin = path.join(tmp, 'nats-go');
    await run(go, ['build', '-o', goBin, '.'], {
      cwd: path.join(harnessRoot, 'interop', 'nats-go'),
      env: { ...process.env, GOFLAGS: '-mod=mod' },
      timeout: 180_000,
    });
  }, 200_000);

  afterAll(async () => {
    await carrier?.close();
    if (tmp) rmSync(tmp, { recursive: true, force: true });
  });

  it('nats CLI → Carrier: a native publish reaches the group with id, key, content type and headers', async () => {
    const topic = `interop.${freshName('cli-in')}`;
    const got: Message[] = [];
    await carrier.subscribe(topic, { group: 'g' }, (m) => {
      got.push(m);
    });
    const id = `cli-${randomUUID()}`;
    await run(natsCli(), [
      '--server',
      url(),
      'pub',
      topicSubject(topic),
      '{"from":"natscli","n":1}',
      '-H',
      `Nats-Msg-Id:${id}`,
      '-H',
      'Carrier-Key:customer-7',
      '-H',
      'Content-Type:application/json',
      '-H',
      `note:${UNICODE}`,
    ]);
    await waitFor(() => got.length >= 1, TIMEOUT, 'the CLI message');
    const [m] = got;
    expect(m!.id).toBe(id); // no Carrier-Id: Nats-Msg-Id is the id
    expect(m!.key).toBe('customer-7');
    expect(m!.contentType).toBe('application/json');
    expect(m!.body).toEqual({ from: 'natscli', n: 1 });
    expect(m!.headers).toEqual({ 'Content-Type': 'application/json', note: UNICODE });
    expect(m!.attempt).toBe(1);
  });

  it('Carrier → nats CLI: `nats stream get` shows the body and every header', async () => {
    const topic = `interop.${freshName('cli-out')}`;
    await carrier.declare(topic, ['kept']); // a group keeps the message in the (interest) stream
    const { id } = await carrier.publish(topic, BINARY, {
      key: 'order-9',
      headers: { tenant: 'acme', note: UNICODE, 'with space:☺': 'escaped name' },
      metadata: { traceparent: TRACEPARENT, correlationId: 'req-1' },
    });
    const { stdout } = await run(natsCli(), [
      '--server',
      url(),
      'stream',
      'get',
      topicStream(topic),
      '--last-for',
      topicSubject(topic),
      '--json',
    ]);
    const stored = JSON.parse(stdout) as { subject: string; hdrs: string; data: string };
    expect(stored.subject).toBe(topicSubject(topic));
    expect(Buffer.from(stored.data, 'base64').equals(Buffer.from(BINARY))).toBe(true);
    const h = parseHeaderBlock(Buffer.from(stored.hdrs, 'base64').toString('utf8'));
    expect(h['Carrier-Id']).toEqual([id]);
    expect(h['Nats-Msg-Id']).toEqual([id]);
    expect(h['Carrier-Key']).toEqual(['order-9']);
    expect(h['Carrier-Content-Type']).toEqual(['application/octet-stream']);
    expect(Number.isNaN(Date.parse(h['Carrier-Published-At']![0]!))).toBe(false);
    expect(h.tenant).toEqual(['acme']);
    expect(h.note).toEqual([UNICODE]);
    expect(h.traceparent).toEqual([TRACEPARENT]);
    expect(h['carrier-meta-correlation-id']).toEqual(['req-1']);
    expect(h['Carrier-Header-with%20space%3A%E2%98%BA']).toEqual(['escaped name']);
  });

  it('nats.go → Carrier: a Go publish in Carrier wire format arrives exactly', async () => {
    const topic = `interop.${freshName('go-in')}`;
    const got: Message[] = [];
    await carrier.subscribe(topic, { group: 'g' }, (m) => {
      got.push(m);
    });
    const id = `go-${randomUUID()}`;
    const publishedAt = '2026-01-02T03:04:05.678Z';
    const { stdout } = await run(goBin, [
      'pub',
      url(),
      topicSubject(topic),
      Buffer.from('grüße from Go').toString('base64'),
      `Carrier-Id=${id}`,
      'Carrier-Key=k-go',
      'Carrier-Content-Type=text/plain; charset=utf-8',
      `Carrier-Published-At=${publishedAt}`,
      `Nats-Msg-Id=${id}`,
      'tenant=acme',
      `note=${UNICODE}`,
    ]);
    expect(JSON.parse(stdout)).toMatchObject({ stream: topicStream(topic) });
    await waitFor(() => got.length >= 1, TIMEOUT, 'the Go message');
    const [m] = got;
    expect(m!.id).toBe(id);
    expect(m!.key).toBe('k-go');
    expect(m!.contentType).toBe('text/plain; charset=utf-8');
    expect(m!.body).toBe('grüße from Go');
    expect(m!.publishedAt.toISOString()).toBe(publishedAt);
    expect(m!.headers).toEqual({ tenant: 'acme', note: UNICODE });
  });

  it("Carrier → nats.go: the Go client reads a Carrier group's durable consumer with headers intact", async () => {
    const topic = `interop.${freshName('go-out')}`;
    await carrier.declare(topic, ['native']);
    const { id } = await carrier.publish(topic, BINARY, {
      key: 'customer-7',
      headers: { tenant: 'acme', note: UNICODE, empty: '' },
    });
    const { stdout } = await run(goBin, ['next', url(), topicStream(topic), consumerName('native')]);
    const got = JSON.parse(stdout) as {
      subject: string;
      headers: Record<string, string[]>;
      data: string;
      deliveryCount: number;
    };
    expect(got.subject).toBe(topicSubject(topic));
    expect(Buffer.from(got.data, 'base64').equals(Buffer.from(BINARY))).toBe(true);
    expect(got.deliveryCount).toBe(1);
    const h = Object.fromEntries(Object.entries(got.headers).map(([k, v]) => [k.toLowerCase(), v]));
    expect(h['carrier-id']).toEqual([id]);
    expect(h['carrier-key']).toEqual(['customer-7']);
    expect(h['carrier-content-type']).toEqual(['application/octet-stream']);
    expect(h.tenant).toEqual(['acme']);
    expect(h.note).toEqual([UNICODE]);
    expect(h.empty).toEqual(['']);
  });
});
