import { createTransport } from '@carrier/adapter-rabbitmq';
import { freshName, waitFor } from '@carrier/contract';
import { type Carrier, CarrierError, connect, type Delivery } from '@carrier/core';
import { afterEach, describe, expect, inject, it } from 'vitest';
import '../src/context.js';
import { Inbox, wireMessage } from './attempt-child-support.js';
import { FaultProxy } from './fault-proxy-support.js';

// Deadlines and liveness on RabbitMQ, through a loopback proxy that can go silent (no FIN, no RST):
// missed heartbeats report CONNECTION and the reconnect loop resumes consumption; connect to a
// silent endpoint fails within connectTimeoutMs and leaves no socket behind.

const direct = () => inject('brokers').rabbitmq;
// mid-publish: the 2,000 messages of the reset spec take about 350 kB; the broker confirms lag behind
const RESET_AFTER_BYTES = 250_000;
const carriers: Carrier[] = [];
const proxies: FaultProxy[] = [];

/** The broker URL with its host:port replaced by the proxy's. */
function through(proxy: FaultProxy, query: string): string {
  const u = new URL(direct());
  u.host = proxy.address;
  return `${u.href}${u.search ? '&' : '?'}${query}`;
}

async function proxy(): Promise<FaultProxy> {
  const u = new URL(direct());
  const p = await FaultProxy.start(`${u.hostname}:${u.port || '5672'}`);
  proxies.push(p);
  return p;
}

async function open(url: string, errors: Error[] = []): Promise<Carrier> {
  const c = await connect(url, { onError: (e) => errors.push(e) });
  carriers.push(c);
  return c;
}

function connectionErrors(errors: Error[]): number {
  return errors.filter((e) => e instanceof CarrierError && e.code === 'CONNECTION').length;
}

afterEach(async () => {
  for (const p of proxies) p.pass();
  await Promise.allSettled(carriers.splice(0).map((c) => c.close()));
  await Promise.allSettled(proxies.splice(0).map((p) => p.close()));
});

