import type { Carrier, Message } from '@carrier/core';
import { expect } from 'vitest';
import type { ContractCase } from '../case.js';
import { expectCode } from '../expect-code.js';
import { freshName, gate, sleep } from '../support.js';

const theme = 'subscribe and close';

export const closeDrains: ContractCase = {
  name: 'close drains in-flight handlers and a new consumer gets only the rest',
  theme,
  async run({ carrier, until }) {
    const c = await carrier();
    const topic = freshName('drain');
    const handled: string[] = [];
    const started: string[] = [];
    const hold = gate();
    const sub = await c.subscribe(topic, { group: 'g', concurrency: 2 }, async (m) => {
      started.push(m.id);
      await hold.promise;
      handled.push(m.id);
    });
    const ids = (
      await c.publishBatch(
        topic,
        Array.from({ length: 10 }, (_, i) => ({ body: i })),
      )
    ).map((r) => r.id);
    await until(() => started.length >= 1, 'a handler to start');
    let closed = false;
    const closing = sub.close().then(() => {
      closed = true;
    });
    await new Promise((resolve) => setImmediate(resolve));
    expect(closed, 'close waits for in-flight handlers').toBe(false);
    hold.open();
    await closing;
    expect(handled.length).toBe(started.length);
    const rest: string[] = [];
    const c2 = await carrier();
    await c2.subscribe(topic, { group: 'g', concurrency: 4 }, (m) => {
      rest.push(m.id);
    });
    await until(() => new Set([...handled, ...rest]).size >= 10, 'the remaining messages');
    expect(new Set([...handled, ...rest])).toEqual(new Set(ids));
    expect(
      rest.filter((id) => handled.includes(id)),
      'settled messages delivered again',
    ).toEqual([]);
  },
};

export const closedRejects: ContractCase = {
  name: 'rejects publish and subscribe after close with CLOSED',
  theme,
  async run({ carrier }) {
    const c = await carrier();
    await c.close();
    await expectCode(c.publish(freshName('closed'), 'x'), 'CLOSED');
    await expectCode(
      c.subscribe(freshName('closed'), { group: 'g' }, () => {}),
      'CLOSED',
    );
  },
};

/** Subscribe a fresh member of `group`, publish one message and expect it there with attempt 1. */
async function expectNextMemberGetsOne(
  carrier: () => Promise<Carrier>,
  until: (condition: () => boolean, what: string) => Promise<void>,
  topic: string,
): Promise<void> {
  const c = await carrier();
  const got: Message[] = [];
  await c.subscribe(topic, { group: 'g' }, (m) => {
    got.push(m);
  });
  const { id } = await c.publish(topic, { after: 'close' });
  await until(() => got.some((m) => m.id === id), 'a message to the next member');
  expect(
    got.map((m) => `${m.id === id ? 'the message' : m.id}@${m.attempt}`),
    'what the next member got',
  ).toEqual(['the message@1']);
}

export const closeTwice: ContractCase = {
  name: 'close() twice: a subscription and a connection close once, the second call resolves too',
  theme,
  async run({ carrier, until }) {
    const c = await carrier();
    const topic = freshName('close-twice');
    const sub = await c.subscribe(topic, { group: 'g' }, () => {});
    await sub.close();
    await sub.close();
    await c.close();
    await c.close();
    await expectCode(c.publish(topic, 'x'), 'CLOSED');
    await expectNextMemberGetsOne(carrier, until, topic);
  },
};

export const tenClosesAtOnce: ContractCase = {
  name: 'ten closes at once: of ten subscriptions, of one subscription, of one connection',
  theme,
  async run({ carrier, until }) {
    const c = await carrier();
    const topic = freshName('ten-closes');
    const subs = await Promise.all(
      Array.from({ length: 10 }, () => c.subscribe(topic, { group: 'g' }, () => {})),
    );
    await Promise.all(subs.map((s) => s.close()));
    const one = await c.subscribe(topic, { group: 'g' }, () => {});
    await Promise.all(Array.from({ length: 10 }, () => one.close()));
    await c.subscribe(topic, { group: 'g' }, () => {});
    await Promise.all(Array.from({ length: 10 }, () => c.close()));
    await expectCode(c.publish(topic, 'x'), 'CLOSED');
    await expectNextMemberGetsOne(carrier, until, topic);
  },
};

export const tenConnectionsCloseAtOnce: ContractCase = {
  name: 'ten connections subscribe and close at once; a later member gets every message published after',
  theme,
  async run({ carrier, until }) {
    const topic = freshName('ten-conns');
    await Promise.all(
      Array.from({ length: 10 }, async () => {
        const c = await carrier();
        await c.subscribe(topic, { group: 'g' }, () => {
          throw new Error('a closed member got a message');
        });
        await c.close();
      }),
    );
    const publisher = await carrier();
    const ids = (
      await publisher.publishBatch(
        topic,
        Array.from({ length: 50 }, (_, i) => ({ body: i })),
      )
    ).map((r) => r.id);
    const c = await carrier();
    const got: Message[] = [];
    await c.subscribe(topic, { group: 'g', concurrency: 4 }, (m) => {
      got.push(m);
    });
    await until(() => new Set(got.map((m) => m.id)).size >= ids.length, `${ids.length} messages`);
    expect(got.map((m) => m.id).sort()).toEqual([...ids].sort());
    expect(got.filter((m) => m.attempt !== 1).map((m) => `${m.id}@${m.attempt}`)).toEqual([]);
  },
};

