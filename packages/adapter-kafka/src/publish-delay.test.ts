import { DELIVER_AT_HEADER } from '@carrier/core/kit';
import type { KafkaMessage } from 'kafkajs';
import { describe, expect, it } from 'vitest';
import { DELAY_LEVELS, DELAY_UNIT_MS, delayLevel, holdUntil, nextHop } from './publish-delay.js';
import { HEADERS } from './wire.js';

const U = DELAY_UNIT_MS;

function record(deliverAt: number, extra: Record<string, string> = {}): KafkaMessage {
  return {
    key: Buffer.from('k'),
    value: Buffer.from('v'),
    timestamp: '0',
    attributes: 0,
    offset: '0',
    size: 0,
    headers: { [DELIVER_AT_HEADER]: new Date(deliverAt).toISOString(), [HEADERS.dueAt]: '0', ...extra },
  } as KafkaMessage;
}

describe('kafka delay ladder', () => {
  it('puts a remaining delay in [2^(k-1), 2^k) units on level k, under one unit on level 0', () => {
    expect(delayLevel(0, DELAY_LEVELS)).toBe(0);
    expect(delayLevel(U - 1, DELAY_LEVELS)).toBe(0);
    expect(delayLevel(U, DELAY_LEVELS)).toBe(1);
    expect(delayLevel(2 * U - 1, DELAY_LEVELS)).toBe(1);
    expect(delayLevel(2 * U, DELAY_LEVELS)).toBe(2);
    expect(delayLevel(7 * 24 * 3_600_000, DELAY_LEVELS)).toBeLessThan(DELAY_LEVELS);
    expect(delayLevel(7 * 24 * 3_600_000, 3)).toBe(2); // fewer partitions: clamped
  });

  it('holds level k for 2^(k-1) units, level 0 until due, never past the due time', () => {
    expect(holdUntil(0, 5_000, 4_990)).toBe(5_000);
    expect(holdUntil(3, 100_000, 0)).toBe(4 * U);
    expect(holdUntil(3, 100, 0)).toBe(100);
  });

  it('hops down the levels and reaches the topic only once due, with the ladder headers removed', () => {
    const start = 1_000_000;
    const due = start + 12_345;
    let now = start;
    let hop = nextHop(record(due), now, DELAY_LEVELS);
    let hops = 0;
    while (hop.to === 'delay') {
      const held = Date.parse(String(hop.record.headers?.[HEADERS.dueAt]));
      expect(held).toBeLessThanOrEqual(due);
      expect(held).toBeGreaterThan(now);
      now = held; // the mover reads it when its hold ends
      hop = nextHop(record(due), now, DELAY_LEVELS);
      hops++;
    }
    expect(now).toBe(due);
    expect(hops).toBeLessThanOrEqual(DELAY_LEVELS);
    expect(hop.record.headers?.[DELIVER_AT_HEADER]).toBeUndefined();
    expect(hop.record.headers?.[HEADERS.dueAt]).toBeUndefined();
    expect(hop.record.key?.toString()).toBe('k');
  });
});