describe('rabbitmq liveness', () => {
  for (const queueType of ['quorum', 'classic'] as const) {
    it(`a consumer whose connection goes silent reports CONNECTION after two missed heartbeats and resumes with nothing lost (${queueType})`, {
      timeout: 60_000,
    }, async () => {
      const p = await proxy();
      const errors: Error[] = [];
      const query = `queueType=${queueType}`;
      const consumer = await open(
        through(p, `${query}&heartbeat=2&connectTimeoutMs=1500&reconnectMaxDelay=500`),
        errors,
      );
      const producer = await open(`${direct()}?${query}`);
      const topic = freshName('silent');
      const got = new Map<string, number>();
      await consumer.subscribe(topic, { group: 'g' }, (m) => {
        got.set(m.body as string, m.attempt);
      });
      await producer.publish(topic, 'before');
      await waitFor(() => got.has('before'), 10_000, 'the message before the outage');

      p.blackhole();
      const silentAt = Date.now();
      await producer.publish(topic, 'during');
      await waitFor(() => connectionErrors(errors) > 0, 20_000, 'onError(CONNECTION)');
      // heartbeat 2 s: amqplib gives up after two silent periods
      expect(Date.now() - silentAt).toBeLessThan(10_000);
      expect(got.has('during')).toBe(false);

      p.pass();
      await waitFor(() => got.has('during'), 30_000, 'the message published during the outage');
      await producer.publish(topic, 'after');
      await waitFor(() => got.has('after'), 10_000, 'the message after the outage');
      // 1, or 2 when the broker had already pushed it down the silent connection (a delivery to a
      // member that never settled it counts)
      expect(got.get('during')).toBeLessThanOrEqual(2);
      // the silenced connection and the dials that timed out into the silence are all closed
      await waitFor(() => p.open === 1, 10_000, 'one open connection through the proxy');
    });
  }

  it('a delivery held on a connection that goes silent loses its lease (LEASE_LOST) and comes back with attempt 2', {
    timeout: 60_000,
  }, async () => {
    const p = await proxy();
    const t = await createTransport(
      new URL(through(p, 'heartbeat=2&connectTimeoutMs=1500&reconnectMaxDelay=500')),
      {
        onError: () => {},
      },
    );
    const producer = await createTransport(new URL(direct()), { onError: () => {} });
    try {
      const topic = freshName('lease');
      const inbox = new Inbox<Delivery>();
      await t.subscribe(topic, 'g', { prefetch: 1, ordered: false }, inbox.sink);
      await producer.publish(topic, [wireMessage('held')]);
      const held = await inbox.next(10_000, 'the delivery');
      expect(held.lease?.aborted).toBe(false);
      p.blackhole();
      await waitFor(() => held.lease?.aborted === true, 15_000, 'the lease to be lost');
      expect(held.lease?.reason).toBeInstanceOf(CarrierError);
      expect((held.lease!.reason as CarrierError).code).toBe('LEASE_LOST');
      p.pass();
      const again = await inbox.next(30_000, 'the redelivery after the reconnect');
      expect(again.message.id).toBe('held');
      expect(again.attempt).toBe(2);
      await again.ack();
    } finally {
      await Promise.allSettled([t.close(), producer.close()]);
    }
  });

  it('connect to a silent endpoint fails within connectTimeoutMs and leaves no socket open', {
    timeout: 30_000,
  }, async () => {
    const p = await proxy();
    p.blackhole();
    const started = Date.now();
    const error = await createTransport(new URL(through(p, 'queueType=quorum')), {
      onError: () => {},
      connectTimeoutMs: 1_500,
    }).catch((e: unknown) => e);
    const tookMs = Date.now() - started;
    expect(error).toBeInstanceOf(CarrierError);
    expect(['TIMEOUT', 'CONNECTION']).toContain((error as CarrierError).code);
    expect(tookMs).toBeLessThan(5_000);
    await waitFor(() => p.open === 0, 5_000, 'the client to close its socket');
  });
  it('a connection reset mid-publish: publish rejects naming only unconfirmed messages, and every confirmed one is delivered', {
    timeout: 60_000,
  }, async () => {
    const p = await proxy();
    const t = await createTransport(new URL(through(p, 'connectTimeoutMs=1500&reconnectMaxDelay=500')), {
      onError: () => {},
    });
    const other = await createTransport(new URL(direct()), { onError: () => {} });
    try {
      const topic = freshName('reset');
      await other.declare(topic, ['g']);
      const ids = Array.from({ length: 2_000 }, (_, i) => `reset-${i}`);
      p.resetAfter(RESET_AFTER_BYTES);
      let failed = new Set<string>();
      try {
        await t.publish(
          topic,
          ids.map((id) => wireMessage(id)),
        );
      } catch (error) {
        expect(error).toBeInstanceOf(CarrierError);
        expect((error as CarrierError).code).toBe('PUBLISH_FAILED');
        const failures = (error as CarrierError).failures;
        failed = new Set(failures.map((f) => f.id));
        expect(failed.size).toBe(failures.length);
        for (const f of failures) expect(ids[f.index]).toBe(f.id);
      }
      expect(p.resets).toBe(1);
      const confirmed = ids.filter((id) => !failed.has(id));
      const seen = new Set<string>();
      const inbox = new Inbox<Delivery>();
      await other.subscribe(topic, 'g', { prefetch: 500, ordered: false }, inbox.sink);
      const deadline = Date.now() + 30_000;
      while (!confirmed.every((id) => seen.has(id))) {
        const d = await inbox.next(
          Math.max(1, deadline - Date.now()),
          `${confirmed.length} confirmed messages (seen ${seen.size})`,
        );
        seen.add(d.message.id);
        await d.ack();
      }
    } finally {
      await Promise.allSettled([t.close(), other.close()]);
    }
  });
});
