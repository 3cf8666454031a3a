import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { connect } from './connect.js';
import { CarrierError } from './errors.js';
import { createMemoryTransport } from './memory/memory-transport.js';
import { waitFor } from './testing/wait.js';

const fresh = (prefix: string) => `${prefix}-${randomBytes(4).toString('hex')}`;

async function codeOf(promise: Promise<unknown>): Promise<string | undefined> {
  try {
    await promise;
  } catch (error) {
    return error instanceof CarrierError ? error.code : `not a CarrierError: ${String(error)}`;
  }
  return undefined;
}

describe('carrier.lag on memory://', () => {
  it('counts ready, in-flight and scheduled messages until they are settled', async () => {
    const carrier = await connect(`memory://${fresh('lag')}`);
    const topic = fresh('t');
    await carrier.declare(topic, ['g']);
    expect(await carrier.lag(topic, 'g')).toEqual({ messages: 0, source: expect.any(String) });
    await carrier.publishBatch(topic, [{ body: 1 }, { body: 2 }, { body: 3 }]);
    expect((await carrier.lag(topic, 'g')).messages).toBe(3);
    let release!: () => void;
    const held = new Promise<void>((resolve) => {
      release = resolve;
    });
    let started = 0;
    let failedOnce = false;
    await carrier.subscribe<number>(
      topic,
      { group: 'g', concurrency: 3, retry: { maxAttempts: 3, initialDelayMs: 60_000, maxDelayMs: 60_000 } },
      async (m) => {
        started++;
        await held;
        if (m.body === 3 && !failedOnce) {
          failedOnce = true;
          throw new Error('once');
        }
      },
    );
    await waitFor(() => started === 3, 2_000);
    expect((await carrier.lag(topic, 'g')).messages, 'in flight still counts').toBe(3);
    release();
    // two acknowledged; the third waits out its retry delay on a timer, still not consumed
    await waitFor(() => failedOnce, 2_000);
    let last = -1;
    const deadline = Date.now() + 2_000;
    while (last !== 1 && Date.now() < deadline) {
      last = (await carrier.lag(topic, 'g')).messages;
      await new Promise((resolve) => setImmediate(resolve));
    }
    expect(last, 'a scheduled retry still counts').toBe(1);
    await carrier.close();
  });

  it('refuses bad names, a missing group, a fired signal, and any call after close', async () => {
    const carrier = await connect(`memory://${fresh('lag')}`);
    expect(await codeOf(carrier.lag('bad topic', 'g'))).toBe('INVALID_NAME');
    expect(await codeOf(carrier.lag('t', 'bad group'))).toBe('INVALID_NAME');
    expect(await codeOf(carrier.lag(fresh('t'), 'g'))).toBe('INVALID_ARGUMENT');
    expect(await codeOf(carrier.lag('t', 'g', { signal: AbortSignal.abort() }))).toBe('ABORTED');
    expect(await codeOf(carrier.lag('t', 'g', { signal: 'no' as unknown as AbortSignal }))).toBe(
      'INVALID_ARGUMENT',
    );
    await carrier.close();
    expect(await codeOf(carrier.lag('t', 'g'))).toBe('CLOSED');
  });

  it('is UNSUPPORTED where the transport cannot tell lag', async () => {
    const carrier = await connect('memory://x', {
      transport: async (url, options) => {
        const transport = await createMemoryTransport(url, options);
        Object.defineProperty(transport, 'capabilities', {
          value: { ...transport.capabilities, lag: false },
        });
        return transport;
      },
    });
    expect(carrier.capabilities.lag).toBe(false);
    expect(await codeOf(carrier.lag('t', 'g'))).toBe('UNSUPPORTED');
    await carrier.close();
  });
});
