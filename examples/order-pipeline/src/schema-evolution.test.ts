import { connect } from '@carrier/core';
import { expect, it } from 'vitest';
import { evolveOrderSchema } from './schema-evolution.js';

it('evolves the order schema once: v1 and v2 read each other, a v1 forwarder keeps currency, v3 is refused', async () => {
  const carrier = await connect('memory://demo-evolution-test');
  try {
    const report = await evolveOrderSchema(carrier, `orders-evolution-${Date.now().toString(36)}`);
    expect(report.v1ReadByV2, 'the new field takes its default').toMatchObject({
      id: 1,
      customer: 'customer-1',
      total: 12.5,
      currency: 'EUR',
    });
    expect(Object.keys(report.v1ReadByV2 ?? {}).sort()).toEqual(['currency', 'customer', 'id', 'total']);
    expect(report.v2ReadByV1).toEqual({ id: 2, customer: 'customer-2', total: 25 });
    expect(report.forwardedReadByV2, 'the forwarder edit and the field it never knew').toMatchObject({
      id: 2,
      total: 26.25,
      currency: 'USD',
    });
    expect(report.v3Refused).toBe('SCHEMA_INCOMPATIBLE');
  } finally {
    await carrier.close();
  }
});
