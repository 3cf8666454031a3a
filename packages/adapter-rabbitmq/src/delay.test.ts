import { describe, expect, it } from 'vitest';
import { delayLevel, MAX_DELAY_MS } from './delay.js';

describe('delay ladder', () => {
  it('sends non-positive delays straight back (level 0)', () => {
    expect(delayLevel(0)).toBe(0);
    expect(delayLevel(-5)).toBe(0);
    expect(delayLevel(Number.NaN)).toBe(0);
  });

  it('rounds up to the next power of two: never early, less than twice as late', () => {
    expect(delayLevel(1)).toBe(1);
    expect(delayLevel(1.5)).toBe(2);
    expect(delayLevel(300)).toBe(512);
    expect(delayLevel(512)).toBe(512);
    expect(delayLevel(513)).toBe(1024);
    for (const d of [3, 17, 200, 999, 30_000, 86_400_000]) {
      expect(delayLevel(d)).toBeGreaterThanOrEqual(d);
      expect(delayLevel(d)).toBeLessThan(2 * d);
    }
  });

  it('caps at 2^31 ms', () => {
    expect(MAX_DELAY_MS).toBe(2 ** 31);
    expect(delayLevel(MAX_DELAY_MS)).toBe(MAX_DELAY_MS);
    expect(delayLevel(MAX_DELAY_MS * 4)).toBe(MAX_DELAY_MS);
  });
});
