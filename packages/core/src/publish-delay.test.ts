import { describe, expect, it } from 'vitest';
import { CarrierError } from './errors.js';
import { DELIVER_AT_HEADER, dueTime, formatDeliverAt, parseDeliverAt } from './publish-delay.js';

const caps = { maxPublishDelayMs: 10_000 };
const now = 1_700_000_000_000;

function code(f: () => unknown): string | undefined {
  try {
    f();
  } catch (e) {
    return e instanceof CarrierError ? e.code : 'not a CarrierError';
  }
  return undefined;
}

describe('dueTime', () => {
  it('is absent without a delay, for 0 and for a time already past', () => {
    expect(dueTime({}, caps, 'memory', now)).toBeUndefined();
    expect(dueTime({ delayMs: 0 }, caps, 'memory', now)).toBeUndefined();
    expect(dueTime({ deliverAt: new Date(now - 1) }, caps, 'memory', now)).toBeUndefined();
    expect(dueTime({ deliverAt: new Date(now) }, caps, 'memory', now)).toBeUndefined();
  });

  it('counts delayMs from now (a fraction rounded up) and takes deliverAt as it is', () => {
    expect(dueTime({ delayMs: 1_000 }, caps, 'memory', now)?.getTime()).toBe(now + 1_000);
    expect(dueTime({ delayMs: 0.2 }, caps, 'memory', now)?.getTime()).toBe(now + 1);
    expect(dueTime({ deliverAt: new Date(now + 10_000) }, caps, 'memory', now)?.getTime()).toBe(now + 10_000);
  });

  it('refuses bad values with INVALID_ARGUMENT', () => {
    for (const delayMs of [
      -1,
      Number.NaN,
      Number.POSITIVE_INFINITY,
      '5' as unknown as number,
      null as unknown as number,
    ]) {
      expect(
        code(() => dueTime({ delayMs }, caps, 'memory', now)),
        String(delayMs),
      ).toBe('INVALID_ARGUMENT');
    }
    for (const deliverAt of [new Date(Number.NaN), now as unknown as Date, '2030-01-01' as unknown as Date]) {
      expect(
        code(() => dueTime({ deliverAt }, caps, 'memory', now)),
        String(deliverAt),
      ).toBe('INVALID_ARGUMENT');
    }
    expect(code(() => dueTime({ delayMs: 1, deliverAt: new Date(now + 1) }, caps, 'memory', now))).toBe(
      'INVALID_ARGUMENT',
    );
  });

  it('refuses a delay beyond maxPublishDelayMs with UNSUPPORTED, never clamps', () => {
    expect(dueTime({ delayMs: 10_000 }, caps, 'memory', now)?.getTime()).toBe(now + 10_000);
    expect(code(() => dueTime({ delayMs: 10_001 }, caps, 'memory', now))).toBe('UNSUPPORTED');
    expect(code(() => dueTime({ deliverAt: new Date(now + 10_001) }, caps, 'memory', now))).toBe(
      'UNSUPPORTED',
    );
    expect(code(() => dueTime({ delayMs: 1 }, {}, 'kafka', now))).toBe('UNSUPPORTED');
    expect(code(() => dueTime({ delayMs: 1 }, { maxPublishDelayMs: 0 }, 'kafka', now))).toBe('UNSUPPORTED');
  });
});

describe('the header form of deliverAt', () => {
  it('round-trips and reads what does not parse as absent', () => {
    const at = new Date(now + 1_234);
    expect(DELIVER_AT_HEADER).toBe('carrier-deliver-at');
    expect(parseDeliverAt(formatDeliverAt(at))?.getTime()).toBe(at.getTime());
    expect(parseDeliverAt(undefined)).toBeUndefined();
    expect(parseDeliverAt('soon')).toBeUndefined();
  });
});
