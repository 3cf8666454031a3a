import { describe, expect, it } from 'vitest';
import { UNKNOWN_DEAD_LETTER_REASON } from './dead-letter-info.js';
import { CarrierError } from './errors.js';
import type { DeadLetter } from './message.js';
import { fakeCarriers } from './testing/setup.js';
import { gateFor, waitFor } from './testing/wait.js';

const setup = fakeCarriers();

describe('dead-letter readers', () => {
  it('completes missing dead-letter metadata with one fallback when reading dead letters', async () => {
    const { transport, carrier } = setup();
    const letters: DeadLetter[] = [];
    await carrier.deadLetters('t', 'g').subscribe((l) => {
      letters.push(l);
    });
    const publishedAt = new Date(5_000);
    transport.deliverDeadLetter(undefined, { id: 'bare', publishedAt });
    transport.deliverDeadLetter(
      { reason: 'kept', attempts: -1, failedAt: new Date(Number.NaN) },
      { id: 'odd' },
    );
    await waitFor(() => letters.length === 2);
    expect(letters[0]).toMatchObject({
      reason: UNKNOWN_DEAD_LETTER_REASON,
      attempts: 0,
      failedAt: publishedAt,
    });
    expect(letters[0]!.message.body).toEqual({ dead: true });
    expect(letters[1]).toMatchObject({ reason: 'kept', attempts: 0, failedAt: new Date(1_000) });
  });

  it('a throwing onError cannot turn a failed dead-letter settlement into a rejection', async () => {
    let reported = 0;
    const { transport, carrier } = setup(() => {
      reported++;
      throw new Error('onError itself fails');
    });
    transport.failSettle = true;
    const reader = await carrier.deadLetters('t', 'g').subscribe(() => {});
    const d = transport.deliverDeadLetter({ reason: 'r', attempts: 1, failedAt: new Date() });
    await waitFor(() => reported === 1);
    expect(d.settlements).toEqual([]);
    await reader.close();
  });

  it('stops with the carrier on abort: nothing settled, the handler signal aborted', async () => {
    const { transport, carrier } = setup();
    let signal: AbortSignal | undefined;
    await carrier.deadLetters('t', 'g').subscribe((l) => {
      signal = l.message.signal;
      return new Promise<void>(() => {});
    });
    const d = transport.deliverDeadLetter({ reason: 'r', attempts: 2, failedAt: new Date() });
    await waitFor(() => signal !== undefined);
    await carrier.abort();
    expect(signal!.aborted).toBe(true);
    const late = transport.deliverDeadLetter(undefined, { id: 'late' });
    await new Promise((r) => setImmediate(r));
    expect(d.settlements).toEqual([]);
    expect(late.settlements).toEqual([]);
  });

  it('settles a dead letter once and closes like a consumer: queued letters are given back', async () => {
    const { transport, carrier } = setup();
    const finish = gateFor();
    const seen: string[] = [];
    const reader = await carrier.deadLetters('t', 'g').subscribe(async (l) => {
      seen.push(l.message.id);
      await finish.promise;
    });
    const first = transport.deliverDeadLetter(undefined, { id: 'first' });
    const queued = transport.deliverDeadLetter(undefined, { id: 'queued' });
    await waitFor(() => seen.length === 1);
    const closing = reader.close();
    await waitFor(() => queued.settlements.length === 1);
    finish.open();
    await closing;
    expect(first.settlements).toEqual(['ack']);
    expect(queued.settlements).toEqual(['release']);
  });

  it('acks a letter whose handler returned; holds one whose handler threw, then gives it back', async () => {
    const { transport, carrier } = setup();
    await carrier.deadLetters('t', 'g').subscribe((l) => {
      if (l.message.id === 'bad') throw new Error('not now');
    });
    const good = transport.deliverDeadLetter(
      { reason: 'r', attempts: 1, failedAt: new Date() },
      { id: 'good' },
    );
    const started = Date.now();
    const bad = transport.deliverDeadLetter(
      { reason: 'r', attempts: 1, failedAt: new Date() },
      { id: 'bad' },
    );
    await waitFor(() => good.settlements.length === 1 && bad.settlements.length === 1, 5_000);
    expect(good.settlements).toEqual(['ack']);
    expect(bad.settlements).toEqual(['release']);
    expect(Date.now() - started).toBeGreaterThanOrEqual(900); // held about a second, not spun on
  });

  it('close() gives back a held letter at once', async () => {
    const { transport, carrier } = setup();
    const reader = await carrier.deadLetters('t', 'g').subscribe(() => {
      throw new Error('not now');
    });
    const held = transport.deliverDeadLetter(undefined, { id: 'held' });
    await new Promise((resolve) => setTimeout(resolve, 20));
    const started = Date.now();
    await reader.close();
    expect(held.settlements).toEqual(['release']);
    expect(Date.now() - started).toBeLessThan(900);
  });

  it('refuses a concurrency that is not a positive integer', async () => {
    const { carrier } = setup();
    for (const concurrency of [0, 1.5, -1])
      await expect(carrier.deadLetters('t', 'g').subscribe(() => {}, { concurrency })).rejects.toMatchObject({
        code: 'INVALID_ARGUMENT',
      });
  });
});

describe('redrive', () => {
  it('asks the transport for at most `max` letters (all by default) and returns how many moved', async () => {
    const { transport, carrier } = setup();
    const asked: Array<[string, string, number]> = [];
    transport.redrive = async (topic: string, group: string, max: number) => {
      asked.push([topic, group, max]);
      return Math.min(max, 3);
    };
    expect(await carrier.deadLetters('t', 'g').redrive({ max: 2 })).toBe(2);
    expect(await carrier.deadLetters('t', 'g').redrive()).toBe(3);
    expect(asked).toEqual([
      ['t', 'g', 2],
      ['t', 'g', Number.MAX_SAFE_INTEGER],
    ]);
  });

  it('fails with UNSUPPORTED, without calling the transport, when capabilities.redrive is false', async () => {
    const { transport, carrier } = setup();
    transport.capabilities = { ...transport.capabilities, redrive: false };
    let called = false;
    transport.redrive = async () => {
      called = true;
      return 0;
    };
    const error = await carrier
      .deadLetters('t', 'g')
      .redrive()
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(CarrierError);
    expect((error as CarrierError).code).toBe('UNSUPPORTED');
    expect(called).toBe(false);
  });

  it('refuses a max that is not a non-negative integer', async () => {
    const { carrier } = setup();
    for (const max of [-1, 0.5])
      await expect(carrier.deadLetters('t', 'g').redrive({ max })).rejects.toMatchObject({
        code: 'INVALID_ARGUMENT',
      });
  });
});
