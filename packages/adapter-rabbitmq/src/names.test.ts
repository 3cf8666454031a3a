import { describe, expect, it } from 'vitest';
import { deadLetterQueueName, delayQueueName, exchangeName, groupQueueName } from './names.js';

describe('broker object names', () => {
  it('prefix every object and join parts with a character portable names never contain', () => {
    expect(exchangeName('orders')).toBe('carrier:orders');
    expect(groupQueueName('orders', 'billing')).toBe('carrier:orders:billing');
    expect(deadLetterQueueName('orders', 'billing')).toBe('carrier:orders:billing:dlq');
    expect(delayQueueName('orders', 'billing', 1024)).toBe('carrier:orders:billing:retry:1024');
  });

  it('never collide where a dotted name would ("a.b"+"c" vs "a"+"b.c")', () => {
    expect(groupQueueName('a.b', 'c')).not.toBe(groupQueueName('a', 'b.c'));
    expect(groupQueueName('a', 'dlq')).not.toBe(deadLetterQueueName('a', 'x'));
  });

  it('stay within the 255-byte AMQP limit for the longest portable names', () => {
    const longest = 'x'.repeat(100);
    expect(Buffer.byteLength(delayQueueName(longest, longest, 2 ** 31))).toBeLessThanOrEqual(255);
    expect(Buffer.byteLength(deadLetterQueueName(longest, longest))).toBeLessThanOrEqual(255);
  });
});
