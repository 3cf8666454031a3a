import { randomBytes } from 'node:crypto';
import { type Carrier, connect } from '@carrier/core';
import { afterEach, describe, expect, it } from 'vitest';
import { type Bridge, bridge } from './bridge.js';
import { verify } from './verify.js';

const fresh = (prefix: string) => `${prefix}-${randomBytes(4).toString('hex')}`;

async function waitFor(condition: () => boolean, timeoutMs: number, what: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

const open: Array<{ close(): Promise<unknown> }> = [];
afterEach(async () => {
  for (const c of open.splice(0).reverse()) await c.close().catch(() => undefined);
});

async function carrier(url: string): Promise<Carrier> {
  const c = await connect(url);
  open.push(c);
  return c;
}

function track(b: Bridge): Bridge {
  open.push({ close: () => b.stop() });
  return b;
}

describe('verify on memory://', () => {
  it('zero missing after a bridged run; reports missing ids, duplicates and altered copies', async () => {
    const [src, dst, topic] = [fresh('src'), fresh('dst'), fresh('t')];
    const source = await carrier(`memory://${src}`);
    const target = await carrier(`memory://${dst}`);
    const from = `memory://${src}`;
    const to = `memory://${dst}`;
    const b = track(
      await bridge({ from, to, topics: [topic], group: 'bridge', verifyGroup: 'bridge-verify' }),
    );
    await source.publishBatch(
      topic,
      Array.from({ length: 300 }, (_, i) => ({ body: { i }, id: `m${i}` })),
    );
    await waitFor(() => b.progress().moved === 300, 10_000, '300 moved');
    const clean = await verify({ from, to, topics: [topic], group: 'bridge-verify', idleMs: 200 });
    expect(clean.ok).toBe(true);
    expect(clean.complete).toBe(true);
    expect(clean.topics[0]).toMatchObject({
      source: { ids: 300, deliveries: 300, outsideWindow: 0 },
      target: { ids: 300, deliveries: 300 },
      missing: [],
      mismatched: [],
      duplicates: { source: [], target: [] },
    });

    await b.stop();
    // now break things on purpose: one message never bridged, one duplicated, one altered
    await source.publish(topic, { lost: true }, { id: 'lost' });
    await source.publish(topic, 'original', { id: 'altered' });
    await target.publish(topic, 'changed', { id: 'altered' });
    await source.publish(topic, 'twice', { id: 'dup' });
    await target.publish(topic, 'twice', { id: 'dup' });
    await target.publish(topic, 'twice', { id: 'dup' });
    await target.publish(topic, 'direct', { id: 'direct' });
    const broken = await verify({ from, to, topics: [topic], group: 'bridge-verify', idleMs: 200 });
    expect(broken.ok).toBe(false);
    expect(broken.topics[0]?.missing).toEqual(['lost']);
    expect(broken.topics[0]?.mismatched).toEqual(['altered']);
    expect(broken.topics[0]?.duplicates.target).toEqual([{ id: 'dup', count: 2 }]);
    expect(broken.topics[0]?.unexpected).toEqual(['direct']);

    // a window excludes what was published before it
    await source.publish(topic, 'old', { id: 'old' });
    const since = new Date(Date.now() + 1);
    await new Promise((r) => setTimeout(r, 5));
    await source.publish(topic, 'new', { id: 'new' });
    await target.publish(topic, 'new', { id: 'new' });
    const windowed = await verify({ from, to, topics: [topic], group: 'bridge-verify', idleMs: 200, since });
    expect(windowed.ok).toBe(true);
    expect(windowed.topics[0]?.source).toMatchObject({ ids: 1, outsideWindow: 1 });
  });

  it('carries what it could not settle to the next run: late copies and messages after --until', async () => {
    const [src, dst, topic] = [fresh('src'), fresh('dst'), fresh('t')];
    const from = `memory://${src}`;
    const to = `memory://${dst}`;
    const source = await carrier(from);
    const target = await carrier(to);
    await source.declare(topic, ['v']);
    await target.declare(topic, ['v']);
    const options = { from, to, topics: [topic], group: 'v', idleMs: 200 };
    await source.publish(topic, 'late', { id: 'late' });
    const first = await verify(options);
    expect(first.topics[0]?.missing).toEqual(['late']);
    // the copy arrives after the first run read the source
    await target.publish(topic, 'late', { id: 'late' });
    const second = await verify({ ...options, carryOver: JSON.parse(JSON.stringify(first.carryOver)) });
    expect(second.ok).toBe(true);
    expect(second.topics[0]).toMatchObject({ missing: [], source: { ids: 1 }, target: { ids: 1 } });
    expect(second.carryOver.routes[`${topic}:${topic}`]).toEqual({ source: {}, target: {} });

    // a message after `until` is not judged now, but carried and judged by the next run
    const until = new Date(Date.now() - 1);
    await source.publish(topic, 'after', { id: 'after' });
    const third = await verify({ ...options, until, carryOver: second.carryOver });
    expect(third.ok).toBe(true);
    expect(third.topics[0]?.source.outsideWindow).toBe(1);
    const fourth = await verify({ ...options, carryOver: third.carryOver });
    expect(fourth.topics[0]?.missing).toEqual(['after']);
  });
});
