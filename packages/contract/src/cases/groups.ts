import type { Message } from '@carrier/core';
import { expect } from 'vitest';
import type { ContractCase } from '../case.js';
import { expectCode } from '../expect-code.js';
import { duplicates, freshName, sleep } from '../support.js';

const theme = 'topics and groups';

export const buffersForDeclaredGroup: ContractCase = {
  name: 'buffers for a declared group while no consumer runs',
  theme,
  async run({ carrier, until }) {
    const c = await carrier();
    const topic = freshName('buf');
    const first = await c.subscribe(topic, { group: 'late' }, () => {});
    await first.close();
    await c.declare(topic, ['late']);
    const ids = (
      await c.publishBatch(
        topic,
        Array.from({ length: 10 }, (_, i) => ({ body: { i } })),
      )
    ).map((r) => r.id);
    const c2 = await carrier();
    const got = new Set<string>();
    await c2.subscribe(topic, { group: 'late' }, (m) => {
      got.add(m.id);
    });
    await until(() => got.size >= 10, 'buffered messages');
    expect([...got].sort()).toEqual([...ids].sort());
  },
};

export const fansOut: ContractCase = {
  name: 'fans out: every group gets every message',
  theme,
  async run({ carrier, until }) {
    const c = await carrier();
    const topic = freshName('fan');
    if (!c.capabilities.fanOut) {
      await c.subscribe(topic, { group: 'a' }, () => {});
      await expectCode(c.declare(topic, ['a', 'b']), 'UNSUPPORTED');
      return;
    }
    const a: string[] = [];
    const b: string[] = [];
    await c.subscribe(topic, { group: 'a' }, (m) => {
      a.push(m.id);
    });
    await c.subscribe(topic, { group: 'b' }, (m) => {
      b.push(m.id);
    });
    const ids = (
      await c.publishBatch(
        topic,
        Array.from({ length: 10 }, (_, i) => ({ body: i })),
      )
    ).map((r) => r.id);
    await until(() => a.length >= 10 && b.length >= 10, 'both groups');
    expect([...a].sort()).toEqual([...ids].sort());
    expect([...b].sort()).toEqual([...ids].sort());
  },
};

export const competingConsumers: ContractCase = {
  name: 'competing consumers: each message to one member, both members get work',
  theme,
  needs: ['competingConsumers'],
  async run({ carrier, until }) {
    const c1 = await carrier();
    const c2 = await carrier();
    const topic = freshName('compete');
    const byMember: [string[], string[]] = [[], []];
    const handler = (into: string[]) => async (m: Message) => {
      into.push(m.id);
      await sleep(5);
    };
    await c1.subscribe(topic, { group: 'workers' }, handler(byMember[0]));
    await c2.subscribe(topic, { group: 'workers' }, handler(byMember[1]));
    const ids = (
      await c1.publishBatch(
        topic,
        Array.from({ length: 60 }, (_, i) => ({ body: { i }, key: `key-${i}` })),
      )
    ).map((r) => r.id);
    const all = () => [...byMember[0], ...byMember[1]];
    await until(() => new Set(all()).size >= 60, 'all 60 messages handled');
    expect(new Set(all())).toEqual(new Set(ids));
    expect(duplicates(all()).size, 'messages handled twice').toBe(0);
    expect(byMember[0].length, 'member 1 got work').toBeGreaterThan(0);
    expect(byMember[1].length, 'member 2 got work').toBeGreaterThan(0);
  },
};

export const topicIsolation: ContractCase = {
  name: 'topic isolation: one group name on two topics receives each topic only',
  theme,
  async run({ carrier, until }) {
    const c = await carrier();
    const [x, y] = [freshName('iso-x'), freshName('iso-y')];
    const got: Record<string, Message[]> = { [x]: [], [y]: [] };
    for (const topic of [x, y]) {
      await c.subscribe(topic, { group: 'same' }, (m) => {
        got[topic]!.push(m);
      });
    }
    const sent: Record<string, string[]> = {};
    for (const topic of [x, y]) {
      sent[topic] = (
        await c.publishBatch(
          topic,
          Array.from({ length: 5 }, (_, i) => ({ body: { topic, i } })),
        )
      ).map((r) => r.id);
    }
    await until(() => got[x]!.length >= 5 && got[y]!.length >= 5, 'both subscriptions');
    await sleep(200); // anything leaking across would come now
    for (const topic of [x, y]) {
      expect(got[topic]!.map((m) => m.id).sort(), `ids received on ${topic}`).toEqual(
        [...sent[topic]!].sort(),
      );
      expect(new Set(got[topic]!.map((m) => m.topic)), `Message.topic on ${topic}`).toEqual(new Set([topic]));
    }
  },
};

