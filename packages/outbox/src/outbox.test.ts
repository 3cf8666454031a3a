import { type Carrier, CarrierError, connect } from '@carrier/core';
import { afterAll, describe, expect, it } from 'vitest';
import { Outbox, type OutboxTransaction } from './outbox.js';

// Argument checks of the outbox's writing half, before anything reaches PostgreSQL.
const carrier = await connect('memory://');
afterAll(() => carrier.close());

function code(f: () => unknown): string | undefined {
  try {
    f();
  } catch (error) {
    return error instanceof CarrierError ? error.code : 'not a CarrierError';
  }
  return undefined;
}

describe('Outbox arguments', () => {
  it.each([
    ['undefined', undefined],
    ['null', null],
    ['an object that is not a Carrier', { publish: 1 }],
  ])('refuses %s as carrier (INVALID_ARGUMENT)', (_, value) => {
    expect(code(() => new Outbox(value as unknown as Carrier))).toBe('INVALID_ARGUMENT');
  });

  it.each([
    ['null', null],
    ['an object without a query function', {}],
  ])('refuses %s as transaction before encoding (INVALID_ARGUMENT)', async (_, tx) => {
    const outbox = new Outbox(carrier);
    await expect(
      outbox.publish(tx as unknown as OutboxTransaction, 'orders', { id: 1 }),
    ).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
  });
});
