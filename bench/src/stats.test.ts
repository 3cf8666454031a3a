import { describe, expect, it } from 'vitest';
import { latencyPercentiles, median, pairedRatio, percentileSorted, summarize } from './stats.js';

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
});
