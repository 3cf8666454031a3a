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
