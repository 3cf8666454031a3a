import { createTransport } from '@carrier/adapter-rabbitmq';
import { freshName } from '@carrier/contract';
import { type Carrier, connect, type Delivery, type Transport } from '@carrier/core';
import { afterEach, describe, expect, inject, it } from 'vitest';
import '../src/context.js';
import { expectCloseGivesBack, Inbox, spawnHolder, wireMessage } from './attempt-child-support.js';

// Delivery.attempt on RabbitMQ at the transport SPI, on both queue types. Quorum queues count
// returns in x-delivery-count (3.10 counts a nack-requeue too); classic queues only flag
// `redelivered`, so the transport keeps the count in a copy's `carrier-attempt` header. Either way a
// release must keep the attempt and every crash (abort, SIGKILL) must add one, without limit.

const open: Transport[] = [];
const carriers: Carrier[] = [];
afterEach(async () => {
  await Promise.allSettled(open.splice(0).map((t) => t.close()));
  await Promise.allSettled(carriers.splice(0).map((c) => c.close()));
});

for (const queueType of ['quorum', 'classic'] as const) {
  const url = () => `${inject('brokers').rabbitmq}?queueType=${queueType}`;
  async function transport(): Promise<Transport> {
    const t = await createTransport(new URL(url()), { onError: () => {} });
    open.push(t);
    return t;
  }
  async function subscribe(
    t: Transport,
    topic: string,
  ): Promise<Inbox<Delivery> & { stop(): Promise<void> }> {
    const inbox = new Inbox<Delivery>();
    const sub = await t.subscribe(topic, 'g', { prefetch: 1, ordered: false }, inbox.sink);
    return Object.assign(inbox, { stop: () => sub.stop() });
  }

  describe(`rabbitmq attempts (${queueType} queues)`, () => {
    it('release() keeps the attempt; every abort() and SIGKILL of the consumer adds one, across processes', {
      timeout: 60_000,
    }, async () => {
      const topic = freshName(`attempts-${queueType}`);
      const id = freshName('m');
      const first = await transport();
      await first.declare(topic, ['g']);
      await first.publish(topic, [wireMessage(id)]);

      // released twice: still attempt 1
      const a = await subscribe(first, topic);
      const d1 = await a.next(10_000);
      expect(d1.attempt).toBe(1);
      await d1.release();
      const d2 = await a.next(5_000, 'the released delivery');
      expect(d2.attempt).toBe(1);
      await d2.release();
      expect((await a.next(5_000)).attempt).toBe(1);

      // abort() (a crash stand-in) three times in a row: 2, 3, 4 — the count does not stop at 2
      let holder = first;
      for (const expected of [2, 3, 4]) {
        await holder.abort();
        holder = await transport();
        const inbox = await subscribe(holder, topic);
        const next = await inbox.next(10_000, `attempt ${expected}`);
        expect(next.message.id).toBe(id);
        expect(next.attempt).toBe(expected);
        if (expected === 4) {
          // released at shutdown (stop, release, close, as core does): another process sees the same attempt
          await inbox.stop();
          await next.release();
        }
      }
      await holder.close();

      // a child process gets it (attempt 4) and is killed with SIGKILL: the next member sees 5
      const child = spawnHolder('@carrier/adapter-rabbitmq', url(), topic, 'g');
      try {
        expect(await child.first).toEqual({ attempt: 4, id });
      } finally {
        await child.kill();
      }
      const last = await transport();
      const c = await subscribe(last, topic);
      const afterKill = await c.next(10_000, 'the redelivery after SIGKILL');
      expect(afterKill.attempt).toBe(5);
      // a retry charges one as before
      await afterKill.retry(0);
      const retried = await c.next(5_000, 'the retried delivery');
      expect(retried.attempt).toBe(6);
      await retried.ack();
      expect(await c.quietFor(300)).toBe(true);
    });

    it('an ordered group: a release at close() keeps the attempt, a crash after a release adds exactly one', {
      timeout: 60_000,
    }, async () => {
      // an ordered group gives back by closing its channel (the queue keeps its order), which the
      // broker counts like a crash; the release ledger must tell the next member which returns
      // were releases
      const topic = freshName(`ordered-attempts-${queueType}`);
      const id = freshName('m');
      const member = async () => {
        const t = await transport();
        const inbox = new Inbox<Delivery>();
        const sub = await t.subscribe(topic, 'g', { prefetch: 1, ordered: true }, inbox.sink);
        return { t, inbox, sub };
      };
      const releaseAtClose = async (m: Awaited<ReturnType<typeof member>>) => {
        const d = await m.inbox.next(10_000, 'the delivery to release');
        await m.sub.stop();
        await d.release();
        await m.sub.close();
        return d.attempt;
      };
      const first = await member();
      await first.t.publish(topic, [wireMessage(id)]);
      expect(await releaseAtClose(first)).toBe(1);
      expect(await releaseAtClose(await member())).toBe(1);
      // a crash (abort) after two releases: exactly one attempt more
      const crashing = await member();
      expect((await crashing.inbox.next(10_000, 'the delivery before the crash')).attempt).toBe(1);
      await crashing.t.abort();
      expect(await releaseAtClose(await member())).toBe(2);
      // SIGKILL of a child after a release: one more
      const child = spawnHolder('@carrier/adapter-rabbitmq', url(), topic, 'g', true);
      try {
        expect(await child.first).toEqual({ attempt: 2, id });
      } finally {
        await child.kill();
      }
      const last = await member();
      const d = await last.inbox.next(10_000, 'the redelivery after SIGKILL');
      expect(d.message.id).toBe(id);
      expect(d.attempt).toBe(3);
      await d.ack();
      expect(await last.inbox.quietFor(300)).toBe(true);
    });

    it("an ordered group: a crashed member's delivery comes back, counted, ahead of later messages of its key", {
      timeout: 30_000,
    }, async () => {
      const topic = freshName(`ordered-crash-${queueType}`);
      const ids = [freshName('m1'), freshName('m2'), freshName('m3')];
      const member = async (prefetch: number) => {
        const t = await transport();
        const inbox = new Inbox<Delivery>();
        await t.subscribe(topic, 'g', { prefetch, ordered: true }, inbox.sink);
        return { t, inbox };
      };
      const a = await member(1);
      await a.t.publish(
        topic,
        ids.map((id) => ({ ...wireMessage(id), key: 'k' })),
      );
      const first = await a.inbox.next(10_000, 'the first message');
      expect([first.message.id, first.attempt]).toEqual([ids[0], 1]);
      await a.t.abort();
      const b = await member(10);
      const seen: string[] = [];
      for (const expected of ids) {
        const d = await b.inbox.next(10_000, `message ${expected}`);
        seen.push(`${d.message.id}@${d.attempt}`);
        await d.ack();
      }
      expect(seen).toEqual([`${ids[0]}@2`, `${ids[1]}@1`, `${ids[2]}@1`]);
    });

    it('closing a member gives back at once, with the same attempt, what it received and did not handle', {
      timeout: 30_000,
    }, async () => {
      const a = await connect(url());
      const b = await connect(url());
      carriers.push(a, b);
      await expectCloseGivesBack(a, b, `handback-${queueType}`);
    });
  });
}
