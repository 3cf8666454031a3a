import { spawnSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import tls from 'node:tls';
import { waitFor } from '@carrier/contract';
import { CarrierError, connect, type Message } from '@carrier/core';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import '../src/context.js';

// amqps:// end to end: the harness's RabbitMQ listens in plain TCP only, so this spec puts a TLS
// terminator (Node's tls server, a certificate from a throwaway CA made with openssl) in front of
// it. It proves the client side: TLS handshake, certificate verification with `caFile`, and AMQP
// over the encrypted connection. It does not exercise RabbitMQ's own TLS listener.

let dir: string;
let server: tls.Server;
let port: number;

function openssl(args: string[]): void {
  const result = spawnSync('openssl', args, { cwd: dir, encoding: 'utf8' });
  if (result.status !== 0) throw new Error(`openssl ${args[0]} failed: ${result.stderr}`);
}

beforeAll(async () => {
  dir = mkdtempSync(path.join(os.tmpdir(), 'carrier-rabbitmq-tls-'));
  const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];
  openssl([
    'req',
    '-x509',
    ...ec,
    '-keyout',
    'ca.key',
    '-out',
    'ca.pem',
    '-days',
    '1',
    '-subj',
    '/CN=carrier test CA',
  ]);
  openssl(['req', ...ec, '-keyout', 'server.key', '-out', 'server.csr', '-subj', '/CN=localhost']);
  writeFileSync(path.join(dir, 'san.cnf'), 'subjectAltName=DNS:localhost,IP:127.0.0.1\n');
  openssl([
    'x509',
    '-req',
    '-in',
    'server.csr',
    '-CA',
    'ca.pem',
    '-CAkey',
    'ca.key',
    '-CAcreateserial',
    '-out',
    'server.pem',
    '-days',
    '1',
    '-extfile',
    'san.cnf',
  ]);
  const upstream = new URL(inject('brokers').rabbitmq);
  server = tls.createServer(
    { key: readFileSync(path.join(dir, 'server.key')), cert: readFileSync(path.join(dir, 'server.pem')) },
    (clear) => {
      const broker = net.connect(Number(upstream.port), upstream.hostname);
      clear.on('error', () => broker.destroy());
      broker.on('error', () => clear.destroy());
      clear.pipe(broker).pipe(clear);
    },
  );
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  port = (server.address() as net.AddressInfo).port;
});

afterAll(async () => {
  await new Promise((resolve) => server?.close(resolve));
  if (dir) rmSync(dir, { recursive: true, force: true });
});

function amqpsUrl(query: string): string {
  const upstream = new URL(inject('brokers').rabbitmq);
  return `amqps://${upstream.username}:${upstream.password}@localhost:${port}${query}`;
}

describe('rabbitmq over amqps://', () => {
  it('publishes and consumes over TLS, trusting the CA given with caFile', async () => {
    const c = await connect(amqpsUrl(`?caFile=${encodeURIComponent(path.join(dir, 'ca.pem'))}`));
    try {
      const topic = `tls-${randomUUID().slice(0, 8)}`;
      const got: Message[] = [];
      await c.subscribe(topic, { group: 'g' }, (m) => {
        got.push(m);
      });
      const { id } = await c.publish(topic, { secret: 'over tls' }, { key: 'k' });
      await waitFor(() => got.length >= 1, 20_000, 'the message over TLS');
      expect(got[0]!.id).toBe(id);
      expect(got[0]!.body).toEqual({ secret: 'over tls' });
    } finally {
      await c.close();
    }
  });

  it('refuses a certificate it cannot verify with CONNECTION', async () => {
    const error = await connect(amqpsUrl('')).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(CarrierError);
    expect((error as CarrierError).code).toBe('CONNECTION');
    expect((error as CarrierError).message).toMatch(/certificate/i);
  });
});
