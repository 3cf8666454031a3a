import { describe, expect, it } from 'vitest';
import { CarrierError } from './errors.js';
import { fakeCarriers } from './testing/setup.js';
import { gateFor, waitFor } from './testing/wait.js';

// The subscription engine (engine.ts) as Consumer runs on it: lease loss and carrier abort.

const setup = fakeCarriers();

describe('lost leases', () => {
  it('reports a lost lease once to onError as LEASE_LOST and aborts the handler signal with it', async () => {
    const errors: Error[] = [];
    const { transport, carrier } = setup(errors);
    let signal: AbortSignal | undefined;
    const finish = gateFor();
    await carrier.subscribe('t', { group: 'g' }, async (m) => {
      signal = m.signal;
      await finish.promise;
    });
    const lease = new AbortController();
    const d = transport.deliver('x', { id: 'leased', lease: lease.signal });
    await waitFor(() => signal !== undefined);
    expect(signal!.aborted).toBe(false);
    lease.abort(new CarrierError('LEASE_LOST', 'partition revoked'));
    lease.abort();
    expect(errors).toHaveLength(1);
    expect(errors[0]).toBeInstanceOf(CarrierError);
    expect((errors[0] as CarrierError).code).toBe('LEASE_LOST');
    expect(errors[0]!.message).toContain('leased');
    expect(signal!.aborted).toBe(true);
    expect(signal!.reason).toBe(errors[0]);
    finish.open();
    await waitFor(() => d.settlements.length === 1);
    expect(d.settlements).toEqual([{ kind: 'ack' }]); // settling after a lost lease is allowed
  });

  it('gives back, without running the handler, a delivery whose lease was lost before it started', async () => {
    const errors: Error[] = [];
    const { transport, carrier } = setup(errors);
    const handled: string[] = [];
    const finish = gateFor();
    await carrier.subscribe('t', { group: 'g', concurrency: 1, prefetch: 2 }, async (m) => {
      handled.push(m.id);
      await finish.promise;
    });
    const lease = new AbortController();
    const running = transport.deliver('x', { id: 'running' });
    const waiting = transport.deliver('x', { id: 'waiting', lease: lease.signal });
    await waitFor(() => handled.length === 1);
    lease.abort();
    finish.open();
    await waitFor(() => running.settlements.length === 1 && waiting.settlements.length === 1);
    expect(handled).toEqual(['running']);
    expect(waiting.settlements).toEqual([{ kind: 'release' }]);
    expect(errors.map((e) => (e as CarrierError).code)).toEqual(['LEASE_LOST']);
  });

  it('reports a shared lease signal once per unsettled delivery, never for settled ones, with one listener', async () => {
    const errors: Error[] = [];
    const { transport, carrier } = setup(errors);
    const finish = gateFor();
    await carrier.subscribe('t', { group: 'g', concurrency: 20 }, async (m) => {
      if (m.id !== 'quick') await finish.promise;
    });
    const partition = new AbortController();
    let listeners = 0;
    const add = partition.signal.addEventListener.bind(partition.signal);
    partition.signal.addEventListener = ((...args: Parameters<typeof add>) => {
      listeners++;
      add(...args);
    }) as typeof add;
    const quick = transport.deliver('x', { id: 'quick', lease: partition.signal });
    await waitFor(() => quick.settlements.length === 1);
    for (let i = 0; i < 15; i++) transport.deliver('x', { id: `slow-${i}`, lease: partition.signal });
    await new Promise((r) => setImmediate(r));
    partition.abort();
    expect(errors).toHaveLength(15);
    expect(errors.some((e) => e.message.includes('quick'))).toBe(false);
    expect(listeners).toBe(2); // one while 'quick' was unsettled, one for the 15 slow ones
    finish.open();
  });

  it('aborts running handlers with CLOSED when the carrier is aborted, without reporting an error', async () => {
    const errors: Error[] = [];
    const { transport, carrier } = setup(errors);
    let signal: AbortSignal | undefined;
    await carrier.subscribe('t', { group: 'g' }, (m) => {
      signal = m.signal;
      return new Promise<void>(() => {});
    });
    transport.deliver('x');
    await waitFor(() => signal !== undefined);
    await carrier.abort();
    expect(signal!.aborted).toBe(true);
    expect((signal!.reason as CarrierError).code).toBe('CLOSED');
    expect(errors).toEqual([]);
  });
});

describe('deliveries in flight', () => {
  it('close() aborts the signals of the handlers still running, whatever order the others settled in', async () => {
    const errors: Error[] = [];
    const { transport, carrier } = setup(errors);
    const ids = ['a', 'b', 'c', 'd', 'e', 'f'];
    const gates = new Map(ids.map((id) => [id, gateFor()]));
    const signals = new Map<string, AbortSignal>();
    const subscription = await carrier.subscribe('t', { group: 'g', concurrency: 10 }, async (m) => {
      signals.set(m.id, m.signal);
      await gates.get(m.id)!.promise;
    });
    const deliveries = ids.map((id) => transport.deliver('x', { id }));
    await waitFor(() => signals.size === ids.length);
    // settled: the oldest, two in the middle and the newest
    const settled = ['a', 'c', 'd', 'f'];
    for (const id of settled) gates.get(id)!.open();
    await waitFor(() => settled.every((id) => deliveries[ids.indexOf(id)]!.settlements.length === 1));
    const closing = subscription.close();
    expect(ids.filter((id) => signals.get(id)!.aborted)).toEqual(['b', 'e']);
    expect((signals.get('b')!.reason as CarrierError).code).toBe('CLOSED');
    for (const id of ['b', 'e']) gates.get(id)!.open();
    await closing;
    expect(deliveries.map((d) => d.settlements.length)).toEqual([1, 1, 1, 1, 1, 1]);
    expect(errors).toEqual([]);
  });
});
