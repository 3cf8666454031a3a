import { CarrierError } from '@carrier/core';
import type { Msg, NatsConnection, RequestOptions } from '@nats-io/transport-node';
import { describe, expect, it } from 'vitest';
import { Connectivity } from './connectivity.js';

/** A status iterator that yields nothing and never ends (the tests call the status methods). */
class NeverEnding implements AsyncIterableIterator<never> {
  [Symbol.asyncIterator]() {
    return this;
  }
  next(): Promise<IteratorResult<never>> {
    return new Promise(() => {});
  }
}

/**
 * A connection whose requests to `lost.*` get no reply (rejected after their timeout, as nats.js
 * does) and whose other requests are answered at once; `sent` records what went out.
 */
function setup() {
  const sent: { subject: string; timeout: number | undefined }[] = [];
  const nc = {
    status: () => new NeverEnding(),
    isClosed: function (this: unknown) {
      return this === nc; // bound to the connection itself, not to the proxy
    },
    async request(subject: string, _payload?: unknown, options?: RequestOptions): Promise<Msg> {
      sent.push({ subject, timeout: options?.timeout });
      if (subject.startsWith('lost.')) {
        await new Promise((resolve) => setTimeout(resolve, options?.timeout ?? 0));
        throw Object.assign(new Error('timeout'), { name: 'TimeoutError' });
      }
      return { subject } as unknown as Msg;
    },
  };
  const connectivity = new Connectivity(nc as unknown as NatsConnection);
  const guarded = connectivity.guard(nc as unknown as NatsConnection);
  return { connectivity, guarded, sent };
}

async function rejection(p: Promise<unknown>): Promise<CarrierError> {
  const error = await p.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(CarrierError);
  return error as CarrierError;
}

describe('Connectivity.guard', () => {
  it('a request in flight when the connection drops fails at once with CONNECTION, not after its timeout', async () => {
    const { connectivity, guarded } = setup();
    const since = Date.now();
    const pending = rejection(guarded.request('lost.ack', undefined, { timeout: 2_000 }));
    await new Promise((resolve) => setTimeout(resolve, 20));
    connectivity.disconnected();
    const error = await pending;
    expect(error.code).toBe('CONNECTION');
    expect(error.message).toMatch(/dropped before the reply came/);
    expect(Date.now() - since, 'ms until it failed (timeout 2 000 ms)').toBeLessThan(1_000);
  });

  it('a request made while disconnected waits for the reconnect, then goes out with the time left', async () => {
    const { connectivity, guarded, sent } = setup();
    connectivity.disconnected();
    const pending = guarded.request('$JS.API.STREAM.INFO.S', undefined, { timeout: 1_000 });
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect(sent, 'nothing written while disconnected (nats.js would discard it on the next dial)').toEqual(
      [],
    );
    connectivity.reconnected();
    await pending;
    expect(sent.map((s) => s.subject)).toEqual(['$JS.API.STREAM.INFO.S']);
    expect(sent[0]!.timeout).toBeLessThanOrEqual(910);
  });

  it('a request made while disconnected fails with TIMEOUT when no reconnect comes within its timeout', async () => {
    const { connectivity, guarded, sent } = setup();
    connectivity.disconnected();
    const error = await rejection(guarded.request('carrier.t', undefined, { timeout: 200 }));
    expect(error.code).toBe('TIMEOUT');
    expect(sent).toEqual([]);
  });

  it('a connected request goes out at once with its own timeout, and other members are the connection’s own', async () => {
    const { guarded, sent } = setup();
    await guarded.request('carrier.t', undefined, { timeout: 700 });
    expect(sent).toEqual([{ subject: 'carrier.t', timeout: 700 }]);
    expect(guarded.isClosed()).toBe(true);
  });
});
