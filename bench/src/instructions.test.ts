import { describe, expect, it } from 'vitest';
import { parseCollected, perMessage } from './instructions.js';

describe('instructions per message', () => {
  it('reads callgrind total', () => {
    const stderr =
      '==5087== Events    : Ir\n==5087== Collected : 742889863\n==5087== \n==5087== I   refs:      742,889,863\n';
    expect(parseCollected(stderr)).toBe(742_889_863);
    expect(() => parseCollected('==1== ERROR SUMMARY: 0 errors')).toThrow(/Collected/);
  });

  it('is the difference of two totals over the difference of the counts', () => {
    expect(perMessage(1_000_000, 3_000_000, 1_000, 2_000)).toBe(2_000);
    expect(() => perMessage(1, 2, 5, 5)).toThrow(RangeError);
  });
});
