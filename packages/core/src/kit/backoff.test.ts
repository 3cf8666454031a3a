import { describe, expect, it } from 'vitest';
import { Backoff, exponentialCeiling, exponentialDelay, retrying, sleep } from './backoff.js';

describe('exponentialDelay', () => {
  const options = { initialMs: 100, maxMs: 1_000 };

  it.each([
    [1, 100],
    [2, 200],
    [3, 400],
    [4, 800],
    [5, 1_000],
    [60, 1_000],
    [0, 100],
    [Number.MAX_SAFE_INTEGER, 1_000],
  ])('ceiling after failure %d is %d ms', (failure, ceiling) => {
    expect(exponentialCeiling(options, failure)).toBe(ceiling);
    expect(exponentialDelay({ ...options, jitter: 'none' }, failure)).toBe(ceiling);
  });

  it('equal jitter (the default) spans [d/2, d]', () => {
    expect(exponentialDelay({ ...options, random: () => 0 }, 3)).toBe(200);
    expect(exponentialDelay({ ...options, random: () => 0.5 }, 3)).toBe(300);
    expect(exponentialDelay({ ...options, random: () => 0.999_999 }, 3)).toBe(400);
    for (let i = 0; i < 200; i++) {
      const d = exponentialDelay(options, 4);
      expect(d).toBeGreaterThanOrEqual(400);
      expect(d).toBeLessThanOrEqual(800);
    }
  });
});

describe('Backoff', () => {
  it('counts failures, grows up to maxMs and starts again after reset()', () => {
    const backoff = new Backoff({ initialMs: 50, maxMs: 300, jitter: 'none' });
    expect([backoff.next(), backoff.next(), backoff.next(), backoff.next(), backoff.next()]).toEqual([
      50, 100, 200, 300, 300,
    ]);
    expect(backoff.failures).toBe(5);
    backoff.reset();
    expect(backoff.failures).toBe(0);
    expect(backoff.next()).toBe(50);
  });

  it('refuses options that make no sense', () => {
    expect(() => new Backoff({ initialMs: 0, maxMs: 10 })).toThrow(RangeError);
    expect(() => new Backoff({ initialMs: 100, maxMs: 10 })).toThrow(RangeError);
    expect(() => new Backoff({ initialMs: Number.NaN, maxMs: 10 })).toThrow(RangeError);
  });
});

describe('sleep', () => {
  it('resolves true after the time', async () => {
    const started = performance.now();
    await expect(sleep(30)).resolves.toBe(true);
    expect(performance.now() - started).toBeGreaterThanOrEqual(25);
  });

  it('resolves false at once when the signal aborts, or was aborted', async () => {
    const controller = new AbortController();
    const started = performance.now();
    const slept = sleep(10_000, controller.signal);
    setTimeout(() => controller.abort(), 10);
    await expect(slept).resolves.toBe(false);
    expect(performance.now() - started).toBeLessThan(5_000);
    await expect(sleep(10_000, controller.signal)).resolves.toBe(false);
  });
});

describe('retrying', () => {
  const fast = { initialMs: 1, maxMs: 4 };

  it('tries again while the failure is retryable, then returns the result', async () => {
    let calls = 0;
    const result = await retrying(
      async () => {
        if (++calls < 4) throw new Error('loading');
        return 'ok';
      },
      { retryable: () => true, timeoutMs: 5_000, backoff: fast },
    );
    expect(result).toBe('ok');
    expect(calls).toBe(4);
  });

  it('throws a failure that is not retryable at once', async () => {
    let calls = 0;
    const error = new Error('denied');
    await expect(
      retrying(
        async () => {
          calls++;
          throw error;
        },
        { retryable: (e) => e !== error, timeoutMs: 5_000, backoff: fast },
      ),
    ).rejects.toBe(error);
    expect(calls).toBe(1);
  });

  it('gives up with the last error when the next try would start after timeoutMs', async () => {
    let calls = 0;
    const started = performance.now();
    await expect(
      retrying(
        async () => {
          throw new Error(`try ${++calls}`);
        },
        { retryable: () => true, timeoutMs: 60, backoff: { initialMs: 10, maxMs: 20, jitter: 'none' } },
      ),
    ).rejects.toThrow(`try`);
    expect(calls).toBeGreaterThan(1);
    expect(performance.now() - started).toBeLessThan(1_000);
  });

  it('stops when its signal aborts', async () => {
    const controller = new AbortController();
    let calls = 0;
    const p = retrying(
      async () => {
        calls++;
        throw new Error('down');
      },
      {
        retryable: () => true,
        timeoutMs: 60_000,
        backoff: { initialMs: 10_000, maxMs: 10_000 },
        signal: controller.signal,
      },
    );
    setTimeout(() => controller.abort(), 10);
    await expect(p).rejects.toThrow('down');
    expect(calls).toBe(1);
  });
});
