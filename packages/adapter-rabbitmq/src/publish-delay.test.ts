import { describe, expect, it } from 'vitest';
import {
  delayLadderName,
  delayRoute,
  delayRoutingKey,
  entryLevel,
  MAX_PUBLISH_DELAY_MS,
  PUBLISH_DELAY_LEVELS,
} from './publish-delay.js';

/** The TTLs a message with routing key `key` waits, following the ladder's bindings from `level` down. */
function waits(key: string, level: number): number[] {
  const words = key.split('.');
  const ttls: number[] = [];
  for (let k = level; k >= 0; k--) if (words[PUBLISH_DELAY_LEVELS - 1 - k] === '1') ttls.push(2 ** k);
  return ttls;
}

describe('publish-delay ladder', () => {
  it('spells the delay in 32 binary words, level 31 first', () => {
    expect(delayRoutingKey(1)).toBe(`${'0.'.repeat(31)}1`);
    expect(delayRoutingKey(5).split('.').slice(-3)).toEqual(['1', '0', '1']);
    expect(delayRoutingKey(MAX_PUBLISH_DELAY_MS)).toBe(`${'1.'.repeat(31)}1`);
    expect(delayRoutingKey(1000).split('.')).toHaveLength(PUBLISH_DELAY_LEVELS);
  });

  it('enters at the highest 1 digit and waits exactly the delay, never less', () => {
    for (const d of [1, 2, 3, 999, 1000, 1024, 30_000, 86_400_000, MAX_PUBLISH_DELAY_MS]) {
      const level = entryLevel(d);
      expect(2 ** level).toBeLessThanOrEqual(d);
      expect(2 ** (level + 1)).toBeGreaterThan(d);
      expect(waits(delayRoutingKey(d), level).reduce((a, b) => a + b, 0)).toBe(d);
    }
  });

  it('publishes to the exchange of the entry level of its queue type', () => {
    expect(delayRoute('quorum', 1500)).toEqual({
      exchange: delayLadderName('quorum', 10),
      routingKey: delayRoutingKey(1500),
    });
    expect(delayLadderName('classic', 0)).toBe('carrier::delay:classic:0');
  });
});
