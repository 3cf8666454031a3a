import { describe, expect, it } from 'vitest';
import { boundReason, MAX_DEAD_LETTER_REASON_LENGTH, TRUNCATION_MARKER } from './dead-letter-info.js';
import { settleOnce } from './engine.js';
import { CarrierError, NonRetryableError } from './errors.js';
import type { FakeDelivery } from './testing/fake-transport.js';
import { fakeCarriers } from './testing/setup.js';
import { gateFor, waitFor } from './testing/wait.js';
import { isWellFormed } from './unicode.js';

const setup = fakeCarriers();

describe('consumer engine', () => {
  it('acks when the handler returns', async () => {
    const { transport, carrier } = setup();
    const bodies: unknown[] = [];
    await carrier.subscribe('t', { group: 'g' }, (m) => {
      bodies.push(m.body);
    });
    const d = transport.deliver('hello');
    await waitFor(() => d.settlements.length === 1);
    expect(bodies).toEqual(['hello']);
    expect(d.settlements).toEqual([{ kind: 'ack' }]);
  });

  it('retries a thrown error with a backoff delay within [d/2, d]', async () => {
    const { transport, carrier } = setup();
    await carrier.subscribe(
      't',
      { group: 'g', retry: { maxAttempts: 5, initialDelayMs: 100, maxDelayMs: 250 } },
      () => {
        throw new Error('nope');
      },
    );
    const delays: number[] = [];
    for (const attempt of [1, 2, 3, 4]) {
      const d = transport.deliver('x', { attempt, id: `a${attempt}` });
      await waitFor(() => d.settlements.length === 1);
      const s = d.settlements[0]!;
      expect(s.kind).toBe('retry');
      if (s.kind === 'retry') delays.push(s.delayMs);
    }
    const ceilings = [100, 200, 250, 250];
    delays.forEach((delay, i) => {
      expect(delay).toBeGreaterThanOrEqual(ceilings[i]! / 2);
      expect(delay).toBeLessThanOrEqual(ceilings[i]!);
    });
  });

  it('dead-letters on the last attempt with the reason and attempt count', async () => {
    const { transport, carrier } = setup();
    await carrier.subscribe('t', { group: 'g', retry: { maxAttempts: 3 } }, () => {
      throw new Error('still broken');
    });
    const d = transport.deliver('x', { attempt: 3 });
    await waitFor(() => d.settlements.length === 1);
    const s = d.settlements[0]!;
    expect(s.kind).toBe('deadLetter');
    if (s.kind === 'deadLetter') {
      expect(s.info.reason).toBe('still broken');
      expect(s.info.attempts).toBe(3);
      expect(s.info.failedAt).toBeInstanceOf(Date);
    }
  });

  it('dead-letters NonRetryableError on the first attempt', async () => {
    const { transport, carrier } = setup();
    await carrier.subscribe('t', { group: 'g' }, () => {
      throw new NonRetryableError('bad data');
    });
    const d = transport.deliver('x');
    await waitFor(() => d.settlements.length === 1);
    expect(d.settlements[0]).toMatchObject({ kind: 'deadLetter', info: { reason: 'bad data', attempts: 1 } });
  });

  it('dead-letters an undecodable body without calling the handler', async () => {
    const { transport, carrier } = setup();
    let calls = 0;
    await carrier.subscribe('t', { group: 'g' }, () => {
      calls++;
    });
    const d = transport.deliver(new Uint8Array([0xff, 0xfe]), { contentType: 'application/json' });
    await waitFor(() => d.settlements.length === 1);
    expect(calls).toBe(0);
    expect(d.settlements[0]).toMatchObject({ kind: 'deadLetter' });
  });

  it('hands over the raw bytes without decoding when decode is false', async () => {
    const { transport, carrier } = setup();
    const bodies: unknown[] = [];
    await carrier.subscribe('t', { group: 'g', decode: false }, (m) => {
      bodies.push(m.body);
    });
    const bytes = new Uint8Array([0x7b, 0xff]);
    const d = transport.deliver(bytes, { contentType: 'application/json' });
    await waitFor(() => d.settlements.length === 1);
    expect(d.settlements).toEqual([{ kind: 'ack' }]);
    expect(bodies).toEqual([bytes]);
  });

  it('retries forever instead of dead-lettering when deadLetter is false', async () => {
    const { transport, carrier } = setup();
    await carrier.subscribe('t', { group: 'g', deadLetter: false, retry: { maxAttempts: 2 } }, () => {
      throw new NonRetryableError('x');
    });
    const d = transport.deliver('x', { attempt: 9 });
    await waitFor(() => d.settlements.length === 1);
    expect(d.settlements[0]!.kind).toBe('retry');
  });

  it('passes prefetch = concurrency to the transport unless told otherwise', async () => {
    const { transport, carrier } = setup();
    await carrier.subscribe('t', { group: 'g', concurrency: 7 }, () => {});
    expect(transport.subscribeOptions).toEqual({ prefetch: 7, ordered: false });
  });

  it('handles one key at a time in arrival order and never exceeds concurrency', async () => {
    const { transport, carrier } = setup();
    const order: string[] = [];
    let inFlight = 0;
    let max = 0;
    const release: Array<() => void> = [];
    await carrier.subscribe('t', { group: 'g', concurrency: 2 }, async (m) => {
      inFlight++;
      max = Math.max(max, inFlight);
      order.push(`start ${m.id}`);
      await new Promise<void>((resolve) => release.push(resolve));
      order.push(`end ${m.id}`);
      inFlight--;
    });
    const a1 = transport.deliver('x', { key: 'a', id: 'a1' });
    transport.deliver('x', { key: 'a', id: 'a2' });
    transport.deliver('x', { key: 'b', id: 'b1' });
    transport.deliver('x', { key: 'c', id: 'c1' });
    await waitFor(() => release.length === 2);
    expect(order).toEqual(['start a1', 'start b1']);
    release.shift()!();
    await waitFor(() => a1.settlements.length === 1);
    await waitFor(() => release.length === 2);
    // a2 was queued before c1, and a1's slot frees a2 first.
    expect(order.slice(2)).toEqual(['end a1', 'start a2']);
    while (release.length > 0 || order.filter((o) => o.startsWith('end')).length < 4) {
      release.shift()?.();
      await new Promise((r) => setImmediate(r));
    }
    expect(max).toBe(2);
  });

  it('close: stops fetching, releases queued deliveries, waits for in-flight ones, then closes', async () => {
    const { transport, carrier } = setup();
    let finish!: () => void;
    const sub = await carrier.subscribe(
      't',
      { group: 'g', concurrency: 1 },
      () => new Promise<void>((r) => (finish = r)),
    );
    const running = transport.deliver('x', { id: 'running' });
    const queued = transport.deliver('x', { id: 'queued' });
    await waitFor(() => finish !== undefined);
    const closing = sub.close();
    await waitFor(() => queued.settlements.length === 1);
    expect(queued.settlements).toEqual([{ kind: 'release' }]);
    expect(running.settlements).toEqual([]);
    finish();
    await closing;
    expect(running.settlements).toEqual([{ kind: 'ack' }]);
    expect(transport.log.filter((l) => !l.startsWith('subscribe'))).toEqual([
      'stop',
      'release queued',
      'ack running',
      'close-subscription',
    ]);
    const late = transport.deliver('x', { id: 'late' });
    await waitFor(() => late.settlements.length === 1);
    expect(late.settlements).toEqual([{ kind: 'release' }]);
  });

  it('frees the handler slot while the ack is in flight, and close waits for the ack', async () => {
    const { transport, carrier } = setup();
    let openGate!: () => void;
    transport.settleGate = new Promise<void>((r) => (openGate = r));
    const handled: string[] = [];
    const sub = await carrier.subscribe('t', { group: 'g', concurrency: 1 }, (m) => {
      handled.push(m.id);
    });
    const first = transport.deliver('x', { id: 'first' });
    transport.deliver('x', { id: 'second' });
    await waitFor(() => handled.length === 2);
    expect(first.settlements).toEqual([]);
    let closed = false;
    const closing = sub.close().then(() => (closed = true));
    await new Promise((r) => setImmediate(r));
    expect(closed).toBe(false);
    openGate();
    await closing;
    expect(first.settlements).toEqual([{ kind: 'ack' }]);
    expect(transport.log.at(-1)).toBe('close-subscription');
  });

  it('reports a failed settlement as SETTLE_FAILED and keeps going', async () => {
    const errors: Error[] = [];
    const { transport, carrier } = setup(errors);
    transport.failSettle = true;
    await carrier.subscribe('t', { group: 'g' }, () => {});
    transport.deliver('x', { id: 'settle-fails-1' });
    await waitFor(() => errors.length === 1);
    expect(errors[0]).toBeInstanceOf(CarrierError);
    expect((errors[0] as CarrierError).code).toBe('SETTLE_FAILED');
    // the message is named, so a redelivery it causes has its reason on record
    expect((errors[0] as CarrierError).message).toContain('message settle-fails-1');
  });

  it('abort settles nothing and closes nothing gracefully', async () => {
    const { transport, carrier } = setup();
    let finish!: () => void;
    await carrier.subscribe('t', { group: 'g' }, () => new Promise<void>((r) => (finish = r)));
    const d = transport.deliver('x');
    await waitFor(() => finish !== undefined);
    await carrier.abort();
    finish();
    await new Promise((r) => setImmediate(r));
    expect(d.settlements).toEqual([]);
    expect(transport.log).toContain('abort');
    expect(transport.log).not.toContain('close');
  });
});

