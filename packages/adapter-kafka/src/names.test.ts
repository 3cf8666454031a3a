import { describe, expect, it } from 'vitest';
import { consumerGroupId, deadLetterGroupId, deadLetterTopic, retryTopic } from './names.js';

describe('Kafka names', () => {
  it('derives per-group topics and group ids', () => {
    expect(retryTopic('orders', 'billing')).toBe('orders..billing.retry');
    expect(deadLetterTopic('orders', 'billing')).toBe('orders..billing.dlq');
    expect(consumerGroupId('orders', 'billing')).toBe('orders..billing');
    expect(deadLetterGroupId('orders', 'billing')).toBe('orders..billing..dlq');
  });

  it('never maps two (topic, group) pairs to one name, nor onto a portable topic name', () => {
    const pairs: [string, string][] = [
      ['a.b', 'c'],
      ['a', 'b.c'],
      ['a', 'b.retry'],
      ['a', 'b.dlq'],
      ['a', 'b'],
      ['a.b.retry', 'x'],
    ];
    const topics = new Set<string>();
    const groups = new Set<string>();
    for (const [t, g] of pairs) {
      for (const name of [retryTopic(t, g), deadLetterTopic(t, g)]) {
        expect(topics.has(name), name).toBe(false);
        topics.add(name);
        expect(name).toMatch(/\.\./); // portable names never contain '..'
      }
      for (const id of [consumerGroupId(t, g), deadLetterGroupId(t, g)]) {
        expect(groups.has(id), id).toBe(false);
        groups.add(id);
      }
    }
  });
});
