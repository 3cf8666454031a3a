import type { Carrier, Message } from '@carrier/core';
import { expect } from 'vitest';
import type { ContractCase } from '../case.js';
import { expectCode } from '../expect-code.js';
import { freshName, sleep } from '../support.js';

const theme = 'where a group starts';

const KEYS = 4;
const PER_KEY = 5;

/** Publishes `KEYS` × `PER_KEY` keyed messages, interleaved by key; resolves with their ids in publish order. */
async function publishKeyed(c: Carrier, topic: string, phase: string): Promise<string[]> {
  const entries = [];
  for (let seq = 0; seq < PER_KEY; seq++)
    for (let k = 0; k < KEYS; k++)
      entries.push({ body: { phase, key: `key-${k}`, seq }, key: `key-${k}`, id: `${phase}-${k}-${seq}` });
  return (await c.publishBatch(topic, entries)).map((r) => r.id);
}

/** The `seq`s of `key` in the order they were received (first receipts only). */
function seqsOf(got: readonly Message[], key: string): number[] {
  const seen = new Set<string>();
  const seqs: number[] = [];
  for (const m of got) {
    if (m.key !== key || seen.has(m.id)) continue;
    seen.add(m.id);
    seqs.push((m.body as { seq: number }).seq);
  }
  return seqs;
}

export const startFromEarliest: ContractCase = {
  name: "a new group with startFrom 'earliest' gets the messages published before it existed",
  theme,
  needs: ['replay', 'fanOut'],
  async run({ carrier, until, note }) {
    const publisher = await carrier();
    const reader = await carrier();
    const topic = freshName('earliest');
    await publisher.declare(topic, ['first']);
    const before = await publishKeyed(publisher, topic, 'before');
    const ordered = reader.capabilities.perKeyOrder;
    const got: Message[] = [];
    await reader.subscribe(topic, { group: 'late', startFrom: 'earliest', ordered }, (m) => {
      got.push(m);
    });
    const after = await publishKeyed(publisher, topic, 'after');
    const ids = () => new Set(got.map((m) => m.id));
    await until(() => [...before, ...after].every((id) => ids().has(id)), 'every message, before and after');
    if (ordered) {
      // per key: the messages published before, then those published after, each in publish order
      const expected = [
        ...Array.from({ length: PER_KEY }, (_, i) => i),
        ...Array.from({ length: PER_KEY }, (_, i) => i),
      ];
      for (let k = 0; k < KEYS; k++) expect(seqsOf(got, `key-${k}`), `order of key-${k}`).toEqual(expected);
    } else {
      await note('capabilities.perKeyOrder is false: arrival checked, order not');
    }
  },
};

export const startFromNow: ContractCase = {
  name: "a new group with startFrom 'now' gets only what is published after it exists",
  theme,
  needs: ['fanOut'],
  async run({ carrier, until }) {
    const publisher = await carrier();
    const reader = await carrier();
    const topic = freshName('now');
    await publisher.declare(topic, ['first']);
    const before = await publishKeyed(publisher, topic, 'before');
    const got: Message[] = [];
    await reader.subscribe(topic, { group: 'late', startFrom: 'now' }, (m) => {
      got.push(m);
    });
    const after = await publishKeyed(publisher, topic, 'after');
    await until(() => after.every((id) => got.some((m) => m.id === id)), 'the messages published after');
    await sleep(500); // a message the group should not get would arrive by now
    expect(
      got.filter((m) => before.includes(m.id)).map((m) => m.id),
      'messages published before the group existed',
    ).toEqual([]);
  },
};

export const startFromConflict: ContractCase = {
  name: 'asking an existing group for another start is TOPOLOGY_CONFLICT',
  theme,
  needs: ['replay', 'startFromRecorded'],
  async run({ carrier }) {
    const a = await carrier();
    const b = await carrier();
    const topic = freshName('startconflict');
    await a.declare(topic, ['from-start'], { startFrom: 'earliest' });
    await a.declare(topic, ['from-now'], { startFrom: 'now' });
    // the same connection, and another one (the broker's record, not a connection's memory)
    for (const c of [a, b]) {
      await expectCode(c.declare(topic, ['from-start'], { startFrom: 'now' }), 'TOPOLOGY_CONFLICT');
      await expectCode(c.declare(topic, ['from-now'], { startFrom: 'earliest' }), 'TOPOLOGY_CONFLICT');
      await expectCode(
        c.subscribe(topic, { group: 'from-start', startFrom: 'now' }, () => {}),
        'TOPOLOGY_CONFLICT',
      );
    }
    // the same start, or none, joins the existing group
    await b.declare(topic, ['from-start'], { startFrom: 'earliest' });
    await b.declare(topic, ['from-start', 'from-now']);
    const sub = await b.subscribe(topic, { group: 'from-now' }, () => {});
    await sub.close();
  },
};

export const orderedConflict: ContractCase = {
  name: 'declaring an existing group with the other ordered setting is TOPOLOGY_CONFLICT',
  theme,
  needs: ['perKeyOrder', 'orderedRecorded'],
  async run({ carrier }) {
    const a = await carrier();
    const b = await carrier();
    const topic = freshName('orderconflict');
    await a.declare(topic, ['ordered'], { ordered: true });
    await a.declare(topic, ['competing'], { ordered: false });
    for (const c of [a, b]) {
      await expectCode(c.declare(topic, ['ordered'], { ordered: false }), 'TOPOLOGY_CONFLICT');
      await expectCode(c.declare(topic, ['competing'], { ordered: true }), 'TOPOLOGY_CONFLICT');
      await expectCode(
        c.subscribe(topic, { group: 'competing', ordered: true }, () => {}),
        'TOPOLOGY_CONFLICT',
      );
    }
    // without `ordered`, declare accepts either
    await b.declare(topic, ['ordered', 'competing']);
  },
};
