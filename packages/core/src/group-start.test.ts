import { describe, expect, it } from 'vitest';
import { CarrierError } from './errors.js';
import { fakeCarriers } from './testing/setup.js';

const fake = fakeCarriers();

async function codeOf(promise: Promise<unknown>): Promise<string | undefined> {
  try {
    await promise;
  } catch (e) {
    return e instanceof CarrierError ? e.code : `not a CarrierError: ${String(e)}`;
  }
  return undefined;
}

describe('startFrom and ordered', () => {
  it('declare passes them to the transport, absent ones absent', async () => {
    const { transport, carrier } = fake();
    transport.capabilities = { ...transport.capabilities, perKeyOrder: true };
    await carrier.declare('t', ['g'], { startFrom: 'earliest', ordered: true });
    expect(transport.declareOptions).toEqual({ startFrom: 'earliest', ordered: true });
    await carrier.declare('t', ['g']);
    expect(transport.declareOptions).toEqual({ startFrom: undefined, ordered: undefined });
  });

  it('subscribe passes startFrom to the transport', async () => {
    const { transport, carrier } = fake();
    await carrier.subscribe('t', { group: 'g', startFrom: 'earliest' }, () => {});
    expect(transport.subscribeOptions?.startFrom).toBe('earliest');
    await carrier.subscribe('t', { group: 'h' }, () => {});
    expect(transport.subscribeOptions?.startFrom).toBeUndefined();
  });

  it("refuses 'earliest' without capabilities.replay before touching the transport", async () => {
    const { transport, carrier } = fake();
    transport.capabilities = { ...transport.capabilities, replay: false };
    expect(await codeOf(carrier.declare('t', ['g'], { startFrom: 'earliest' }))).toBe('UNSUPPORTED');
    expect(await codeOf(carrier.subscribe('t', { group: 'g', startFrom: 'earliest' }, () => {}))).toBe(
      'UNSUPPORTED',
    );
    expect(transport.log).toEqual([]);
    await carrier.declare('t', ['g'], { startFrom: 'now' });
    expect(transport.declareOptions?.startFrom).toBe('now');
  });

  it('refuses ordered without capabilities.perKeyOrder, and bad values', async () => {
    const { transport, carrier } = fake();
    expect(await codeOf(carrier.declare('t', ['g'], { ordered: true }))).toBe('UNSUPPORTED');
    const bad = { startFrom: 'latest' } as unknown as { startFrom: 'now' };
    expect(await codeOf(carrier.declare('t', ['g'], bad))).toBe('INVALID_ARGUMENT');
    expect(await codeOf(carrier.subscribe('t', { group: 'g', ...bad }, () => {}))).toBe('INVALID_ARGUMENT');
    const notBoolean = { ordered: 'yes' } as unknown as { ordered: boolean };
    expect(await codeOf(carrier.declare('t', ['g'], notBoolean))).toBe('INVALID_ARGUMENT');
    expect(transport.log).toEqual([]);
    await carrier.declare('t', ['g'], { ordered: false });
    expect(transport.declareOptions?.ordered).toBe(false);
  });
});
