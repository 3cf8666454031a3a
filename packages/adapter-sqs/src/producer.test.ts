import type { SQSClient } from '@aws-sdk/client-sqs';
import { CarrierError, type WireMessage } from '@carrier/core';
import { describe, expect, it } from 'vitest';
import { Producer } from './producer.js';
import type { Topology } from './topology.js';
import { parseSqsUrl } from './url.js';

function message(i: number): WireMessage {
  return {
    id: `m${i}`,
    key: 'k',
    headers: {},
    contentType: 'text/plain',
    body: new TextEncoder().encode(`body ${i}`),
    publishedAt: new Date(0),
  };
}

interface Batch {
  readonly input: { Entries: { Id: string }[] };
}

/** A queue-only producer whose SendMessageBatch answers with `answer`. */
function producer(
  answer: (batch: Batch, call: number) => Promise<unknown>,
  options: { fifo?: boolean; queueUrl?: () => Promise<string> } = {},
) {
  const settings = parseSqsUrl(new URL(`sqs://127.0.0.1:1?sns=false${options.fifo ? '&fifo=true' : ''}`));
  let calls = 0;
  const sqs = { send: (command: Batch) => answer(command, calls++) } as unknown as SQSClient;
  const topology = {
    fifo: () => settings.fifo,
    topicQueueUrl: options.queueUrl ?? (async () => 'http://queue'),
  } as unknown as Topology;
  return { producer: new Producer(sqs, undefined, topology, settings), calls: () => calls };
}

const ok = async (batch: Batch) => ({ Successful: batch.input.Entries.map((e) => ({ Id: e.Id })) });

describe('Producer', () => {
  it('sends batches of 10 and resolves when every entry was accepted', async () => {
    const p = producer(ok);
    await p.producer.publish(
      't',
      Array.from({ length: 25 }, (_, i) => message(i)),
    );
    expect(p.calls()).toBe(3);
  });

  it('names exactly the entries SQS did not accept in PUBLISH_FAILED', async () => {
    const p = producer(async (batch) => ({
      Successful: batch.input.Entries.filter((e) => e.Id !== '3').map((e) => ({ Id: e.Id })),
      Failed: [{ Id: '3', Code: 'InternalError', Message: 'try again' }],
    }));
    const error = await p.producer.publish('t', [0, 1, 2, 3, 4].map(message)).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(CarrierError);
    expect((error as CarrierError).code).toBe('PUBLISH_FAILED');
    expect((error as CarrierError).failures.map((f) => [f.index, f.id])).toEqual([[3, 'm3']]);
    expect((error as CarrierError).failures[0]!.error.message).toContain('InternalError');
  });

  it('fails every message when the topic queue cannot be resolved', async () => {
    const p = producer(ok, {
      queueUrl: async () => {
        throw new Error('no such queue');
      },
    });
    const error = (await p.producer
      .publish('t', [0, 1].map(message))
      .catch((e: unknown) => e)) as CarrierError;
    expect(error.code).toBe('PUBLISH_FAILED');
    expect(error.failures.map((f) => f.index)).toEqual([0, 1]);
    expect(error.message).toContain('no such queue');
    expect(p.calls()).toBe(0);
  });

  it('FIFO: sends one batch after the other and nothing after a failed batch', async () => {
    const p = producer(
      async (batch, call) => {
        if (call === 0) throw Object.assign(new Error('connection reset'), { code: 'ECONNRESET' });
        return ok(batch);
      },
      { fifo: true },
    );
    const error = (await p.producer
      .publish(
        't',
        Array.from({ length: 15 }, (_, i) => message(i)),
      )
      .catch((e: unknown) => e)) as CarrierError;
    expect(p.calls()).toBe(1);
    expect(error.failures).toHaveLength(15);
    expect(error.failures[10]!.error.message).toContain('an earlier batch of this FIFO publish failed');
  });

  it('refuses a message over the limit with MESSAGE_TOO_LARGE before sending anything', async () => {
    const p = producer(ok);
    const big = { ...message(0), body: new Uint8Array(p.producer.limit + 1) };
    const error = (await p.producer.publish('t', [big]).catch((e: unknown) => e)) as CarrierError;
    expect(error.code).toBe('MESSAGE_TOO_LARGE');
    expect(p.calls()).toBe(0);
  });
});
