import { spawnSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { waitFor } from '@carrier/contract';
import { type Carrier, connect, type Message, NonRetryableError } from '@carrier/core';
import amqp from 'amqplib';
import { afterEach, describe, expect, inject, it } from 'vitest';
import '../src/context.js';

// Interop with plain AMQP clients, no Carrier involved on the other side: Debian's amqp-tools
// (amqp-publish / amqp-consume, librabbitmq) and raw amqplib. The names and properties used here are
// the ones docs/brokers/rabbitmq.md documents.

const url = () => inject('brokers').rabbitmq;
const fresh = (prefix: string) => `${prefix}-${randomUUID().slice(0, 8)}`;
const TIMEOUT = 20_000;
const TRACEPARENT = '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01';
const open: Carrier[] = [];
const natives: amqp.ChannelModel[] = [];

async function carrier(): Promise<Carrier> {
  const c = await connect(url());
  open.push(c);
  return c;
}

async function native(): Promise<amqp.Channel> {
  const conn = await amqp.connect(url());
  natives.push(conn);
  return conn.createChannel();
}

function tool(command: string, args: string[], input?: Buffer): Buffer {
  const result = spawnSync(command, ['--url', url(), ...args], { input, timeout: TIMEOUT });
  if (result.error) throw result.error;
  if (result.status !== 0) throw new Error(`${command} exited ${result.status}: ${result.stderr.toString()}`);
  return result.stdout;
}

afterEach(async () => {
  await Promise.allSettled(open.splice(0).map((c) => c.close()));
  await Promise.allSettled(natives.splice(0).map((c) => c.close()));
});

describe('rabbitmq interop with plain AMQP clients', () => {
  it('a message from amqp-publish to the topic exchange reaches Carrier intact', async () => {
    const c = await carrier();
    const topic = fresh('interop-in');
    const got: Message[] = [];
    await c.subscribe(topic, { group: 'g' }, (m) => {
      got.push(m);
    });
    // JSON with plain AMQP properties, and a binary body read from stdin
    tool('amqp-publish', [
      '-e',
      `carrier:${topic}`,
      '-r',
      'customer.7',
      '-p',
      '-C',
      'application/json',
      '-H',
      'tenant: acme',
      '-H',
      'carrier-key: customer-7',
      '-H',
      `traceparent: ${TRACEPARENT}`,
      '-b',
      '{"id":1,"unknown":{"deep":[1,2]}}',
    ]);
    const binary = Buffer.from([0x00, 0xff, 0xfe, 0x0a, 0x0d, 0x00, 0x80]);
    tool('amqp-publish', ['-e', `carrier:${topic}`, '-p', '-H', 'kind: bin'], binary);
    await waitFor(() => got.length >= 2, TIMEOUT, 'two native messages');
    const json = got.find((m) => m.contentType === 'application/json')!;
    expect(json.body).toEqual({ id: 1, unknown: { deep: [1, 2] } });
    expect(new TextDecoder().decode(json.raw)).toBe('{"id":1,"unknown":{"deep":[1,2]}}');
    expect(json.headers).toEqual({ tenant: 'acme' });
    expect(json.metadata).toEqual({ traceparent: TRACEPARENT }); // as an instrumented native producer writes it
    expect(json.key).toBe('customer-7');
    expect(json.attempt).toBe(1);
    expect(json.id).toMatch(/^native-[0-9a-f]{32}$/); // amqp-publish sets no message_id: Carrier derives one from the content
    const bin = got.find((m) => m.headers.kind === 'bin')!;
    expect(bin.contentType).toBe('application/octet-stream');
    expect(Buffer.from(bin.raw).equals(binary)).toBe(true);
    expect(bin.key).toBeUndefined();
  });

  it('a Carrier message is read by amqp-consume byte for byte, with the documented properties', async () => {
    const c = await carrier();
    const topic = fresh('interop-out');
    await c.declare(topic, []); // the exchange only
    const ch = await native();
    const byTool = fresh('native-tool');
    const byClient = fresh('native-client');
    for (const q of [byTool, byClient]) {
      await ch.assertQueue(q, { durable: false, autoDelete: false });
      await ch.bindQueue(q, `carrier:${topic}`, '#');
    }
    const body = Buffer.from([0x00, 0x01, 0xc3, 0x28, 0xff, 0x0a]);
    const before = Date.now();
    const { id } = await c.publish(topic, new Uint8Array(body), {
      key: 'order-9',
      headers: { tenant: 'acme', note: 'ü ✓' },
      metadata: { correlationId: 'req-1', replyTo: 'replies', traceparent: TRACEPARENT, schemaId: 's-1' },
    });

    const out = tool('amqp-consume', ['-q', byTool, '-c', '1', 'cat']);
    expect(out.equals(body)).toBe(true);

    const msg = await ch.get(byClient, { noAck: true });
    expect(msg).not.toBe(false);
    if (msg === false) return;
    expect(msg.content.equals(body)).toBe(true);
    expect(msg.fields.exchange).toBe(`carrier:${topic}`);
    expect(msg.fields.routingKey).toBe('order-9');
    expect(msg.properties.messageId).toBe(id);
    expect(msg.properties.contentType).toBe('application/octet-stream');
    expect(msg.properties.deliveryMode).toBe(2);
    expect(msg.properties.timestamp).toBeGreaterThanOrEqual(Math.floor(before / 1000));
    const headers = msg.properties.headers as Record<string, unknown>;
    expect(headers.tenant).toBe('acme');
    expect(headers.note).toBe('ü ✓');
    expect(headers['carrier-key']).toBe('order-9');
    expect(Number(headers['carrier-published-at'])).toBeGreaterThanOrEqual(before);
    expect(msg.properties.correlationId).toBe('req-1');
    expect(msg.properties.replyTo).toBe('replies');
    expect(headers.traceparent).toBe(TRACEPARENT);
    expect(headers['carrier-meta-schema-id']).toBe('s-1');
    for (const q of [byTool, byClient]) await ch.deleteQueue(q);
  });

  it("a group's dead letters are readable natively with the dead-letter headers", async () => {
    const c = await carrier();
    const topic = fresh('interop-dlq');
    await c.subscribe(topic, { group: 'g' }, () => {
      throw new NonRetryableError('bad order');
    });
    const { id } = await c.publish(topic, 'payload', { key: 'k', headers: { h: 'v' } });
    const ch = await native();
    async function fetchOne(): Promise<amqp.GetMessage> {
      const deadline = Date.now() + TIMEOUT;
      for (;;) {
        const m = await ch.get(`carrier:${topic}:g:dlq`, { noAck: true });
        if (m !== false) return m;
        if (Date.now() > deadline) throw new Error('no dead letter');
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
    }
    const letter = await fetchOne();
    expect(letter.content.toString()).toBe('payload');
    expect(letter.properties.messageId).toBe(id);
    const headers = letter.properties.headers as Record<string, unknown>;
    expect(headers['carrier-dead-letter-reason']).toBe('bad order');
    expect(headers['carrier-dead-letter-attempts']).toBe(1);
    expect(new Date(String(headers['carrier-dead-letter-failed-at'])).getTime()).not.toBeNaN();
    expect(headers['carrier-key']).toBe('k');
    expect(headers.h).toBe('v');
  });
});
