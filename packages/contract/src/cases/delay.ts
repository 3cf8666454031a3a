import type { Carrier } from '@carrier/core';
import { expect } from 'vitest';
import type { CaseContext, ContractCase } from '../case.js';
import { expectCode } from '../expect-code.js';
import { freshName, sleep } from '../support.js';

const theme = 'delayed publish';

/** Timers and clocks may be a few ms apart (a Node.js timer, the broker's clock): allowed early. */
const EARLY_TOLERANCE_MS = 15;
/** Beyond `publishDelayPrecisionMs`, how late a delayed message may be on a loaded CI machine. */
const LATE_MARGIN_MS = 5_000;

interface Arrival {
  readonly group: string;
  readonly id: string;
  readonly attempt: number;
  /** `Date.now()` when the handler ran. */
  readonly at: number;
}

async function record(c: Carrier, topic: string, group: string, into: Arrival[]): Promise<void> {
  await c.subscribe(topic, { group, concurrency: 8 }, (m) => {
    into.push({ group, id: m.id, attempt: m.attempt, at: Date.now() });
  });
}

/**
 * Each message of `due` (id → due time, epoch ms) arrived in each of `groups` exactly once (or
 * more, reported, where the broker duplicates on its own), with attempt 1, not before its due time
 * and not later than the transport's precision plus a margin.
 */
async function checkArrivals(
  { options, note }: Pick<CaseContext, 'options' | 'note'>,
  c: Carrier,
  arrivals: readonly Arrival[],
  groups: readonly string[],
  due: ReadonlyMap<string, number>,
): Promise<void> {
  const precision = c.capabilities.publishDelayPrecisionMs ?? 0;
  const timeline = JSON.stringify(arrivals.map((a) => ({ ...a, due: due.get(a.id) })));
  let latest = 0;
  for (const group of groups) {
    for (const [id, dueAt] of due) {
      const seen = arrivals.filter((a) => a.group === group && a.id === id);
      expect(seen.length, `${id} in ${group}: ${timeline}`).toBeGreaterThanOrEqual(1);
      if (seen.length > 1 && options.duplicatesWithoutFailure) {
        await note(`${id} arrived ${seen.length} times in ${group} (the broker duplicates on its own)`);
      } else {
        expect(seen.length, `${id} once in ${group}: ${timeline}`).toBe(1);
      }
      const first = seen[0]!;
      expect(first.attempt, `attempt of ${id}`).toBe(1);
      expect(first.at, `${id} not before its time in ${group}: ${timeline}`).toBeGreaterThanOrEqual(
        dueAt - EARLY_TOLERANCE_MS,
      );
      expect(first.at, `${id} late by at most the precision in ${group}: ${timeline}`).toBeLessThanOrEqual(
        dueAt + precision + LATE_MARGIN_MS,
      );
      latest = Math.max(latest, first.at - dueAt);
    }
  }
  await note(`latest delayed arrival: ${latest} ms after its time (precision stated: ${precision} ms)`);
}

export const delayedPublish: ContractCase = {
  name: 'delayed publish: no group receives the message before its time, every group once after it',
  theme,
  needs: ['delayedPublish'],
  async run(context) {
    const { carrier, until } = context;
    const c = await carrier();
    const topic = freshName('delay');
    const groups = c.capabilities.fanOut ? ['running', 'later'] : ['running'];
    const arrivals: Arrival[] = [];
    // 'running' consumes throughout; 'later' is only declared and gets a consumer after the due times
    await record(c, topic, 'running', arrivals);
    await c.declare(topic, groups);
    const t0 = Date.now();
    const byDelay = await c.publish(topic, 'in 2 s', { delayMs: 2_000 });
    const deliverAt = new Date(t0 + 3_000);
    const byTime = await c.publish(topic, 'at t0 + 3 s', { deliverAt });
    const now = await c.publish(topic, 'at once');
    await until(() => arrivals.some((a) => a.id === now.id), 'the message published at once');
    const first = arrivals.find((a) => a.id === now.id)!;
    expect(first.at, 'a delayed message holds back no message published after it').toBeLessThan(t0 + 2_000);
    const due = new Map([
      [byDelay.id, t0 + 2_000],
      [byTime.id, deliverAt.getTime()],
    ]);
    const inRunning = () =>
      [...due.keys()].every((id) => arrivals.some((a) => a.group === 'running' && a.id === id));
    await until(inRunning, 'both delayed messages in the running group');
    if (groups.includes('later')) {
      await record(c, topic, 'later', arrivals);
      const inLater = () =>
        [...due.keys()].every((id) => arrivals.some((a) => a.group === 'later' && a.id === id));
      await until(inLater, 'both delayed messages in the group whose consumer started after their time');
    }
    // once: nothing more arrives within the transport's precision and a second
    await sleep((c.capabilities.publishDelayPrecisionMs ?? 0) + 1_000);
    await checkArrivals(context, c, arrivals, groups, due);
  },
};

