import { GetQueueAttributesCommand, GetQueueUrlCommand, SQSClient } from '@aws-sdk/client-sqs';
import { createTransport, groupQueueName } from '@carrier/adapter-sqs';
import { freshName, waitFor } from '@carrier/contract';
import { CarrierError, connect, type Delivery, type Transport, type WireMessage } from '@carrier/core';
import { afterEach, describe, expect, inject, it } from 'vitest';
import '../src/context.js';
import { sqsEndpoint } from '../src/urls.js';
import { withParams } from './network-faults-support.js';

// Closing, releasing and crashing on SQS: a closing member never hides the next message from the
// others nor charges it an attempt, a release never charges an attempt (in any process), a crash
// does, and close finishes the publishes in flight.

const base = () => inject('brokers').sqs;
const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c().catch(() => {});
});

function wire(id: string): WireMessage {
  return {
    id,
    headers: {},
    contentType: 'application/json',
    body: new TextEncoder().encode(JSON.stringify({ id })),
    publishedAt: new Date(),
  };
}

async function transport(url: string): Promise<Transport> {
  const t = await createTransport(new URL(url), { onError: () => {} });
  cleanups.push(() => t.abort());
  return t;
}

async function groupQueueDepth(topic: string, group: string): Promise<{ visible: number; inFlight: number }> {
  const sqs = new SQSClient(sqsEndpoint(base()));
  try {
    const { QueueUrl } = await sqs.send(
      new GetQueueUrlCommand({ QueueName: groupQueueName(topic, group, { fifo: false }) }),
    );
    const out = await sqs.send(new GetQueueAttributesCommand({ QueueUrl, AttributeNames: ['All'] }));
    return {
      visible: Number(out.Attributes?.ApproximateNumberOfMessages ?? 0),
      inFlight: Number(out.Attributes?.ApproximateNumberOfMessagesNotVisible ?? 0),
    };
  } finally {
    sqs.destroy();
  }
}

