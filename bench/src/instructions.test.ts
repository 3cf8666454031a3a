import { describe, expect, it } from 'vitest';
import { parseTotals, perMessage } from './instructions.js';

describe('instructions per message', () => {
  it("sums every thread's count of callgrind_control -e", () => {
    const out =
      'PID 4867: /usr/bin/node --predictable child.js memory carrier\n\n  Totals:         Ir \n   Th 1  117,846,593 \n   Th 2        271 \n\n';
    expect(parseTotals(out)).toBe(117_846_864);
    expect(parseTotals('  Totals:   Ir \n   Th 1  256 \n')).toBe(256);
    expect(() =>
      parseTotals('PID 1: node\n  No information available as instrumentation is switched off.\n'),
    ).toThrow(/Totals/);
    expect(() => parseTotals('  Totals:   Ir \n')).toThrow(/thread/);
  });

  it('is the difference of two counts over the difference of the message counts', () => {
    expect(perMessage(1_000_000, 3_000_000, 1_000, 2_000)).toBe(2_000);
    expect(() => perMessage(1, 2, 5, 5)).toThrow(RangeError);
  });
});
