import {
  CreateQueueCommand,
  DeleteQueueCommand,
  GetQueueAttributesCommand,
  GetQueueUrlCommand,
  ListQueueTagsCommand,
  SQSClient,
} from '@aws-sdk/client-sqs';
import { createTransport, sweepStrayReplyQueues } from '@carrier/adapter-sqs';
import { waitFor } from '@carrier/contract';
import { CarrierError, type Transport, type WireMessage } from '@carrier/core';
import { afterAll, describe, expect, inject, it } from 'vitest';
import '../src/context.js';

// What request/reply leaves on SQS (docs/brokers/sqs.md, "Request/reply"): a reply queue per
// requester connection (5-minute retention, tagged), deleted on close; a reply to a queue that is
// gone is dropped; a crashed requester's queue is left behind and swept once stale; the time
// openReplies takes (printed: the cost of a connection's first request).

function wire(text: string, correlationId: string): WireMessage {
  return {
    id: crypto.randomUUID(),
    headers: { h: '1' },
    contentType: 'text/plain; charset=utf-8',
    body: new TextEncoder().encode(text),
    publishedAt: new Date(),
    metadata: { correlationId },
  };
}

function url(options = ''): string {
  const base = inject('brokers').sqs;
  return options ? `${base}${base.includes('?') ? '&' : '?'}${options}` : base;
}

/** An SQS client of the test's own, on the harness's endpoint. */
function sqsClient(): SQSClient {
  const u = new URL(inject('brokers').sqs);
  return new SQSClient({
    endpoint: `http://${u.host}`,
    region: u.searchParams.get('region') ?? 'us-east-1',
    credentials: { accessKeyId: 'test', secretAccessKey: 'test' },
  });
}

async function exists(sqs: SQSClient, queueUrl: string): Promise<boolean> {
  const name = queueUrl.slice(queueUrl.lastIndexOf('/') + 1);
  return sqs.send(new GetQueueUrlCommand({ QueueName: name })).then(
    () => true,
    () => false,
  );
}

describe('sqs replies', { timeout: 120_000 }, () => {
  const open: Transport[] = [];
  const errors: Error[] = [];
  const sqs = sqsClient();
  afterAll(async () => {
    await Promise.allSettled(open.map((t) => t.close()));
    sqs.destroy();
  });
  async function transport(options = 'waitTimeSeconds=1'): Promise<Transport> {
    const t = await createTransport(new URL(url(options)), { onError: (e) => errors.push(e) });
    open.push(t);
    return t;
  }

  for (const mode of ['waitTimeSeconds=1', 'fifo=true&waitTimeSeconds=1', 'sns=false&waitTimeSeconds=1']) {
    it(`${mode}: a reply reaches its queue, close deletes the queue, a reply after that is dropped`, async () => {
      const requester = await transport(mode);
      const server = await transport(mode);
      const got: WireMessage[] = [];
      const t0 = performance.now();
      const replies = await requester.openReplies!((m) => got.push(m));
      console.log(`sqs (${mode}) openReplies: ${Math.round(performance.now() - t0)} ms`);
      expect(replies.address).toMatch(/\/carrier_reply-[0-9a-z]+-[0-9a-f]{32}$/);
      const attributes = await sqs.send(
        new GetQueueAttributesCommand({
          QueueUrl: replies.address,
          AttributeNames: ['MessageRetentionPeriod'],
        }),
      );
      expect(attributes.Attributes?.MessageRetentionPeriod).toBe('300');
      const tags = await sqs.send(new ListQueueTagsCommand({ QueueUrl: replies.address }));
      expect(tags.Tags?.['carrier-role']).toBe('reply');

      const t1 = performance.now();
      await server.reply!(replies.address, wire('pong', 'c-1'));
      await waitFor(() => got.length === 1, 30_000, 'the reply');
      console.log(`sqs (${mode}) reply round trip: ${Math.round(performance.now() - t1)} ms`);
      expect(new TextDecoder().decode(got[0]!.body)).toBe('pong');
      expect(got[0]!.metadata?.correlationId).toBe('c-1');
      expect(got[0]!.headers).toEqual({ h: '1' });

      const refused = await server.reply!(`${url()}/000000000000/orders`, wire('x', 'c-2')).catch((e) => e);
      expect(refused).toBeInstanceOf(CarrierError);
      expect((refused as CarrierError).code).toBe('INVALID_ARGUMENT');

      await replies.close();
      expect(await exists(sqs, replies.address)).toBe(false);
      await server.reply!(replies.address, wire('late', 'c-3')); // the requester is gone: dropped
      expect(errors).toEqual([]);
    });
  }

  it('a crashed requester leaves its queue; the sweep deletes stale reply queues only', async () => {
    const crashed = await transport();
    const live = await transport();
    const leftover = await crashed.openReplies!(() => {});
    const kept = await live.openReplies!(() => {});
    await crashed.abort();
    expect(await exists(sqs, leftover.address)).toBe(true);
    // a stray from an hour ago whose owner stopped refreshing it (the sweep only deletes queues
    // older than 15 minutes, so the fresh leftover of this test stays until then)
    const old = `carrier_reply-${(Date.now() - 3_600_000).toString(36)}-${crypto.randomUUID().replaceAll('-', '')}`;
    const stale = await sqs.send(
      new CreateQueueCommand({
        QueueName: old,
        tags: { 'carrier-reply-alive': new Date(Date.now() - 3_600_000).toISOString() },
      }),
    );
    // every openReplies also sweeps in the background (so may another spec's, on this emulator):
    // whichever sweep deletes the stray first, it is gone once this one returns
    await sweepStrayReplyQueues(sqs);
    expect(await exists(sqs, stale.QueueUrl!)).toBe(false);
    expect(await exists(sqs, kept.address)).toBe(true);
    expect(await exists(sqs, leftover.address)).toBe(true);
    await kept.close();
    // the test's own leftover (a sweep would take it in 15 minutes; a sweep with a later clock would
    // also take the fresh queues of other runs on this emulator)
    await sqs.send(new DeleteQueueCommand({ QueueUrl: leftover.address }));
  });
});
