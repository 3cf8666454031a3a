/** Summary of repeated measurements of one figure on one side. */
export interface Sample {
  /** Median of `values`: the figure reported. */
  readonly median: number;
  readonly min: number;
  readonly max: number;
  /** (max - min) / median, as a fraction: how much the rounds disagreed. */
  readonly spread: number;
  /** Every round's value, in the order measured. */
  readonly values: readonly number[];
}

/** Median of a non-empty list (mean of the two middle values for an even count). */
export function median(values: readonly number[]): number {
  if (values.length === 0) throw new RangeError('median of an empty list');
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

/**
 * Percentile by the nearest-rank method (`p` in 0..100) of values already sorted ascending: the
 * smallest value such that at least p% of the values are less than or equal to it.
 */
export function percentileSorted(sorted: ArrayLike<number>, p: number): number {
  if (sorted.length === 0) throw new RangeError('percentile of an empty list');
  if (!(p >= 0 && p <= 100)) throw new RangeError('p must be within 0..100');
  const rank = Math.max(1, Math.ceil((p / 100) * sorted.length));
  return sorted[rank - 1]!;
}

/** p50, p95 and p99 of a list of latencies (any order; the list is not modified). */
export function latencyPercentiles(values: ArrayLike<number>): { p50: number; p95: number; p99: number } {
  const sorted = Float64Array.from(values).sort();
  return {
    p50: percentileSorted(sorted, 50),
    p95: percentileSorted(sorted, 95),
    p99: percentileSorted(sorted, 99),
  };
}

/** Summarise the rounds of one figure. */
export function summarize(values: readonly number[]): Sample {
  const m = median(values);
  const min = Math.min(...values);
  const max = Math.max(...values);
  return { median: m, min, max, spread: m === 0 ? 0 : (max - min) / m, values: [...values] };
}

/**
 * Ratio carrier / raw of paired rounds: the median of the per-round ratios (round i of Carrier
 * against round i of the raw client, measured back to back), which cancels drift of the machine's
 * load better than the ratio of the two medians.
 */
export function pairedRatio(carrier: readonly number[], raw: readonly number[]): number {
  const n = Math.min(carrier.length, raw.length);
  const ratios: number[] = [];
  for (let i = 0; i < n; i++) if (raw[i]! !== 0) ratios.push(carrier[i]! / raw[i]!);
  return ratios.length === 0 ? Number.NaN : median(ratios);
}

/**
 * The A/A noise band of a figure: Carrier measured against an identical, independent Carrier
 * (`carrier-b`) in the same alternation. Each round gives one paired ratio a_i = carrier_i /
 * carrier-b_i; which of the two identical sides is called "A" is arbitrary, so a_i and 1/a_i are
 * equally likely outcomes of the same noise. The band is the range of all of them,
 * `[min_i min(a_i, 1/a_i), max_i max(a_i, 1/a_i)]` (it always contains 1): the largest disagreement
 * two identical sides showed in this run. With 5 rounds that is 10 values, so the band reaches
 * about the 5th–95th percentile of the A/A ratio's distribution (a range of n values covers
 * (n-1)/(n+1) of the distribution on average: 82 % for 10).
 */
export interface NoiseBand {
  /** Median of the per-round A/A ratios carrier / carrier-b. */
  readonly ratio: number;
  readonly low: number;
  readonly high: number;
  /** Per-round A/A ratios, in the order measured. */
  readonly values: readonly number[];
}

/** The A/A band from the rounds of two identical sides (see {@link NoiseBand}); undefined without a usable round. */
export function noiseBand(a: readonly number[], b: readonly number[]): NoiseBand | undefined {
  const n = Math.min(a.length, b.length);
  const values: number[] = [];
  for (let i = 0; i < n; i++)
    if (b[i]! !== 0 && a[i]! !== 0 && Number.isFinite(a[i]! / b[i]!)) values.push(a[i]! / b[i]!);
  if (values.length === 0) return undefined;
  const both = values.flatMap((v) => [v, 1 / v]);
  return { ratio: median(values), low: Math.min(...both), high: Math.max(...both), values };
}

/**
 * Whether a Carrier/raw ratio is within the A/A noise: inside the band `[low, high]` (bounds
 * included). Such a ratio is a difference two identical Carrier sides also showed in the same
 * run, so it does not show a cost of Carrier. NaN is never within noise.
 */
export function withinNoise(ratio: number, band: NoiseBand | undefined): boolean {
  if (!band || !Number.isFinite(ratio)) return false;
  return ratio >= band.low && ratio <= band.high;
}

/**
 * The order of the sides in round `round` (1-based): the list rotated left by `round - 1`, so every
 * side takes every position equally often over `sides.length` rounds (no side always runs first,
 * right after the previous round's garbage, or last).
 */
export function rotation<T>(sides: readonly T[], round: number): T[] {
  const k = (((round - 1) % sides.length) + sides.length) % sides.length;
  return [...sides.slice(k), ...sides.slice(0, k)];
}
