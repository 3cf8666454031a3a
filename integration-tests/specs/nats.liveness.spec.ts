import { createTransport } from '@carrier/adapter-nats';
import { freshName, waitFor } from '@carrier/contract';
import { type Carrier, CarrierError, connect, type Delivery } from '@carrier/core';
import { afterEach, describe, expect, inject, it } from 'vitest';
import '../src/context.js';
import { startProxy, type TcpProxy } from '../src/proxy.js';
import { natsServers } from '../src/urls.js';
import {
  expectCloseGivesBack,
  expectLeaseLostThenAttempt2,
  Inbox,
  wireMessage,
} from './attempt-child-support.js';

// Liveness on NATS beyond the cross-broker cases of network-faults.spec.ts (silent endpoint at
// connect, silent connection mid-consumption, resets mid-publish): an idle connection's PINGs
// notice a silent network, a delivery held across a silent connection loses its lease, and a
// stopping member gives back at once what it pulled.

const direct = () => inject('brokers').nats;
const carriers: Carrier[] = [];
const proxies: TcpProxy[] = [];

async function proxy(): Promise<TcpProxy> {
  const p = await startProxy(natsServers(direct())[0]!);
  proxies.push(p);
  return p;
}

async function open(url: string, errors: Error[] = []): Promise<Carrier> {
  const c = await connect(url, { onError: (e) => errors.push(e) });
  carriers.push(c);
  return c;
}

afterEach(async () => {
  await Promise.allSettled(carriers.splice(0).map((c) => c.close()));
  await Promise.allSettled(proxies.splice(0).map((p) => p.close()));
});

describe('nats liveness', () => {
  it('a delivery held while the connection is silent past ack_wait loses its lease (LEASE_LOST) and comes back with attempt 2', {
    timeout: 60_000,
  }, async () => {
    const p = await proxy();
    const t = await createTransport(
      // client PINGs every second: the silence is noticed in ~3 s rather than by missed pull heartbeats
      new URL(
        `nats://${p.address}?ackWaitMs=1500&connectTimeoutMs=1000&reconnectWaitMs=200&pingIntervalMs=1000&maxPingOut=2`,
      ),
      { onError: () => {} },
    );
    const producer = await createTransport(new URL(direct()), { onError: () => {} });
    try {
      // prefetch 2: a pull request keeps waiting, so its missed heartbeats reveal the silence
      await expectLeaseLostThenAttempt2(p, t, producer, { prefetch: 2, leaseLostMs: 20_000 });
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
    p.setMode('blackhole');
    const silentAt = Date.now();
    await waitFor(
      () => errors.some((e) => e instanceof CarrierError && e.code === 'CONNECTION'),
      15_000,
      'onError(CONNECTION)',
    );
    expect(Date.now() - silentAt).toBeLessThan(8_000);
  });

  it('closing a member gives back at once, with the same attempt, what it pulled and did not handle', {
    timeout: 30_000,
  }, async () => {
    // ack_wait is long (30 s): anything not given back would reach the other member only after it
    const a = await open(`${direct()}?ackWaitMs=30000`);
    const b = await open(`${direct()}?ackWaitMs=30000`);
    await expectCloseGivesBack(a, b);
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
});