describe('sqs lifecycle', () => {
  it('closing an idle member neither hides the next message from another member nor charges it an attempt', async () => {
    const topic = freshName('idle-close');
    const handledByA: string[] = [];
    const a = await connect(base(), { onError: () => {} });
    cleanups.push(() => a.abort());
    await a.subscribe(topic, { group: 'g' }, (m) => {
      handledByA.push(m.id);
    });
    // the input of the failure: A idles with its long polls in flight, then closes
    await new Promise((resolve) => setTimeout(resolve, 1_500));
    const closeStarted = Date.now();
    await a.close();
    const closeMs = Date.now() - closeStarted;

    const b = await connect(base(), { onError: () => {} });
    cleanups.push(() => b.close());
    const got: { id: string; attempt: number; at: number }[] = [];
    const published = Date.now();
    await b.publish(topic, { n: 1 }, { id: 'next' });
    await b.subscribe(topic, { group: 'g' }, (m) => {
      got.push({ id: m.id, attempt: m.attempt, at: Date.now() });
    });
    await waitFor(() => got.length > 0, 12_000, 'B to get the message');
    console.log(
      `[sqs lifecycle] idle member closed in ${closeMs} ms; B got the message after ${got[0]!.at - published} ms`,
    );
    expect(handledByA).toEqual([]);
    expect(got[0]).toMatchObject({ id: 'next', attempt: 1 });
    // default waitTimeSeconds is 5: a close waits for the long polls in flight, not longer
    expect(closeMs).toBeLessThan(8_000);
  }, 60_000);

  it('a member closed during a retry backoff does not skip an attempt', async () => {
    const topic = freshName('backoff-close');
    const url = withParams(base(), { waitTimeSeconds: '1' });
    const seenByA: string[] = [];
    let failedAt = 0;
    let finishSlow!: () => void;
    const slow = new Promise<void>((resolve) => {
      finishSlow = resolve;
    });
    const a = await connect(url, { onError: () => {} });
    cleanups.push(() => a.abort());
    // one handler at a time, two prefetched: the retried message comes back while the handler is busy
    await a.subscribe(
      topic,
      {
        group: 'g',
        concurrency: 1,
        prefetch: 2,
        retry: { maxAttempts: 5, initialDelayMs: 1_000, maxDelayMs: 2_000 },
      },
      async (m) => {
        seenByA.push(`${m.id}#${m.attempt}`);
        if (m.id === 'retried') {
          failedAt = Date.now();
          throw new Error('fails, to be retried');
        }
        await slow;
      },
    );
    await a.publish(topic, { n: 1 }, { id: 'retried' });
    await waitFor(() => failedAt > 0, 15_000, 'A to fail the first attempt');
    await a.publish(topic, { n: 2 }, { id: 'slow' });
    await waitFor(() => seenByA.includes('slow#1'), 15_000, 'A to start the slow handler');
    // the retry's backoff is over and A took the message back in (prefetched behind the slow handler)
    await waitFor(() => Date.now() - failedAt > 2_500, 10_000, 'the backoff to end');
    const depth = await groupQueueDepth(topic, 'g');
    const closing = a.close();
    finishSlow();
    await closing;

    const b = await connect(base(), { onError: () => {} });
    cleanups.push(() => b.close());
    const got: string[] = [];
    await b.subscribe(topic, { group: 'g' }, (m) => {
      got.push(`${m.id}#${m.attempt}`);
    });
    await waitFor(() => got.some((g) => g.startsWith('retried')), 20_000, 'B to get the retried message');
    console.log(
      `[sqs lifecycle] at close: ${JSON.stringify(depth)}; A saw ${seenByA.join(', ')}; B got ${got.join(', ')}`,
    );
    expect(seenByA).toEqual(['retried#1', 'slow#1']);
    expect(got.filter((g) => g.startsWith('retried'))).toEqual(['retried#2']);
  }, 60_000);

  it('transport.close() finishes every publish in flight, single and batched', async () => {
    const topic = freshName('close-publish');
    const t = await transport(base());
    await t.declare(topic, ['g']);
    // 200 messages in flight: with 400, moto on a loaded 2-core machine did not answer some
    // PublishBatch calls within requestTimeoutMs (10 s) and they failed with PUBLISH_FAILED
    const singles = Array.from({ length: 100 }, (_, i) => t.publish(topic, [wire(`s-${i}`)]));
    const batches = Array.from({ length: 5 }, (_, b) =>
      t.publish(
        topic,
        Array.from({ length: 20 }, (_, i) => wire(`b-${b}-${i}`)),
      ),
    );
    const closing = t.close();
    const refused = t.publish(topic, [wire('after-close')]).then(
      () => undefined,
      (e: unknown) => e,
    );
    await closing;
    const outcomes = await Promise.allSettled([...singles, ...batches]);
    expect(outcomes.filter((o) => o.status === 'rejected')).toEqual([]);
    const error = await refused;
    expect(error).toBeInstanceOf(CarrierError);
    expect((error as CarrierError).code).toBe('CLOSED');
    const depth = await groupQueueDepth(topic, 'g');
    expect(depth.visible + depth.inFlight).toBe(200);
  }, 60_000);

  it('attempt counts a crashed member (abort, then a new connection) but never a release, in any process', async () => {
    const topic = freshName('attempts');
    // visibility 3 s so that the crashed member's lease runs out soon; 1 s long polls, so that the
    // aborted connection's poll (which goes on at the server) ends before the message is back
    const url = withParams(base(), { visibilityTimeout: '3', waitTimeSeconds: '1' });
    const deliveries: Delivery[] = [];
    const sink = (d: Delivery) => {
      deliveries.push(d);
    };
    const t1 = await transport(url);
    await t1.declare(topic, ['g']);
    await t1.publish(topic, [wire('counted')]);
    await t1.subscribe(topic, 'g', { prefetch: 1, ordered: false }, sink);
    await waitFor(() => deliveries.length === 1, 15_000, 'the first delivery');
    expect(deliveries[0]!.attempt).toBe(1);
    await t1.abort(); // crash: never settled

    const t2 = await transport(url);
    await t2.subscribe(topic, 'g', { prefetch: 1, ordered: false }, sink);
    await waitFor(() => deliveries.length === 2, 20_000, 'the redelivery after the crash');
    expect(deliveries[1]!.message.id).toBe('counted');
    expect(deliveries[1]!.attempt).toBe(2);
    await deliveries[1]!.release();
    await waitFor(() => deliveries.length === 3, 15_000, 'the delivery after a release');
    expect(deliveries[2]!.attempt).toBe(2);
    // released, then read by another connection: the correction travels with the message
    await deliveries[2]!.release();
    await t2.close();
    const t3 = await transport(url);
    await t3.subscribe(topic, 'g', { prefetch: 1, ordered: false }, sink);
    await waitFor(() => deliveries.length === 4, 15_000, 'the delivery in a new connection');
    expect(deliveries[3]!.attempt).toBe(2);
    await deliveries[3]!.retry(0);
    await waitFor(() => deliveries.length === 5, 15_000, 'the delivery after a retry');
    expect(deliveries[4]!.attempt).toBe(3);
    await deliveries[4]!.ack();
    expect(deliveries.map((d) => d.message.id)).toEqual(Array(5).fill('counted'));
  }, 90_000);
});