export const delayedBatch: ContractCase = {
  name: 'delayed publish in a batch: each entry arrives at its own time',
  theme,
  needs: ['delayedPublish'],
  async run(context) {
    const { carrier, until } = context;
    const c = await carrier();
    const topic = freshName('delay-batch');
    const arrivals: Arrival[] = [];
    await record(c, topic, 'g', arrivals);
    const t0 = Date.now();
    const entries = [
      { body: 'late', delayMs: 3_000 },
      { body: 'now' },
      { body: 'soon', delayMs: 1_500, key: 'k1' },
      { body: 'at', deliverAt: new Date(t0 + 2_000), headers: { kind: 'at' } },
      { body: 'zero', delayMs: 0 },
    ];
    const ids = (await c.publishBatch(topic, entries)).map((r) => r.id);
    const due = new Map(ids.map((id, i) => [id, t0 + delayOf(entries[i]!, t0)]));
    await until(() => ids.every((id) => arrivals.some((a) => a.id === id)), 'every entry of the batch');
    await sleep((c.capabilities.publishDelayPrecisionMs ?? 0) + 1_000);
    await checkArrivals(context, c, arrivals, ['g'], due);
  },
};

function delayOf(entry: { delayMs?: number; deliverAt?: Date }, t0: number): number {
  return entry.deliverAt ? entry.deliverAt.getTime() - t0 : (entry.delayMs ?? 0);
}

export const publishDelayRefusals: ContractCase = {
  name: 'delayed publish refusals: INVALID_ARGUMENT for a bad delay, UNSUPPORTED beyond maxPublishDelayMs, nothing sent',
  theme,
  async run({ carrier, until }) {
    const c = await carrier();
    const topic = freshName('delay-refused');
    const got: string[] = [];
    await c.subscribe(topic, { group: 'g' }, (m) => {
      got.push(String(m.body));
    });
    const max = c.capabilities.maxPublishDelayMs ?? 0;
    for (const bad of [-1, Number.NaN, Number.POSITIVE_INFINITY, '5' as unknown as number]) {
      await expectCode(c.publish(topic, 'refused', { delayMs: bad }), 'INVALID_ARGUMENT');
    }
    await expectCode(c.publish(topic, 'refused', { deliverAt: new Date(Number.NaN) }), 'INVALID_ARGUMENT');
    await expectCode(c.publish(topic, 'refused', { deliverAt: 5 as unknown as Date }), 'INVALID_ARGUMENT');
    await expectCode(
      c.publish(topic, 'refused', { delayMs: 10, deliverAt: new Date(Date.now() + 10) }),
      'INVALID_ARGUMENT',
    );
    await expectCode(c.publish(topic, 'refused', { delayMs: max + 1 }), 'UNSUPPORTED');
    await expectCode(
      c.publish(topic, 'refused', { deliverAt: new Date(Date.now() + max + 60_000) }),
      'UNSUPPORTED',
    );
    // one entry beyond the limit refuses the whole batch before anything is sent
    await expectCode(
      c.publishBatch(topic, [{ body: 'refused' }, { body: 'refused', delayMs: max + 1 }]),
      'UNSUPPORTED',
    );
    // no delay, or a time already past: at once, on every transport
    await c.publish(topic, 'zero', { delayMs: 0 });
    await c.publish(topic, 'past', { deliverAt: new Date(Date.now() - 60_000) });
    await until(() => got.length >= 2, 'the messages due at once');
    await sleep(500);
    expect(got.sort()).toEqual(['past', 'zero']);
  },
};
