import { createTransport } from '@carrier/adapter-sqs';
import { freshName, waitFor } from '@carrier/contract';
import { type Carrier, CarrierError, connect, type Delivery } from '@carrier/core';
import { afterEach, describe, expect, inject, it } from 'vitest';
import '../src/context.js';
import { silenceableProxy, silentServer, sqsUrlVia } from './sqs-net-support.js';

// Deadlines of the SQS transport against loopback endpoints that accept TCP and never answer:
// connect honours connectTimeoutMs, and a connection that goes silent mid-run (no FIN, no RST) is
// reported to onError as CONNECTION within waitTimeSeconds + requestTimeoutMs, after which
// consumption resumes by itself.

const base = () => inject('brokers').sqs;
const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c().catch(() => {});
});

describe('sqs deadlines', () => {
  it('connect to an endpoint that accepts TCP and never answers fails within connectTimeoutMs and leaves no socket open', async () => {
    const server = await silentServer();
    cleanups.push(() => server.close());
    const started = Date.now();
    const error = await connect(`sqs://127.0.0.1:${server.port}?region=us-east-1`, {
      connectTimeoutMs: 1_000,
      onError: () => {},
    }).then(
      () => undefined,
      (e: unknown) => e,
    );
    const elapsed = Date.now() - started;
    expect(error).toBeInstanceOf(CarrierError);
    expect(['TIMEOUT', 'CONNECTION']).toContain((error as CarrierError).code);
    expect(elapsed).toBeLessThan(5_000);
    await waitFor(() => server.open() === 0, 5_000, 'the client to close its sockets');
  });

  it('the URL connectTimeoutMs bounds connect too', async () => {
    const server = await silentServer();
    cleanups.push(() => server.close());
    const started = Date.now();
    await expect(
      connect(`sqs://127.0.0.1:${server.port}?region=us-east-1&connectTimeoutMs=800`, { onError: () => {} }),
    ).rejects.toBeInstanceOf(CarrierError);
    expect(Date.now() - started).toBeLessThan(5_000);
  });

  it('a consumer whose connection goes silent reports CONNECTION within the liveness time and resumes by itself, nothing lost', async () => {
    const target = new URL(base());
    const proxy = await silenceableProxy(target.hostname, Number(target.port));
    cleanups.push(() => proxy.close());
    const waitTimeSeconds = 1;
    const requestTimeoutMs = 2_000;
    const liveness = waitTimeSeconds * 1_000 + requestTimeoutMs;
    const errors: { at: number; error: Error }[] = [];
    const topic = freshName('silent');
    const publisher = await connect(base());
    cleanups.push(() => publisher.close());
    await publisher.declare(topic, ['g']);
    const consumer: Carrier = await connect(
      sqsUrlVia(base(), proxy.port, {
        waitTimeSeconds: String(waitTimeSeconds),
        requestTimeoutMs: String(requestTimeoutMs),
      }),
      { onError: (error) => errors.push({ at: Date.now(), error }) },
    );
    cleanups.push(() => consumer.abort());
    const seen: string[] = [];
    await consumer.subscribe(topic, { group: 'g' }, (m) => {
      seen.push(m.id);
    });
    await publisher.publish(topic, { n: 1 }, { id: 'before' });
    await waitFor(() => seen.includes('before'), 20_000, 'the message sent before the silence');

    const silencedAt = Date.now();
    proxy.silence();
    // the ack of 'before' may also fail (SETTLE_FAILED from core); the consumer must say CONNECTION
    const connectionError = () =>
      errors.find((e) => e.error instanceof CarrierError && e.error.code === 'CONNECTION');
    await waitFor(() => connectionError() !== undefined, liveness + 10_000, 'CONNECTION on onError');
    const first = connectionError()!;
    // the first call to miss its deadline (a receive, or the ack of 'before') reports it
    expect(first.at - silencedAt).toBeLessThan(liveness + 5_000);

    await publisher.publish(topic, { n: 2 }, { id: 'during' });
    proxy.pass();
    await publisher.publish(topic, { n: 3 }, { id: 'after' });
    await waitFor(
      () => seen.includes('during') && seen.includes('after'),
      30_000,
      'consumption to resume after the silence',
    );
    console.log(
      `[sqs deadlines] silent connection reported after ${first.at - silencedAt} ms (liveness ${liveness} ms): ${first.error.message}`,
    );
  }, 90_000);

  it('a delivery whose heartbeats fail for a whole visibility timeout has its lease aborted with LEASE_LOST', async () => {
    const target = new URL(base());
    const proxy = await silenceableProxy(target.hostname, Number(target.port));
    cleanups.push(() => proxy.close());
    const topic = freshName('lease');
    const publisher = await connect(base());
    cleanups.push(() => publisher.close());
    await publisher.declare(topic, ['g']);
    const t = await createTransport(
      new URL(
        sqsUrlVia(base(), proxy.port, {
          visibilityTimeout: '3',
          waitTimeSeconds: '1',
          requestTimeoutMs: '1000',
        }),
      ),
      { onError: () => {} },
    );
    cleanups.push(() => t.abort());
    const deliveries: Delivery[] = [];
    await t.subscribe(topic, 'g', { prefetch: 1, ordered: false }, (d) => {
      deliveries.push(d);
    });
    await publisher.publish(topic, { n: 1 }, { id: 'leased' });
    await waitFor(() => deliveries.length === 1, 20_000, 'the delivery');
    const lease = deliveries[0]!.lease!;
    expect(lease.aborted).toBe(false);
    proxy.silence();
    await waitFor(() => lease.aborted, 15_000, 'the lease to be reported lost');
    expect(lease.reason).toBeInstanceOf(CarrierError);
    expect((lease.reason as CarrierError).code).toBe('LEASE_LOST');
  }, 60_000);

  it('publishes cut by a connection reset settle promptly: each resolves or fails with PUBLISH_FAILED naming its messages', async () => {
    const target = new URL(base());
    const proxy = await silenceableProxy(target.hostname, Number(target.port));
    cleanups.push(() => proxy.close());
    const topic = freshName('reset');
    const carrier = await connect(sqsUrlVia(base(), proxy.port, { requestTimeoutMs: '5000' }), {
      onError: () => {},
    });
    cleanups.push(() => carrier.close());
    await carrier.declare(topic, ['g']);
    const started = Date.now();
    const publishes = Array.from({ length: 50 }, (_, i) => carrier.publish(topic, { i }, { id: `r-${i}` }));
    setTimeout(() => proxy.reset(), 20);
    const outcomes = await Promise.allSettled(publishes);
    const elapsed = Date.now() - started;
    outcomes.forEach((o, i) => {
      if (o.status === 'fulfilled') return;
      expect(o.reason).toBeInstanceOf(CarrierError);
      expect((o.reason as CarrierError).code).toBe('PUBLISH_FAILED');
      expect((o.reason as CarrierError).failures?.map((f) => f.id)).toEqual([`r-${i}`]);
    });
    expect(elapsed).toBeLessThan(15_000);
    // the connection is usable again afterwards
    await carrier.publish(topic, { after: true }, { id: 'after-reset' });
    console.log(
      `[sqs deadlines] reset mid-publish: ${outcomes.filter((o) => o.status === 'fulfilled').length} of 50 confirmed (the SDK retries a reset request), the rest PUBLISH_FAILED, in ${elapsed} ms`,
    );
  }, 60_000);
});
