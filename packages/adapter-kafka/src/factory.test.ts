import { CarrierError } from '@carrier/core';
import { describe, expect, it } from 'vitest';
import { createTransport } from './factory.js';

describe('createTransport: ?client=', () => {
  it('client=platformatic is served by @carrier/adapter-kafka-platformatic (its own option checks answer)', async () => {
    // logLevel is refused by the platformatic driver only, before any connection: this error can
    // only come from that package
    const error = await createTransport(new URL('kafka://127.0.0.1:1?client=platformatic&logLevel=debug'), {
      onError: () => {},
    }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(CarrierError);
    expect((error as CarrierError).code).toBe('INVALID_ARGUMENT');
    expect((error as CarrierError).message).toMatch(/not supported with client=platformatic/);
  });

  it('an unknown client is INVALID_ARGUMENT before any connection', async () => {
    const error = await createTransport(new URL('kafka://127.0.0.1:1?client=librdkafka'), {
      onError: () => {},
    }).catch((e: unknown) => e);
    expect((error as CarrierError).code).toBe('INVALID_ARGUMENT');
  });
});
