import { describe, expect, it } from 'vitest';
import {
  latencyPercentiles,
  median,
  noiseBand,
  pairedRatio,
  percentileSorted,
  rotation,
  summarize,
  withinNoise,
} from './stats.js';

describe('stats', () => {
  it('median of odd and even counts', () => {
    expect(median([3, 1, 2])).toBe(2);
    expect(median([4, 1, 3, 2])).toBe(2.5);
    expect(() => median([])).toThrow(RangeError);
  });

  it('nearest-rank percentiles', () => {
    const sorted = Array.from({ length: 100 }, (_, i) => i + 1);
    expect(percentileSorted(sorted, 50)).toBe(50);
    expect(percentileSorted(sorted, 95)).toBe(95);
    expect(percentileSorted(sorted, 99)).toBe(99);
    expect(percentileSorted(sorted, 100)).toBe(100);
    expect(percentileSorted([7], 99)).toBe(7);
  });

  it('latency percentiles sort a copy', () => {
    const values = [5, 1, 4, 2, 3];
    expect(latencyPercentiles(values)).toEqual({ p50: 3, p95: 5, p99: 5 });
    expect(values).toEqual([5, 1, 4, 2, 3]);
  });

  it('summary with spread relative to the median', () => {
    expect(summarize([90, 100, 110])).toEqual({
      median: 100,
      min: 90,
      max: 110,
      spread: 0.2,
      values: [90, 100, 110],
    });
  });

  it('paired ratio is the median of per-round ratios', () => {
    expect(pairedRatio([90, 50, 100], [100, 100, 100])).toBe(0.9);
    expect(pairedRatio([1], [0])).toBeNaN();
  });

  it('the A/A band spans every per-round A/A ratio and its reciprocal', () => {
    const band = noiseBand([100, 110, 95], [100, 100, 100])!;
    expect(band.values).toEqual([1, 1.1, 0.95]);
    expect(band.ratio).toBe(1);
    expect(band.low).toBeCloseTo(1 / 1.1, 12);
    expect(band.high).toBeCloseTo(1.1, 12);
    // one-sided noise still gives a band around 1
    const up = noiseBand([120, 110], [100, 100])!;
    expect(up.low).toBeCloseTo(1 / 1.2, 12);
    expect(up.high).toBeCloseTo(1.2, 12);
    expect(noiseBand([1], [0])).toBeUndefined();
    expect(noiseBand([], [])).toBeUndefined();
  });

  it('a ratio is within noise when the A/A band covers it, bounds included', () => {
    const band = noiseBand([90, 100], [100, 100])!;
    expect(withinNoise(1, band)).toBe(true);
    expect(withinNoise(0.9, band)).toBe(true);
    expect(withinNoise(1 / 0.9, band)).toBe(true);
    expect(withinNoise(0.89, band)).toBe(false);
    expect(withinNoise(1.2, band)).toBe(false);
    expect(withinNoise(Number.NaN, band)).toBe(false);
    expect(withinNoise(1, undefined)).toBe(false);
  });

  it('rotates the order of the sides from round to round', () => {
    expect(rotation(['c', 'r', 'b'], 1)).toEqual(['c', 'r', 'b']);
    expect(rotation(['c', 'r', 'b'], 2)).toEqual(['r', 'b', 'c']);
    expect(rotation(['c', 'r', 'b'], 3)).toEqual(['b', 'c', 'r']);
    expect(rotation(['c', 'r', 'b'], 4)).toEqual(['c', 'r', 'b']);
    const first = [1, 2, 3, 4, 5, 6].map((round) => rotation(['c', 'r'], round)[0]);
    expect(first).toEqual(['c', 'r', 'c', 'r', 'c', 'r']);
  });
});
