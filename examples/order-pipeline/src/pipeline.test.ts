import { connect } from '@carrier/core';
import { expect, it } from 'vitest';
import { runPipeline } from './pipeline.js';

it('fans orders out to billing and shipping, retries, dead-letters the hopeless ones, and delays the reminder', async () => {
  const carrier = await connect('memory://demo-test');
  try {
    const report = await runPipeline(carrier, 'orders-test', 20, 20_000);
    expect(report.priced, 'every order priced by request/reply').toBe(20);
    expect(report.reminder.arrivedAfterMs, 'the delayed reminder is never early').toBeGreaterThanOrEqual(
      report.reminder.delayMs,
    );
    expect(report.invoiced.sort((a, b) => a - b)).toEqual(Array.from({ length: 20 }, (_, i) => i + 1));
    expect(report.deadLetters.map((d) => d.id).sort((a, b) => a - b)).toEqual([7, 13, 14]);
    expect(report.deadLetters.find((d) => d.id === 13)).toMatchObject({ attempts: 3 });
    expect(report.deadLetters.find((d) => d.id === 7)).toMatchObject({
      attempts: 1,
      reason: 'order 7 has no shipping address',
    });
    expect(
      report.shipped
        .filter((s) => s.attempt === 2)
        .map((s) => s.id)
        .sort((a, b) => a - b),
    ).toEqual([5, 10, 15, 20]);
  } finally {
    await carrier.close();
  }
});
