import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { deadLetterQueueName, groupQueueName } from '@carrier/adapter-sqs';
import { freshName, waitFor } from '@carrier/contract';
import { type Carrier, connect, type Message, NonRetryableError } from '@carrier/core';
import { afterEach, describe, expect, inject, it } from 'vitest';
import '../src/context.js';
import { cliTools } from '../src/paths.js';
import { awsCredentials, sqsEndpoint } from '../src/urls.js';

// Interop with the aws cli (v1, from the harness venv), no Carrier code on the other side:
// messages sent with `aws sqs send-message` to a group queue are consumed intact, and Carrier's
// messages read with `aws sqs receive-message` carry the attributes docs/brokers/sqs.md documents.

const run = promisify(execFile);
const url = () => inject('brokers').sqs;
const TIMEOUT = 30_000;

interface CliMessage {
  MessageId: string;
  Body: string;
  Attributes?: Record<string, string>;
  MessageAttributes?: Record<string, { DataType: string; StringValue?: string }>;
}

async function aws(...args: string[]): Promise<unknown> {
  const bin = cliTools.aws();
  if (!bin) throw new Error('the aws cli is not installed: run `npm run brokers:install`');
  const { endpoint, region } = sqsEndpoint(url());
  const { accessKeyId, secretAccessKey } = awsCredentials();
  const { stdout } = await run(
    bin,
    [...args, '--endpoint-url', endpoint, '--region', region, '--output', 'json'],
    {
      env: { ...process.env, AWS_ACCESS_KEY_ID: accessKeyId, AWS_SECRET_ACCESS_KEY: secretAccessKey },
    },
  );
  return stdout.trim() ? JSON.parse(stdout) : {};
}

async function queueUrl(name: string): Promise<string> {
  return ((await aws('sqs', 'get-queue-url', '--queue-name', name)) as { QueueUrl: string }).QueueUrl;
}

/** Receive with the cli until `count` messages arrived (deleting them), or fail at the deadline. */
async function receiveAll(queue: string, count: number): Promise<CliMessage[]> {
  const got: CliMessage[] = [];
  const deadline = Date.now() + TIMEOUT;
  while (got.length < count) {
    if (Date.now() > deadline)
      throw new Error(`aws sqs receive-message: ${got.length} of ${count} after ${TIMEOUT} ms`);
    const out = (await aws(
      'sqs',
      'receive-message',
      '--queue-url',
      queue,
      '--max-number-of-messages',
      '10',
      '--wait-time-seconds',
      '2',
      '--attribute-names',
      'All',
      '--message-attribute-names',
      'All',
    )) as { Messages?: (CliMessage & { ReceiptHandle: string })[] };
    for (const m of out.Messages ?? []) {
      got.push(m);
      await aws('sqs', 'delete-message', '--queue-url', queue, '--receipt-handle', m.ReceiptHandle);
    }
  }
  return got;
}

const TRACEPARENT = '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01';

