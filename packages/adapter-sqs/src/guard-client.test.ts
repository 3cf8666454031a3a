import { DeadlineError } from '@carrier/core/kit';
import { describe, expect, it } from 'vitest';
import { guardClient } from './guard-client.js';

/** Resolves when `signal` aborts, rejecting like the SDK does (an AbortError). */
function hang(signal: AbortSignal): Promise<never> {
  return new Promise((_, reject) => {
    signal.addEventListener('abort', () =>
      reject(Object.assign(new Error('aborted'), { name: 'AbortError' })),
    );
  });
}

describe('guardClient', () => {
  it('gives a receive its long-poll wait on top of the request timeout and tracks every call', async () => {
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

  it("passes a caller's abort through as the SDK's AbortError, not as a deadline", async () => {
    class SendMessageCommand {
      readonly input = {};
    }
    const client = guardClient(
      {
        send: (_command: unknown, options?: { abortSignal?: AbortSignal }) => hang(options!.abortSignal!),
      },
      { requestTimeoutMs: 10_000, track: () => {} },
    );
    const caller = new AbortController();
    const p = client.send(new SendMessageCommand(), { abortSignal: caller.signal });
    caller.abort();
    const error = await p.catch((e: unknown) => e);
    expect(error).not.toBeInstanceOf(DeadlineError);
    expect((error as Error).name).toBe('AbortError');
  });
});
