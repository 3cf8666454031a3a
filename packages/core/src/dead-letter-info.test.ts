import { describe, expect, it } from 'vitest';
import {
  boundReason,
  completeDeadLetterInfo,
  MAX_DEAD_LETTER_REASON_LENGTH,
  TRUNCATION_MARKER,
  UNKNOWN_DEAD_LETTER_REASON,
} from './dead-letter-info.js';
import { isWellFormed } from './unicode.js';

describe('boundReason', () => {
  it('keeps a reason up to the limit as it is', () => {
    expect(boundReason('handler failed')).toBe('handler failed');
    const exact = 'x'.repeat(MAX_DEAD_LETTER_REASON_LENGTH);
    expect(boundReason(exact)).toBe(exact);
  });

  it('cuts a longer reason to the limit, ending with the marker', () => {
    const bounded = boundReason('y'.repeat(5_000));
    expect(bounded).toHaveLength(MAX_DEAD_LETTER_REASON_LENGTH);
    expect(bounded.endsWith(TRUNCATION_MARKER)).toBe(true);
    expect(bounded.startsWith('yyyy')).toBe(true);
  });

  it('never splits a surrogate pair when cutting', () => {
    const cut = MAX_DEAD_LETTER_REASON_LENGTH - TRUNCATION_MARKER.length;
    // an emoji (two code units) straddling the cut
    const reason = `${'a'.repeat(cut - 1)}😀${'b'.repeat(2_000)}`;
    const bounded = boundReason(reason);
    expect(bounded).toBe(`${'a'.repeat(cut - 1)}${TRUNCATION_MARKER}`);
    expect(isWellFormed(bounded)).toBe(true);
  });

  it('replaces lone surrogates with U+FFFD', () => {
    expect(boundReason('a\uD800b')).toBe('a\uFFFDb');
  });
});

describe('completeDeadLetterInfo', () => {
  const publishedAt = new Date('2026-01-02T03:04:05Z');
  const failedAt = new Date('2026-01-03T00:00:00Z');

  it('keeps complete metadata (bounding the reason)', () => {
    expect(completeDeadLetterInfo({ reason: 'boom', attempts: 3, failedAt }, { publishedAt })).toEqual({
      reason: 'boom',
      attempts: 3,
      failedAt,
    });
    expect(
      completeDeadLetterInfo({ reason: 'z'.repeat(2_000), attempts: 1, failedAt }, { publishedAt }).reason,
    ).toHaveLength(MAX_DEAD_LETTER_REASON_LENGTH);
  });

  it.each([
    ['no metadata at all', undefined],
    ['empty metadata', {}],
    ['malformed fields', { reason: 42 as unknown as string, attempts: -1, failedAt: new Date('nonsense') }],
    ['a fractional attempt count', { attempts: 1.5 }],
    ['attempts 0', { attempts: 0 }],
  ])('fills the gaps of %s with the one fallback', (_, info) => {
    expect(completeDeadLetterInfo(info, { publishedAt })).toEqual({
      reason: UNKNOWN_DEAD_LETTER_REASON,
      attempts: 0,
      failedAt: publishedAt,
    });
  });
});