describe('settlement rules', () => {
  it('lets only the first settle call of a delivery reach the transport; later calls return its result', async () => {
    const calls: string[] = [];
    let fail = false;
    const raw = {
      message: {
        id: 'x',
        headers: {},
        contentType: 'text/plain',
        body: new Uint8Array(),
        publishedAt: new Date(),
      },
      attempt: 1,
      ack: async () => {
        calls.push('ack');
        if (fail) throw new Error('broker gone');
      },
      retry: async () => {
        calls.push('retry');
      },
      deadLetter: async () => {
        calls.push('deadLetter');
      },
      release: async () => {
        calls.push('release');
      },
    };
    let firsts = 0;
    const guarded = settleOnce(raw, () => firsts++);
    const first = guarded.ack();
    expect(guarded.release()).toBe(first);
    expect(guarded.retry(10)).toBe(first);
    await first;
    expect(calls).toEqual(['ack']);
    expect(firsts).toBe(1);

    fail = true;
    const again = settleOnce(raw);
    const rejected = again.ack();
    await expect(rejected).rejects.toThrow('broker gone');
    await expect(again.deadLetter({ reason: 'r', attempts: 1, failedAt: new Date() })).rejects.toThrow(
      'broker gone',
    );
    expect(calls).toEqual(['ack', 'ack']);

    const throwing = settleOnce({
      ...raw,
      release: () => {
        throw new Error('sync throw');
      },
    });
    await expect(throwing.release()).rejects.toThrow('sync throw');
  });

  it('dead-letters a delivery past maxAttempts without calling the handler, saying its consumer died', async () => {
    const { transport, carrier } = setup();
    let calls = 0;
    await carrier.subscribe('t', { group: 'g', retry: { maxAttempts: 3 } }, () => {
      calls++;
    });
    const d = transport.deliver('x', { attempt: 4 });
    await waitFor(() => d.settlements.length === 1);
    expect(calls).toBe(0);
    const s = d.settlements[0]!;
    expect(s.kind).toBe('deadLetter');
    if (s.kind === 'deadLetter') {
      expect(s.info.attempts).toBe(3);
      expect(s.info.reason).toBe(
        'delivered 3 times, the last one without settlement (consumer crashed or lost its lease)',
      );
    }
  });

  it('hands a delivery past maxAttempts to the handler when deadLetter is false', async () => {
    const { transport, carrier } = setup();
    const attempts: number[] = [];
    await carrier.subscribe('t', { group: 'g', deadLetter: false, retry: { maxAttempts: 3 } }, (m) => {
      attempts.push(m.attempt);
    });
    const d = transport.deliver('x', { attempt: 7 });
    await waitFor(() => d.settlements.length === 1);
    expect(attempts).toEqual([7]);
    expect(d.settlements).toEqual([{ kind: 'ack' }]);
  });

  it('bounds a dead-letter reason to 1 024 well-formed characters, ending a cut one with a marker', async () => {
    const { transport, carrier } = setup();
    await carrier.subscribe('t', { group: 'g' }, (m) => {
      throw new NonRetryableError(
        m.id === 'long' ? `${'é'.repeat(1_009)}😀${'x'.repeat(5_000)}` : 'bad \uD800 half',
      );
    });
    const long = transport.deliver('x', { id: 'long' });
    const lone = transport.deliver('x', { id: 'lone' });
    await waitFor(() => long.settlements.length === 1 && lone.settlements.length === 1);
    const reasonOf = (d: FakeDelivery) => {
      const s = d.settlements[0]!;
      return s.kind === 'deadLetter' ? s.info.reason : '';
    };
    const reason = reasonOf(long);
    expect(reason.length).toBeLessThanOrEqual(MAX_DEAD_LETTER_REASON_LENGTH);
    expect(reason.endsWith(TRUNCATION_MARKER)).toBe(true);
    expect(reason.startsWith('é'.repeat(1_009))).toBe(true);
    expect(isWellFormed(reason)).toBe(true); // the emoji's surrogate pair was not split
    expect(reasonOf(lone)).toBe('bad \uFFFD half');
    expect(boundReason('short')).toBe('short');
  });
});

describe('shutdown', () => {
  it('starts no handler once close() began, even when a slot frees while fetching stops', async () => {
    const { transport, carrier } = setup();
    const handled: string[] = [];
    const finish = gateFor();
    let stopped!: () => void;
    const stopGate = new Promise<void>((r) => (stopped = r));
    const subscribe = transport.subscribe.bind(transport);
    transport.subscribe = async (...args) => {
      const sub = await subscribe(...args);
      return { ...sub, stop: () => stopGate };
    };
    const sub = await carrier.subscribe('t', { group: 'g', concurrency: 1, prefetch: 2 }, async (m) => {
      handled.push(m.id);
      await finish.promise;
    });
    const first = transport.deliver('x', { id: 'first' });
    const second = transport.deliver('x', { id: 'second' });
    await waitFor(() => handled.length === 1);
    const closing = sub.close();
    finish.open(); // the slot frees while stop() is still under way
    await waitFor(() => first.settlements.length === 1 && second.settlements.length === 1);
    stopped();
    await closing;
    expect(handled).toEqual(['first']);
    expect(second.settlements).toEqual([{ kind: 'release' }]);
  });
});
