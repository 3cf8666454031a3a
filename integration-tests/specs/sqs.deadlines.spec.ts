import { createTransport } from '@carrier/adapter-sqs';
import { freshName, waitFor } from '@carrier/contract';
import { CarrierError, connect, type Delivery, type Transport } from '@carrier/core';
import { afterEach, describe, expect, inject, it } from 'vitest';
import '../src/context.js';
import { startProxy, type TcpProxy, urlAddress } from '../src/proxy.js';
import { wireMessage } from './attempt-child-support.js';
import { withParams } from './network-faults-support.js';

// Deadlines of the SQS transport beyond the cross-broker cases of network-faults.spec.ts (silent
// endpoint at connect with the connectTimeoutMs option, silent connection mid-consumption, resets
// mid-publish): the URL's connectTimeoutMs, a deadline on each kind of call once the connection
// goes silent (publish → PUBLISH_FAILED, settlement → SETTLE_FAILED), and a lease whose heartbeats
// fail for a whole visibility timeout.

const base = () => inject('brokers').sqs;
const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c().catch(() => {});
});

/** A proxy in front of the shared SQS endpoint (or, with `blackhole`, a silent endpoint). */
async function proxy(mode: 'pass' | 'blackhole' = 'pass'): Promise<TcpProxy> {
  const p = await startProxy(urlAddress(base()), { mode });
  cleanups.push(() => p.close());
  return p;
}

async function transport(url: string): Promise<Transport> {
  const t = await createTransport(new URL(url), { onError: () => {} });
  cleanups.push(() => t.abort());
  return t;
}

/** A delivery held by a transport that goes through `p`, with `params` on its URL. */
async function heldDelivery(
  p: TcpProxy,
  params: Record<string, string>,
): Promise<{ t: Transport; topic: string; delivery: Delivery }> {
  const topic = freshName('deadline');
  const publisher = await connect(base());
  cleanups.push(() => publisher.close());
  await publisher.declare(topic, ['g']);
  const t = await transport(withParams(p.rewrite(base()), params));
  const deliveries: Delivery[] = [];
  await t.subscribe(topic, 'g', { prefetch: 1, ordered: false }, (d) => {
    deliveries.push(d);
  });
  await publisher.publish(topic, { n: 1 }, { id: 'held' });
  await waitFor(() => deliveries.length === 1, 20_000, 'the delivery');
  return { t, topic, delivery: deliveries[0]! };
}

describe('sqs deadlines', () => {
  it('the URL connectTimeoutMs bounds connect to a silent endpoint, and no socket is left open', async () => {
    const silent = await proxy('blackhole');
    const started = Date.now();
    const error = await connect(withParams(silent.rewrite(base()), { connectTimeoutMs: '800' }), {
      onError: () => {},
    }).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(CarrierError);
    expect(['TIMEOUT', 'CONNECTION']).toContain((error as CarrierError).code);
    expect(Date.now() - started).toBeLessThan(5_000);
    await waitFor(() => silent.openConnections === 0, 5_000, 'the client to close its sockets');
  });

  it('once the connection goes silent, a publish fails with PUBLISH_FAILED naming its message and a settlement with SETTLE_FAILED, within requestTimeoutMs', async () => {
    const requestTimeoutMs = 1_000;
    const p = await proxy();
    const { t, topic, delivery } = await heldDelivery(p, {
      visibilityTimeout: '30',
      waitTimeSeconds: '1',
      requestTimeoutMs: String(requestTimeoutMs),
    });
    p.setMode('blackhole');
    const started = Date.now();
    const [published, acked] = await Promise.allSettled([
      t.publish(topic, [wireMessage('cut')]),
      delivery.ack(),
    ]);
    const elapsed = Date.now() - started;
    expect(published.status).toBe('rejected');
    const pubError = (published as PromiseRejectedResult).reason as CarrierError;
    expect(pubError).toBeInstanceOf(CarrierError);
    expect(pubError.code).toBe('PUBLISH_FAILED');
    expect(pubError.failures.map((f) => f.id)).toEqual(['cut']);
    expect(acked.status).toBe('rejected');
    const ackError = (acked as PromiseRejectedResult).reason as CarrierError;
    expect(ackError).toBeInstanceOf(CarrierError);
    expect(ackError.code).toBe('SETTLE_FAILED');
    // the SDK's retries are inside the deadline; slack for a loaded machine
    expect(elapsed).toBeLessThan(requestTimeoutMs + 5_000);
  }, 60_000);

  it('a delivery whose heartbeats fail for a whole visibility timeout has its lease aborted with LEASE_LOST', async () => {
    const p = await proxy();
    const { delivery } = await heldDelivery(p, {
      visibilityTimeout: '3',
      waitTimeSeconds: '1',
      requestTimeoutMs: '1000',
    });
    const lease = delivery.lease!;
    expect(lease.aborted).toBe(false);
    p.setMode('blackhole');
    await waitFor(() => lease.aborted, 15_000, 'the lease to be reported lost');
    expect(lease.reason).toBeInstanceOf(CarrierError);
    expect((lease.reason as CarrierError).code).toBe('LEASE_LOST');
  }, 60_000);
});
