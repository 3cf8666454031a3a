import { describe, expect, it } from 'vitest';
import { KeyedScheduler } from './keyed-scheduler.js';

/** A task per item whose completion the test controls. */
function harness(concurrency: number) {
  const started: string[] = [];
  const finish = new Map<string, () => void>();
  const scheduler = new KeyedScheduler<string>(concurrency, (item) => {
    started.push(item);
    return new Promise<void>((resolve) => finish.set(item, resolve));
  });
  const done = async (item: string) => {
    finish.get(item)!();
    await new Promise((resolve) => setTimeout(resolve, 0));
  };
  return { scheduler, started, done };
}

describe('KeyedScheduler', () => {
  it('runs at most `concurrency` tasks at a time, in push order', async () => {
    const { scheduler, started, done } = harness(2);
    for (const item of ['a', 'b', 'c', 'd']) scheduler.push(undefined, item);
    expect(started).toEqual(['a', 'b']);
    expect(scheduler.running).toBe(2);
    expect(scheduler.queued).toBe(2);
    await done('b');
    expect(started).toEqual(['a', 'b', 'c']);
    await done('a');
    expect(started).toEqual(['a', 'b', 'c', 'd']);
    expect(scheduler.queued).toBe(0);
  });

  it('runs tasks of one key one at a time, in push order, while other keys pass them', async () => {
    const { scheduler, started, done } = harness(3);
    scheduler.push('k', 'k1');
    scheduler.push('k', 'k2');
    scheduler.push('j', 'j1');
    scheduler.push(undefined, 'x');
    expect(started).toEqual(['k1', 'j1', 'x']);
    await done('j1');
    expect(started).toEqual(['k1', 'j1', 'x']); // k2 waits for k1, not for a slot
    await done('k1');
    expect(started).toEqual(['k1', 'j1', 'x', 'k2']);
  });

  it('a task that throws frees its slot and its key', async () => {
    const started: string[] = [];
    const scheduler = new KeyedScheduler<string>(1, async (item) => {
      started.push(item);
      if (item === 'bad') throw new Error('task failed');
    });
    scheduler.push('k', 'bad');
    scheduler.push('k', 'next');
    await scheduler.idle();
    await new Promise((resolve) => setTimeout(resolve, 0));
    await scheduler.idle();
    expect(started).toEqual(['bad', 'next']);
    expect(scheduler.running).toBe(0);
  });

  it('drainPending() removes the tasks not started and returns them in order', async () => {
    const { scheduler, started, done } = harness(1);
    for (const item of ['a', 'b', 'c']) scheduler.push(undefined, item);
    expect(scheduler.drainPending()).toEqual(['b', 'c']);
    expect(scheduler.queued).toBe(0);
    await done('a');
    expect(started).toEqual(['a']);
  });

  it('idle() resolves when every started task has finished', async () => {
    const { scheduler, done } = harness(2);
    scheduler.push(undefined, 'a');
    scheduler.push(undefined, 'b');
    let idle = false;
    const waiting = scheduler.idle().then(() => {
      idle = true;
    });
    await done('a');
    expect(idle).toBe(false);
    await done('b');
    await waiting;
    expect(idle).toBe(true);
    await scheduler.idle(); // and at once when nothing runs
  });
});

describe('KeyedScheduler with tasks that end synchronously', () => {
  it('runs 100,000 synchronous tasks in a loop, not a recursion, in push order', async () => {
    const seen: number[] = [];
    const scheduler = new KeyedScheduler<number>(4, (item) => {
      seen.push(item);
      return undefined;
    });
    for (let i = 0; i < 100_000; i++) scheduler.push(i % 2 === 0 ? 'k' : undefined, i);
    expect(seen).toHaveLength(100_000);
    expect(seen[99_999]).toBe(99_999);
    expect(scheduler.running).toBe(0);
    expect(scheduler.queued).toBe(0);
    await scheduler.idle();
  });

  it('a task pushed from inside a synchronous task waits for the running loop, not a nested one', () => {
    const order: string[] = [];
    const scheduler: KeyedScheduler<string> = new KeyedScheduler<string>(1, (item) => {
      order.push(`start ${item}`);
      if (item === 'a') scheduler.push(undefined, 'b');
      order.push(`end ${item}`);
      return undefined;
    });
    scheduler.push(undefined, 'a');
    expect(order).toEqual(['start a', 'end a', 'start b', 'end b']);
  });

  it('a task pushed from inside a synchronous task waits for it to end even with slots free', () => {
    const order: string[] = [];
    const scheduler: KeyedScheduler<string> = new KeyedScheduler<string>(4, (item) => {
      order.push(`start ${item}`);
      if (item === 'a') scheduler.push(undefined, 'b');
      if (item === 'b') scheduler.push('k', 'c');
      order.push(`end ${item}`);
      return undefined;
    });
    scheduler.push(undefined, 'a');
    expect(order).toEqual(['start a', 'end a', 'start b', 'end b', 'start c', 'end c']);
    expect(scheduler.running).toBe(0);
    expect(scheduler.queued).toBe(0);
  });

  it('queues a task behind a waiting one even when a slot is free, and keeps push order', async () => {
    const started: string[] = [];
    const finish = new Map<string, () => void>();
    const scheduler = new KeyedScheduler<string>(3, (item) => {
      started.push(item);
      return new Promise<void>((resolve) => finish.set(item, resolve));
    });
    scheduler.push('k', 'k1');
    scheduler.push('k', 'k2'); // waits for k1
    scheduler.push(undefined, 'x'); // a slot is free and x has no key: starts past k2
    expect(started).toEqual(['k1', 'x']);
    scheduler.push('k', 'k3'); // behind k2
    finish.get('k1')!();
    await new Promise((resolve) => setTimeout(resolve, 0));
    expect(started).toEqual(['k1', 'x', 'k2']);
    finish.get('k2')!();
    await new Promise((resolve) => setTimeout(resolve, 0));
    expect(started).toEqual(['k1', 'x', 'k2', 'k3']);
  });
});