describe('sqs interop with the aws cli', { timeout: 120_000 }, () => {
  const open: Carrier[] = [];
  afterEach(async () => {
    await Promise.allSettled(open.splice(0).map((c) => c.close()));
  });
  async function carrier(): Promise<Carrier> {
    const c = await connect(url());
    open.push(c);
    return c;
  }

  it('consumes messages sent by `aws sqs send-message` (with attributes) to a group queue intact', async () => {
    const c = await carrier();
    const topic = freshName('interop-in');
    const got: Message[] = [];
    await c.subscribe(topic, { group: 'billing' }, (m) => {
      got.push(m);
    });
    const queue = await queueUrl(groupQueueName(topic, 'billing', { fifo: false }));
    const json = '{"order":42,"lines":[1,2],"note":"grüße ✓"}';
    const sentJson = (await aws(
      'sqs',
      'send-message',
      '--queue-url',
      queue,
      '--message-body',
      json,
      '--message-attributes',
      JSON.stringify({
        'carrier-content-type': { DataType: 'String', StringValue: 'application/json' },
        tenant: { DataType: 'String', StringValue: 'acme' },
        priority: { DataType: 'Number', StringValue: '7' },
      }),
    )) as { MessageId: string };
    const sentText = (await aws(
      'sqs',
      'send-message',
      '--queue-url',
      queue,
      '--message-body',
      'plain text from the cli',
      '--message-attributes',
      JSON.stringify({ source: { DataType: 'String', StringValue: 'aws-cli' } }),
    )) as { MessageId: string };
    await waitFor(() => got.length >= 2, TIMEOUT, 'both cli messages');
    const byId = new Map(got.map((m) => [m.id, m]));
    const j = byId.get(sentJson.MessageId)!;
    expect(j, 'a native message takes its SQS MessageId as id').toBeDefined();
    expect(j.body).toEqual(JSON.parse(json));
    expect(new TextDecoder().decode(j.raw)).toBe(json);
    expect(j.contentType).toBe('application/json');
    expect(j.headers).toEqual({ tenant: 'acme', priority: '7' });
    expect(j.key).toBeUndefined();
    expect(j.attempt).toBe(1);
    expect(j.publishedAt).toBeInstanceOf(Date);
    const t = byId.get(sentText.MessageId)!;
    expect(t.contentType).toBe('text/plain; charset=utf-8');
    expect(t.body).toBe('plain text from the cli');
    expect(t.headers).toEqual({ source: 'aws-cli' });
  });

  it('Carrier messages read by `aws sqs receive-message` carry the documented attributes', async () => {
    const c = await carrier();
    const topic = freshName('interop-out');
    await c.declare(topic, ['reader']);
    const before = Date.now();
    const body = { order: 7, note: 'naïve' };
    await c.publish(topic, body, {
      id: 'order-7',
      key: 'customer-7',
      headers: { tenant: 'acme', region: 'eu' },
      metadata: { traceparent: TRACEPARENT, correlationId: 'req-1' },
    });
    const bytes = new Uint8Array([0, 1, 2, 0xff, 0xfe]);
    await c.publish(topic, bytes, { id: 'blob-1' });
    const many = Object.fromEntries(Array.from({ length: 9 }, (_, i) => [`h${i}`, `v${i}`]));
    await c.publish(topic, 'many headers', { id: 'many-1', headers: many });

    const messages = await receiveAll(await queueUrl(groupQueueName(topic, 'reader', { fifo: false })), 3);
    const byId = new Map(messages.map((m) => [m.MessageAttributes?.['carrier-id']?.StringValue, m]));

    const order = byId.get('order-7')!;
    expect(order.Body).toBe(JSON.stringify(body));
    const attrs = order.MessageAttributes!;
    expect(attrs['carrier-key']).toEqual({ DataType: 'String', StringValue: 'customer-7' });
    expect(attrs['carrier-content-type']).toEqual({ DataType: 'String', StringValue: 'application/json' });
    expect(Date.parse(attrs['carrier-published-at']!.StringValue!)).toBeGreaterThanOrEqual(before - 1_000);
    expect(attrs.tenant).toEqual({ DataType: 'String', StringValue: 'acme' });
    expect(attrs.region).toEqual({ DataType: 'String', StringValue: 'eu' });
    expect(attrs.traceparent).toEqual({ DataType: 'String', StringValue: TRACEPARENT });
    expect(JSON.parse(attrs['carrier-meta']!.StringValue!)).toEqual({
      metadata: { 'carrier-meta-correlation-id': 'req-1' },
    });
    expect(Object.keys(attrs).length).toBeLessThanOrEqual(10);
    expect(attrs['carrier-body-encoding']).toBeUndefined();
    expect(order.Attributes?.ApproximateReceiveCount).toBe('1');

    const blob = byId.get('blob-1')!;
    expect(blob.MessageAttributes!['carrier-body-encoding']!.StringValue).toBe('base64');
    expect(blob.MessageAttributes!['carrier-content-type']!.StringValue).toBe('application/octet-stream');
    expect(Buffer.from(blob.Body, 'base64').equals(Buffer.from(bytes))).toBe(true);

    // 9 headers + 3 metadata attributes exceed the 10-attribute limit: headers travel as JSON in carrier-meta
    const packed = byId.get('many-1')!;
    expect(Object.keys(packed.MessageAttributes!).length).toBeLessThanOrEqual(10);
    expect(JSON.parse(packed.MessageAttributes!['carrier-meta']!.StringValue!)).toEqual({ headers: many });
  });

  it('dead letters read by the aws cli carry reason, attempts and failedAt', async () => {
    const c = await carrier();
    const topic = freshName('interop-dlq');
    let calls = 0;
    await c.subscribe(topic, { group: 'g' }, () => {
      calls++;
      throw new NonRetryableError('bad order 9');
    });
    await c.publish(topic, { order: 9 }, { id: 'order-9', headers: { tenant: 'acme' } });
    await waitFor(() => calls >= 1, TIMEOUT, 'the handler');
    const [letter] = await receiveAll(await queueUrl(deadLetterQueueName(topic, 'g', { fifo: false })), 1);
    const attrs = letter!.MessageAttributes!;
    expect(letter!.Body).toBe('{"order":9}');
    expect(attrs['carrier-id']!.StringValue).toBe('order-9');
    expect(attrs.tenant!.StringValue).toBe('acme');
    expect(attrs['carrier-dead-letter-reason']!.StringValue).toBe('bad order 9');
    expect(attrs['carrier-dead-letter-attempts']).toEqual({ DataType: 'Number', StringValue: '1' });
    expect(Number.isNaN(Date.parse(attrs['carrier-dead-letter-failed-at']!.StringValue!))).toBe(false);
  });
});