export const publishWithoutGroup: ContractCase = {
  name: 'publishing to a topic with no group has the documented outcome',
  theme,
  needs: ['publishWithoutGroup'],
  async run({ carrier, until, options, note }) {
    const outcome = options.publishWithoutGroup!;
    const publisher = await carrier();
    const other = await carrier();
    const copies: string[] = [];
    // the group is created later by another connection (a consumer process), or by the publisher itself
    for (const [via, c] of [
      ['another connection', other],
      ['the publishing connection', publisher],
    ] as const) {
      const topic = freshName('nogroup');
      if (outcome === 'refused')
        await expectCode(publisher.publish(topic, 'nobody listens'), 'PUBLISH_FAILED');
      else await publisher.publish(topic, 'nobody listens', { id: 'orphan' });
      const got: Message[] = [];
      await c.subscribe(topic, { group: 'late' }, (m) => {
        got.push(m);
      });
      const { id } = await publisher.publish(topic, 'sentinel');
      await until(() => got.some((m) => m.id === id), `the sentinel (group created by ${via})`);
      if (outcome === 'kept')
        await until(() => got.some((m) => m.id === 'orphan'), `the kept message (${via})`);
      else await sleep(500); // a message the group should not get would arrive by now
      copies.push(`${via}: ${got.filter((m) => m.id === 'orphan').length}`);
    }
    const expected = outcome === 'kept' ? 1 : 0;
    expect(copies, `copies of the message published before any group (${outcome}) a later group got`).toEqual(
      [`another connection: ${expected}`, `the publishing connection: ${expected}`],
    );
    await note(`outcome: ${outcome}`);
  },
};

export const concurrentDeclare: ContractCase = {
  name: 'concurrent declare of new topics: every topic and group is usable',
  theme,
  async run({ carrier, until, sizes }) {
    const c = await carrier();
    const topics = Array.from({ length: sizes.topics }, () => freshName('cdecl'));
    // every topic declared several times at once, from one connection, plus once from another
    const other = await carrier();
    await Promise.all([
      ...topics.flatMap((t) => [c.declare(t, ['g']), c.declare(t, ['g']), c.declare(t, ['g'])]),
      ...topics.map((t) => other.declare(t, ['g'])),
    ]);
    const published = await Promise.all(topics.map((t) => c.publish(t, { t })));
    const got = new Map<string, string[]>();
    await Promise.all(
      topics.map((t) =>
        c.subscribe(t, { group: 'g' }, (m) => {
          got.set(t, [...(got.get(t) ?? []), m.id]);
        }),
      ),
    );
    await until(() => topics.every((t) => (got.get(t)?.length ?? 0) >= 1), 'a message on every topic');
    for (const [i, t] of topics.entries()) expect(got.get(t), `topic ${i}`).toEqual([published[i]!.id]);
  },
};

export const manyTopics: ContractCase = {
  name: 'many topics on one connection: each subscription gets its own topic’s messages',
  theme,
  async run({ carrier, until, sizes }) {
    const c = await carrier();
    const topics = Array.from({ length: sizes.topics }, () => freshName('many-t'));
    const got = new Map<string, Message[]>(topics.map((t) => [t, []]));
    await Promise.all(
      topics.map((t) =>
        c.subscribe(t, { group: 'g', concurrency: 2 }, (m) => {
          got.get(t)!.push(m);
        }),
      ),
    );
    const perTopic = 5;
    const sent = await Promise.all(
      topics.map((t) =>
        c.publishBatch(
          t,
          Array.from({ length: perTopic }, (_, i) => ({ body: { t, i } })),
        ),
      ),
    );
    await until(
      () => topics.every((t) => got.get(t)!.length >= perTopic),
      `${perTopic} messages on each of ${topics.length} topics`,
    );
    for (const [i, t] of topics.entries()) {
      expect(
        got
          .get(t)!
          .map((m) => m.id)
          .sort(),
        `topic ${i}`,
      ).toEqual(sent[i]!.map((r) => r.id).sort());
    }
  },
};

export const manyMembers: ContractCase = {
  name: 'many members of one group on one connection: every message handled once',
  theme,
  needs: ['competingConsumers'],
  async run({ carrier, until, sizes, note, options }) {
    const errors: string[] = [];
    const c = await carrier({ onError: (error) => errors.push(String(error)) });
    const topic = freshName('many-m');
    const handled: Array<{ member: number; id: string }> = [];
    // all at once: on Kafka one rebalance admits them all
    await Promise.all(
      Array.from({ length: sizes.members }, (_, member) =>
        c.subscribe(topic, { group: 'g', concurrency: 2 }, async (m) => {
          handled.push({ member, id: m.id });
          await sleep(2);
        }),
      ),
    );
    const count = sizes.members * 10;
    const ids = (
      await c.publishBatch(
        topic,
        Array.from({ length: count }, (_, i) => ({ body: i, key: `k${i}` })),
      )
    ).map((r) => r.id);
    await until(() => new Set(handled.map((h) => h.id)).size >= count, `${count} messages`);
    expect(new Set(handled.map((h) => h.id))).toEqual(new Set(ids));
    // a duplicate needs a documented cause: a lost lease or failed settlement reported for that message
    const twice = [...duplicates(handled.map((h) => h.id)).keys()];
    const unexplained = twice.filter((id) => !errors.some((e) => e.includes(id)));
    const members = new Set(handled.map((h) => h.member)).size;
    await note(
      `${members} of ${sizes.members} members got work; ${twice.length} handled twice (${unexplained.length} with no reported failure)`,
    );
    if (!options.duplicatesWithoutFailure) {
      expect(
        unexplained,
        `handled twice with no failure reported (errors: ${JSON.stringify(errors)})`,
      ).toEqual([]);
    }
  },
};
