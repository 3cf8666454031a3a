import { describe, expect, it } from 'vitest';
import {
  deadLetterQueueName,
  escapeName,
  fitName,
  groupQueueName,
  SQS_MAX_QUEUE_NAME,
  snsTopicName,
  unescapeName,
} from './names.js';

const SQS_NAME = /^[A-Za-z0-9_-]{1,80}$/;
const SQS_FIFO_NAME = /^[A-Za-z0-9_-]{1,75}\.fifo$/;

describe('name mapping', () => {
  it('escapes _ and . reversibly into SQS characters', () => {
    expect(escapeName('orders')).toBe('orders');
    expect(escapeName('orders.eu_v2')).toBe('orders_peu_uv2');
    for (const name of ['a', 'a.b', 'a_b', 'a_p', 'a__b', 'x.y.z_1-2', '_u_p']) {
      expect(unescapeName(escapeName(name))).toBe(name);
    }
  });

  it('gives readable names to short topics and groups', () => {
    expect(snsTopicName('orders', { fifo: false })).toBe('orders');
    expect(groupQueueName('orders', 'billing', { fifo: false })).toBe('orders__billing');
    expect(deadLetterQueueName('orders', 'billing', { fifo: false })).toBe('orders__billing_dlq');
    expect(groupQueueName('orders', undefined, { fifo: false })).toBe('orders');
    expect(deadLetterQueueName('orders', undefined, { fifo: false })).toBe('orders_dlq');
    expect(groupQueueName('orders', 'billing', { fifo: true })).toBe('orders__billing.fifo');
    expect(snsTopicName('orders', { fifo: true })).toBe('orders.fifo');
  });

  it('never maps two different (topic, group, kind) triples to one queue name', () => {
    // pairs that naive joining would confuse
    const cases: [string, string][] = [
      ['a', 'b_c'],
      ['a_b', 'c'],
      ['a.b', 'c'],
      ['a', 'b.c'],
      ['a', 'b_dlq'],
      ['a', 'b'],
      ['a__b', 'c'],
      ['orders', 'dlq'],
      ['x'.repeat(100), 'y'.repeat(100)],
      ['x'.repeat(100), `${'y'.repeat(99)}z`],
      [`${'x'.repeat(99)}z`, 'y'.repeat(100)],
    ];
    const seen = new Map<string, string>();
    for (const fifo of [false, true]) {
      for (const [topic, group] of cases) {
        for (const [kind, name] of [
          ['queue', groupQueueName(topic, group, { fifo })],
          ['dlq', deadLetterQueueName(topic, group, { fifo })],
        ] as const) {
          const what = `${fifo}/${topic}/${group}/${kind}`;
          expect(name).toMatch(fifo ? SQS_FIFO_NAME : SQS_NAME);
          expect(seen.get(name), `${what} collides`).toBeUndefined();
          seen.set(name, what);
        }
      }
      // queue-only names
      for (const topic of ['a', 'a_b', 'a.b', 'a__b']) {
        for (const name of [
          groupQueueName(topic, undefined, { fifo }),
          deadLetterQueueName(topic, undefined, { fifo }),
        ]) {
          expect(seen.get(name), `${topic} collides`).toBeUndefined();
          seen.set(name, topic);
        }
      }
    }
  });

  it('shortens long names to 80 characters with a hash that cannot occur in short names', () => {
    const long = groupQueueName('t'.repeat(100), 'g'.repeat(100), { fifo: false });
    expect(long).toHaveLength(SQS_MAX_QUEUE_NAME);
    expect(long).toMatch(/_h[0-9a-f]{16}$/);
    const longFifo = deadLetterQueueName('t'.repeat(100), 'g'.repeat(100), { fifo: true });
    expect(longFifo).toHaveLength(SQS_MAX_QUEUE_NAME);
    expect(longFifo).toMatch(/_h[0-9a-f]{16}\.fifo$/);
    // a cut in the middle of an escape token drops the dangling '_'
    const cut = fitName(`${'a'.repeat(61)}__b`, '', 80);
    expect(cut).toBe(`${'a'.repeat(61)}__b`);
    const dangling = fitName(`${'a'.repeat(61)}_u${'b'.repeat(30)}`, '', 80);
    expect(dangling.startsWith(`${'a'.repeat(61)}_h`)).toBe(true);
    expect(dangling).toHaveLength(79);
  });
});
