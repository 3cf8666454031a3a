import { createTransport } from '@carrier/adapter-kafka';
import { freshName, waitFor } from '@carrier/contract';
import { type Carrier, CarrierError, connect, type Delivery, type Message } from '@carrier/core';
import { afterEach, describe, expect, inject, it } from 'vitest';
import '../src/context.js';

// A member joining the group while another member's handler runs makes Kafka rebalance. The
// partition being revoked waits for its handlers (up to the rebalance timeout less a margin) and
// commits what they settled before it is given up, so the message runs on one member, once. Past
// the rebalance timeout the member's lease is aborted with LEASE_LOST and the message comes back,
// its lost delivery counted.

const SESSION = 'sessionTimeoutMs=6000&heartbeatIntervalMs=500';

describe('kafka rebalance', () => {
  const open: Carrier[] = [];
  const transports: { close(): Promise<void> }[] = [];
  afterEach(async () => {
    await Promise.allSettled(open.splice(0).map((c) => c.close()));
    await Promise.allSettled(transports.splice(0).map((t) => t.close()));
  });

  it('a member joining during a long handler never runs the message on two members', {
    timeout: 90_000,
  }, async () => {
    // one partition: the rebalance hands it to either member; both outcomes must handle it once
    const url = `${inject('brokers').kafka}?partitions=1&${SESSION}`;
    const HANDLER_MS = 8_000;
    const cases = [
      { key: 'k', ordered: true },
      { key: 'k', ordered: false },
      { key: undefined, ordered: false },
      { key: undefined, ordered: true },
    ];
    const a = await connect(url);
    const b = await connect(url);
    open.push(a, b);
    const runs = await Promise.all(
      cases.map(async ({ key, ordered }) => {
        const topic = freshName('rebalance');
        const starts: string[] = [];
        let running = 0;
        let overlap = 0;
        const handler = (member: string) => async (m: Message) => {
          starts.push(`${member}:${m.id}@${m.attempt}`);
          running++;
          if (running > 1) overlap++;
          try {
            if (m.id === 'long') await new Promise((resolve) => setTimeout(resolve, HANDLER_MS));
          } finally {
            running--;
          }
        };
        await a.subscribe(topic, { group: 'g', ordered }, handler('A'));
        await a.publish(topic, { n: 1 }, { id: 'long', ...(key ? { key } : {}) });
        await waitFor(() => starts.length === 1, 30_000, 'A starts the long handler');
        await new Promise((resolve) => setTimeout(resolve, 2_000));
        await b.subscribe(topic, { group: 'g', ordered }, handler('B')); // joins: the group rebalances
        // a later message proves the group consumes again after the rebalance
        await b.publish(topic, { n: 2 }, { id: 'after', ...(key ? { key } : {}) });
        await waitFor(() => starts.some((s) => s.includes(':after@')), 30_000, 'the later message');
        await waitFor(() => running === 0, 30_000, 'handlers finished');
        await new Promise((resolve) => setTimeout(resolve, 1_000)); // room for a wrong redelivery
        return { key, ordered, starts, overlap };
      }),
    );
    for (const run of runs) {
      expect(
        run.starts.filter((s) => s.includes(':long@')),
        `key ${run.key ?? 'none'}, ordered ${run.ordered}`,
      ).toEqual(['A:long@1']);
      expect(run.overlap).toBe(0);
    }
  });

  it('past the rebalance timeout the lease is aborted with LEASE_LOST and the message comes back with attempt 2', {
    timeout: 60_000,
  }, async () => {
    // rebalanceTimeoutMs = sessionTimeoutMs = 6 s: the revoked partition waits 3 s at most
    const url = new URL(`${inject('brokers').kafka}?partitions=1&${SESSION}&rebalanceTimeoutMs=6000`);
    const errorsA: Error[] = [];
    const tA = await createTransport(url, { onError: (e) => errorsA.push(e) });
    const tB = await createTransport(url, { onError: () => {} });
    transports.push(tA, tB);
    const topic = freshName('lease');
    const seen: { member: string; delivery: Delivery }[] = [];
    const sink = (member: string) => (delivery: Delivery) => {
      seen.push({ member, delivery }); // never settled: a handler that outlives the rebalance timeout
    };
    await tA.subscribe(topic, 'g', { prefetch: 4, ordered: false }, sink('A'));
    await tA.publish(topic, [
      {
        id: 'slow',
        headers: {},
        contentType: 'text/plain',
        body: new TextEncoder().encode('x'),
        publishedAt: new Date(),
      },
    ]);
    await waitFor(() => seen.length === 1, 30_000, 'A gets the message');
    const first = seen[0]!.delivery;
    expect(first.attempt).toBe(1);
    void tB.subscribe(topic, 'g', { prefetch: 4, ordered: false }, sink('B')).catch(() => {});
    await waitFor(() => first.lease?.aborted === true, 30_000, 'the lease of A aborted');
    const reason = first.lease?.reason as unknown;
    expect(reason).toBeInstanceOf(CarrierError);
    expect((reason as CarrierError).code).toBe('LEASE_LOST');
    expect(errorsA).toEqual([]); // core reports LEASE_LOST per delivery; the transport does not repeat it
    await waitFor(() => seen.length === 2, 30_000, 'the message handed out again');
    expect(seen[1]!.delivery.message.id).toBe('slow');
    expect(seen[1]!.delivery.attempt).toBe(2);
    await seen[1]!.delivery.ack();
  });
});
