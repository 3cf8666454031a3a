/**
 * The retry delay ladder. RabbitMQ expires messages with a TTL only at the head of a queue, so one
 * queue cannot hold messages with different delays; instead each group has one delay queue per
 * level, levels being powers of two milliseconds (1 ms, 2 ms, 4 ms, … 2^31 ms ≈ 24.9 days). A retry
 * goes to the smallest level not shorter than the requested delay: never early, at most twice as
 * late (plus the broker's expiry latency).
 */

/** Largest exponent of the ladder. */
const MAX_DELAY_EXPONENT = 31;
/** Longest delay the ladder honours: 2^31 ms. */
export const MAX_DELAY_MS = 2 ** MAX_DELAY_EXPONENT;

/**
 * The delay level for `delayMs`: 0 for "now" (delay ≤ 0, the retry goes straight back to the group
 * queue), otherwise the smallest power of two ≥ `delayMs`, capped at {@link MAX_DELAY_MS}.
 */
export function delayLevel(delayMs: number): number {
  if (!(delayMs > 0)) return 0;
  let level = 1;
  while (level < delayMs && level < MAX_DELAY_MS) level *= 2;
  return level;
}
