import { createTransport } from '@carrier/adapter-nats';
import { freshName, gate, waitFor } from '@carrier/contract';
import { type Carrier, CarrierError, connect, type Delivery } from '@carrier/core';
import { afterEach, describe, expect, inject, it } from 'vitest';
import '../src/context.js';
import { natsServers } from '../src/urls.js';
import { Inbox, wireMessage } from './attempt-child-support.js';
import { FaultProxy } from './fault-proxy-support.js';

// Deadlines and liveness on NATS, through a loopback proxy that can go silent (no FIN, no RST):
// a silent connection is reported as CONNECTION within the documented time and consumption resumes
// by itself; a silent endpoint fails connect within connectTimeoutMs; closing a member gives back
// at once what it had pulled.

const direct = () => inject('brokers').nats;
const carriers: Carrier[] = [];
const proxies: FaultProxy[] = [];

async function proxy(): Promise<FaultProxy> {
  const p = await FaultProxy.start(natsServers(direct())[0]!);
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

describe('nats liveness', () => {
  it('a consumer whose connection goes silent reports CONNECTION within seconds and resumes with nothing lost', {
    timeout: 60_000,
  }, async () => {
    const p = await proxy();
    const errors: Error[] = [];
    // short dial timeout: reconnect attempts into the silent proxy give up quickly
    const consumer = await open(`nats://${p.address}?connectTimeoutMs=1000&reconnectWaitMs=200`, errors);
    const producer = await open(direct());
    const topic = freshName('silent');
    const got = new Set<string>();
    await consumer.subscribe(topic, { group: 'g' }, (m) => {
      got.add(m.body as string);
    });
    await producer.publish(topic, 'before');
    await waitFor(() => got.has('before'), 10_000, 'the message before the outage');

    p.blackhole();
    const silentAt = Date.now();
    await producer.publish(topic, 'during');
    await waitFor(() => connectionErrors(errors) > 0, 20_000, 'onError(CONNECTION)');
    const noticedMs = Date.now() - silentAt;
    // pull heartbeats missed (2.5 s) + PING probe (5 s): well inside the documented 30 s
    expect(noticedMs).toBeLessThan(15_000);
    expect(got.has('during')).toBe(false);

    p.pass();
    await waitFor(() => got.has('during'), 30_000, 'the message published during the outage');
    await producer.publish(topic, 'after');
    await waitFor(() => got.has('after'), 10_000, 'the message after the outage');
    // the silenced connection and the dials that timed out into the silence are all closed
    await waitFor(() => p.open === 1, 10_000, 'one open connection through the proxy');
  });

  it('a delivery held while the connection is silent past ack_wait loses its lease (LEASE_LOST) and comes back with attempt 2', {
    timeout: 60_000,
  }, async () => {
    const p = await proxy();
    const t = await createTransport(
      new URL(`nats://${p.address}?ackWaitMs=1500&connectTimeoutMs=1000&reconnectWaitMs=200`),
      { onError: () => {} },
    );
    const producer = await createTransport(new URL(direct()), { onError: () => {} });
    try {
      const topic = freshName('lease');
      await producer.declare(topic, ['g']);
      const inbox = new Inbox<Delivery>();
      // prefetch 2: a pull request keeps waiting, so its missed heartbeats reveal the silence
      await t.subscribe(topic, 'g', { prefetch: 2, ordered: false }, inbox.sink);
      await producer.publish(topic, [wireMessage('held')]);
      const held = await inbox.next(10_000, 'the delivery');
      expect(held.lease?.aborted).toBe(false);
      p.blackhole();
      await waitFor(() => held.lease?.aborted === true, 20_000, 'the lease to be lost');
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

  it('with no consumer waiting, the client PINGs notice a silent connection (pingIntervalMs × maxPingOut)', {
    timeout: 30_000,
  }, async () => {
    const p = await proxy();
    const errors: Error[] = [];
    await open(`nats://${p.address}?pingIntervalMs=1000&maxPingOut=2&connectTimeoutMs=1000`, errors);
    p.blackhole();
    const silentAt = Date.now();
    await waitFor(() => connectionErrors(errors) > 0, 15_000, 'onError(CONNECTION)');
    expect(Date.now() - silentAt).toBeLessThan(8_000);
  });

  it('connect to a silent endpoint fails within connectTimeoutMs and leaves no socket open', {
    timeout: 30_000,
  }, async () => {
    const p = await proxy();
    p.blackhole();
    const started = Date.now();
    const error = await createTransport(new URL(`nats://${p.address}`), {
      onError: () => {},
      connectTimeoutMs: 1_500,
    }).catch((e: unknown) => e);
    const tookMs = Date.now() - started;
    expect(error).toBeInstanceOf(CarrierError);
    expect(['TIMEOUT', 'CONNECTION']).toContain((error as CarrierError).code);
    expect(tookMs).toBeLessThan(5_000);
    await waitFor(() => p.open === 0, 5_000, 'the client to close its socket');
  });

  it('closing a member gives back at once, with the same attempt, what it pulled and did not handle', {
    timeout: 30_000,
  }, async () => {
    const topic = freshName('handback');
    const a = await open(`${direct()}?ackWaitMs=30000`);
    const b = await open(`${direct()}?ackWaitMs=30000`);
    const hold = gate();
    const seenByA: string[] = [];
    // ack_wait is long (30 s): anything not given back would reach B only after it
    const subA = await a.subscribe(topic, { group: 'g', concurrency: 1, prefetch: 10 }, async (m) => {
      seenByA.push(m.body as string);
      await hold.promise;
    });
    await a.publishBatch(
      topic,
      Array.from({ length: 5 }, (_, i) => ({ body: `m${i}` })),
    );
    await waitFor(() => seenByA.length === 1, 10_000, 'A to start on the first message');
    const closing = subA.close();
    hold.open();
    await closing;
    const seenByB = new Map<string, number>();
    const started = Date.now();
    await b.subscribe(topic, { group: 'g' }, (m) => {
      seenByB.set(m.body as string, m.attempt);
    });
    const expected = 5 - seenByA.length;
    await waitFor(() => seenByB.size >= expected, 5_000, `B to get the ${expected} messages A gave back`);
    expect(Date.now() - started).toBeLessThan(5_000);
    for (const attempt of seenByB.values()) expect(attempt).toBe(1);
  });

  it('messages the server sent for a pull request as the member stopped are given back at once', {
    timeout: 30_000,
  }, async () => {
    const topic = freshName('late');
    const t1 = await createTransport(new URL(direct()), { onError: () => {} });
    const t2 = await createTransport(new URL(direct()), { onError: () => {} });
    try {
      await t1.declare(topic, ['g']);
      const a = new Inbox<Delivery>();
      // a pull request for 20 waits at the server; the publish below races with stop()
      const subA = await t1.subscribe(topic, 'g', { prefetch: 20, ordered: false }, a.sink);
      const ids = Array.from({ length: 20 }, (_, i) => `late-${i}`);
      await t2.publish(
        topic,
        ids.map((id) => wireMessage(id)),
      );
      await subA.stop();
      // what was handed over is released, as core does at shutdown
      await Promise.all(a.items.map((d) => d.release()));
      await subA.close();
      const b = new Inbox<Delivery>();
      await t2.subscribe(topic, 'g', { prefetch: 20, ordered: false }, b.sink);
      const seen = new Map<string, number>();
      for (let i = 0; i < ids.length; i++) {
        const d = await b.next(5_000, `message ${i + 1} of ${ids.length} at B`);
        seen.set(d.message.id, d.attempt);
        await d.ack();
      }
      expect([...seen.keys()].sort()).toEqual([...ids].sort());
      expect([...seen.values()].every((attempt) => attempt === 1)).toBe(true);
    } finally {
      await Promise.allSettled([t1.close(), t2.close()]);
    }
  });
  it('a connection reset mid-publish: publish rejects naming only unconfirmed messages, and every confirmed one is delivered', {
    timeout: 60_000,
  }, async () => {
    const p = await proxy();
    const t = await createTransport(
      new URL(`nats://${p.address}?requestTimeoutMs=3000&reconnectWaitMs=100`),
      { onError: () => {} },
    );
    const other = await createTransport(new URL(direct()), { onError: () => {} });
    try {
      const topic = freshName('reset');
      await other.declare(topic, ['g']);
      const ids = Array.from({ length: 2_000 }, (_, i) => `reset-${i}`);
      p.resetAfter(50_000);
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
