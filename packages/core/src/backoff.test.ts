import { describe, expect, it } from 'vitest';
import { DEFAULT_RETRY, longestRetryDelay, type RetryPolicy, retryDelay } from './backoff.js';

const policy: RetryPolicy = { maxAttempts: 5, initialDelayMs: 200, maxDelayMs: 1_000 };
const low = () => 0;
const high = () => 0.999_999;

describe('retryDelay', () => {
  it.each([
    // attempt, lower bound d/2, upper bound d
    [1, 100, 200],
    [2, 200, 400],
    [3, 400, 800],
    [4, 500, 1_000],
    [30, 500, 1_000],
  ])('after delivery %d: uniform in [%d, %d] ms', (attempt, lower, upper) => {
    expect(retryDelay(policy, attempt, low)).toBe(lower);
    expect(retryDelay(policy, attempt, high)).toBe(upper);
    const d = retryDelay(policy, attempt);
    expect(d).toBeGreaterThanOrEqual(lower);
    expect(d).toBeLessThanOrEqual(upper);
  });

  it('is 0 with initialDelayMs 0, and never overflows for a huge attempt number', () => {
    expect(retryDelay({ ...policy, initialDelayMs: 0 }, 3)).toBe(0);
    expect(retryDelay(policy, Number.MAX_SAFE_INTEGER, high)).toBe(1_000);
  });

  it('the defaults: 5 deliveries, 200 ms, 30 s', () => {
    expect(DEFAULT_RETRY).toEqual({ maxAttempts: 5, initialDelayMs: 200, maxDelayMs: 30_000 });
    expect(retryDelay(DEFAULT_RETRY, 1, high)).toBe(200);
  });
});

describe('longestRetryDelay', () => {
  it.each<[string, RetryPolicy, boolean, number]>([
    ['dead letters on: the delay after delivery maxAttempts - 1', { ...policy, maxAttempts: 4 }, true, 800],
    ['dead letters on, capped by maxDelayMs', { ...policy, maxAttempts: 10 }, true, 1_000],
    ['dead letters on, a single delivery: no retry at all', { ...policy, maxAttempts: 1 }, true, 0],
    ['dead letters on, two deliveries: initialDelayMs', { ...policy, maxAttempts: 2 }, true, 200],
    ['dead letters off: retries forever, up to maxDelayMs', { ...policy, maxAttempts: 1 }, false, 1_000],
    ['defaults with dead letters', DEFAULT_RETRY, true, 1_600],
  ])('%s', (_, p, deadLetter, longest) => {
    expect(longestRetryDelay(p, deadLetter)).toBe(longest);
  });

  it('bounds every delay the policy asks for', () => {
    const longest = longestRetryDelay(policy, true);
    for (let attempt = 1; attempt < policy.maxAttempts; attempt++)
      expect(retryDelay(policy, attempt, high)).toBeLessThanOrEqual(longest);
  });
});
