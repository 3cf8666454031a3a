import { describe, expect, it } from 'vitest';
import { DeadlineError, withDeadline } from './deadline.js';

/** Rejects like the AWS SDK when `signal` aborts (an AbortError); never settles otherwise. */
function hang(signal: AbortSignal): Promise<never> {
  return new Promise((_, reject) => {
    signal.addEventListener('abort', () =>
      reject(Object.assign(new Error('aborted'), { name: 'AbortError' })),
    );
  });
}

describe('withDeadline', () => {
  it('a call that never answers fails with DeadlineError after its deadline, and its signal is aborted', async () => {
    let seen: AbortSignal | undefined;
    const started = performance.now();
    const error = await withDeadline({ what: 'ReceiveMessage', ms: 50 }, (signal) => {
      seen = signal;
      return hang(signal);
    }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(DeadlineError);
    expect((error as DeadlineError).message).toBe(
      'ReceiveMessage: no answer within 50 ms (endpoint or connection silent)',
    );
    expect((error as DeadlineError).what).toBe('ReceiveMessage');
    expect((error as DeadlineError).ms).toBe(50);
    expect(seen?.aborted).toBe(true);
    expect(seen?.reason).toBeInstanceOf(DeadlineError);
    expect(performance.now() - started).toBeGreaterThanOrEqual(45);
  });

  it('rejects at the deadline even when the call ignores its signal; a late result goes to onLate', async () => {
    let release!: (value: string) => void;
    const late: string[] = [];
    const p = withDeadline(
      { what: 'connecting', ms: 20, onLate: (value: string) => late.push(value) },
      () => new Promise<string>((resolve) => (release = resolve)),
    );
    await expect(p).rejects.toBeInstanceOf(DeadlineError);
    release('socket');
    await new Promise((resolve) => setTimeout(resolve, 5));
    expect(late).toEqual(['socket']);
  });

  it('an error of onLate is ignored', async () => {
    let release!: (value: number) => void;
    const p = withDeadline(
      {
        what: 'x',
        ms: 10,
        onLate: () => {
          throw new Error('close failed');
        },
      },
      () => new Promise<number>((resolve) => (release = resolve)),
    );
    await expect(p).rejects.toBeInstanceOf(DeadlineError);
    release(1);
    await new Promise((resolve) => setTimeout(resolve, 5));
  });

  it("a caller's abort passes through as the call's own error, not as a deadline", async () => {
    const caller = new AbortController();
    const p = withDeadline({ what: 'x', ms: 10_000, signal: caller.signal }, hang);
    caller.abort();
    const error = await p.catch((e: unknown) => e);
    expect(error).not.toBeInstanceOf(DeadlineError);
    expect((error as Error).name).toBe('AbortError');
  });

  it('a signal aborted before the call aborts the call at once', async () => {
    const caller = new AbortController();
    caller.abort();
    let aborted = false;
    await withDeadline({ what: 'x', ms: 10_000, signal: caller.signal }, async (signal) => {
      aborted = signal.aborted;
    });
    expect(aborted).toBe(true);
  });

  it('a call that answers in time is untouched; its error too', async () => {
    await expect(withDeadline({ what: 'x', ms: 1_000 }, async () => 42)).resolves.toBe(42);
    const failure = new Error('refused');
    await expect(
      withDeadline({ what: 'x', ms: 1_000 }, async () => {
        throw failure;
      }),
    ).rejects.toBe(failure);
    await expect(
      withDeadline({ what: 'x', ms: 1_000 }, () => {
        throw failure;
      }),
    ).rejects.toBe(failure);
  });
});