export const closeRightAfterSubscribe: ContractCase = {
  name: 'close right after subscribe resolves, and nothing is lost or charged',
  theme,
  async run({ carrier, until, note, options: { releaseChargesAttempt } }) {
    const c = await carrier();
    const topic = freshName('close-early');
    await c.declare(topic, ['g']);
    const early = (
      await c.publishBatch(
        topic,
        Array.from({ length: 5 }, (_, i) => ({ body: { early: i } })),
      )
    ).map((r) => r.id);
    const seen: Message[] = [];
    for (let i = 0; i < 3; i++) {
      // close in the same tick as subscribe resolves: deliveries may be on their way, one may be
      // running (it finishes and is acked), the prefetched ones are given back
      await c
        .subscribe(topic, { group: 'g', concurrency: 1, prefetch: 4 }, async (m) => {
          seen.push(m);
          await sleep(20);
        })
        .then((s) => s.close());
    }
    const next = await carrier();
    const got: Message[] = [];
    await next.subscribe(topic, { group: 'g', concurrency: 4 }, (m) => {
      got.push(m);
    });
    const { id: late } = await next.publish(topic, { after: 'the short-lived members' });
    const all = () => [...seen, ...got];
    await until(
      () => [...early, late].every((id) => all().some((m) => m.id === id)),
      'every message, by a short-lived member or the next',
    );
    expect(
      all()
        .map((m) => m.id)
        .sort(),
      'each message handled once',
    ).toEqual([...early, late].sort());
    // a transport documented to charge a release (SQS FIFO) charges one per short-lived member at most
    const most = releaseChargesAttempt ? 4 : 1;
    expect(
      all()
        .filter((m) => m.attempt > most)
        .map((m) => `${m.id}@${m.attempt}`),
      `handled with attempt > ${most}`,
    ).toEqual([]);
    const charged = all().filter((m) => m.attempt > 1).length;
    if (charged > 0)
      await note(`${charged} of ${all().length} handled with a charged attempt (releaseChargesAttempt)`);
  },
};

export const subscribeCloseRounds: ContractCase = {
  name: 'repeated subscribe/close rounds of one group lose and repeat nothing',
  theme,
  async run({ carrier, until, sizes }) {
    const c = await carrier();
    const topic = freshName('rounds');
    await c.declare(topic, ['g']);
    const got: Message[] = [];
    const ids: string[] = [];
    for (let round = 0; round < sizes.rounds; round++) {
      const sub = await c.subscribe(topic, { group: 'g', concurrency: 2 }, (m) => {
        got.push(m);
      });
      const batch = await c.publishBatch(
        topic,
        Array.from({ length: 3 }, (_, i) => ({ body: { round, i } })),
      );
      ids.push(...batch.map((r) => r.id));
      await until(() => batch.every((r) => got.some((m) => m.id === r.id)), `round ${round + 1}`);
      await sub.close();
    }
    // a member after the rounds gets its own message and nothing the rounds settled
    await expectNextMemberGetsOne(carrier, until, topic);
    expect(got.map((m) => m.id).sort(), 'handled in the rounds').toEqual([...ids].sort());
    expect(got.filter((m) => m.attempt !== 1).map((m) => `${m.id}@${m.attempt}`)).toEqual([]);
  },
};

export const closeWithPublishesInFlight: ContractCase = {
  name: 'close() lets publishes in flight finish: every one resolves and is delivered',
  theme,
  async run({ carrier, until }) {
    const c = await carrier();
    const topic = freshName('close-publishing');
    await c.declare(topic, ['g']);
    const count = 100;
    const outcomes = Array.from({ length: count }, (_, i) =>
      c.publish(topic, { i }).then(
        (r) => ({ ok: true as const, id: r.id }),
        (error: unknown) => ({ ok: false as const, error: String(error) }),
      ),
    );
    await c.close();
    const settled = await Promise.all(outcomes);
    expect(
      settled.filter((o) => !o.ok),
      'publishes in flight that close() cut off',
    ).toEqual([]);
    await expectCode(c.publish(topic, 'after close'), 'CLOSED');
    const ids = settled.flatMap((o) => (o.ok ? [o.id] : []));
    const c2 = await carrier();
    const got = new Set<string>();
    await c2.subscribe(topic, { group: 'g', concurrency: 8, prefetch: 16 }, (m) => {
      got.add(m.id);
    });
    await until(() => got.size >= count, `all ${count} messages`);
    expect([...got].sort()).toEqual([...ids].sort());
  },
};
