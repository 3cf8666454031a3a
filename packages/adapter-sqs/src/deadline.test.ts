import { describe, expect, it } from 'vitest';
import { DeadlineError, guardClient, withDeadline } from './deadline.js';

/** Resolves when `signal` aborts, rejecting like the SDK does (an AbortError). */
function hang(signal: AbortSignal): Promise<never> {
  return new Promise((_, reject) => {
    signal.addEventListener('abort', () =>
      reject(Object.assign(new Error('aborted'), { name: 'AbortError' })),
    );
  });
}

describe('call deadlines', () => {
  it('a call that never answers fails with DeadlineError after its deadline and its signal is aborted', async () => {
    let seen: AbortSignal | undefined;
    const started = performance.now();
    const error = await withDeadline('ReceiveMessage', 50, undefined, (signal) => {
      seen = signal;
      return hang(signal);
    }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(DeadlineError);
    expect((error as DeadlineError).message).toContain('no answer within 50 ms');
    expect(seen?.aborted).toBe(true);
    expect(performance.now() - started).toBeGreaterThanOrEqual(45);
  });

  it("a caller's abort passes through as the SDK's AbortError, not as a deadline", async () => {
    const caller = new AbortController();
    const p = withDeadline('x', 10_000, caller.signal, hang);
    caller.abort();
    const error = await p.catch((e: unknown) => e);
    expect(error).not.toBeInstanceOf(DeadlineError);
    expect((error as Error).name).toBe('AbortError');
  });

  it('a call that answers in time is untouched', async () => {
    await expect(withDeadline('x', 1_000, undefined, async () => 42)).resolves.toBe(42);
  });

  it('guardClient gives a receive its long-poll wait on top of the request timeout and tracks every call', async () => {
    class ReceiveMessageCommand {
      constructor(readonly input: { WaitTimeSeconds?: number }) {}
    }
    const tracked: Promise<unknown>[] = [];
    const client = guardClient(
      {
        send: (_command: unknown, options?: { abortSignal?: AbortSignal }) => hang(options!.abortSignal!),
      },
      { requestTimeoutMs: 30, track: (p) => tracked.push(p) },
    );
    const started = performance.now();
    const error = await client
      .send(new ReceiveMessageCommand({ WaitTimeSeconds: 0.1 }))
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(DeadlineError);
    expect((error as DeadlineError).ms).toBe(130);
    expect((error as DeadlineError).what).toBe('SQS/SNS ReceiveMessage');
    expect(performance.now() - started).toBeGreaterThanOrEqual(120);
    expect(tracked).toHaveLength(1);
  });
});
