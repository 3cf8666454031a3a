import type { DeadLetterInfo, PartialDeadLetterInfo, WireMessage } from './transport.js';
import { toWellFormed } from './unicode.js';

/**
 * Longest dead-letter reason, in UTF-16 code units (characters of a JavaScript string): 1 024.
 * Core cuts a longer reason (a handler error with a huge message) before it reaches any transport,
 * ending it with {@link TRUNCATION_MARKER}, so that every broker stores the same text.
 */
export const MAX_DEAD_LETTER_REASON_LENGTH = 1_024;

/** What ends a reason that was cut to {@link MAX_DEAD_LETTER_REASON_LENGTH}. */
export const TRUNCATION_MARKER = '… [truncated]';

/** Reason of a dead letter read back without Carrier's failure metadata (a native producer wrote it, or it was lost). */
export const UNKNOWN_DEAD_LETTER_REASON = 'unknown (the dead letter carries no failure metadata)';

/**
 * A dead-letter reason as every transport stores it: well-formed Unicode (lone surrogates become
 * U+FFFD) and at most {@link MAX_DEAD_LETTER_REASON_LENGTH} characters, a longer one cut and marked
 * with {@link TRUNCATION_MARKER} (never in the middle of a surrogate pair).
 */
export function boundReason(reason: string): string {
  const text = toWellFormed(String(reason));
  if (text.length <= MAX_DEAD_LETTER_REASON_LENGTH) return text;
  let cut = MAX_DEAD_LETTER_REASON_LENGTH - TRUNCATION_MARKER.length;
  const last = text.charCodeAt(cut - 1);
  if (last >= 0xd800 && last <= 0xdbff) cut--; // do not split a surrogate pair
  return `${text.slice(0, cut)}${TRUNCATION_MARKER}`;
}

/**
 * The one fallback for missing or malformed dead-letter metadata, applied by core to what a
 * transport reads back (adapters may use it too): `reason` → {@link UNKNOWN_DEAD_LETTER_REASON},
 * `attempts` (not a positive integer) → 0, meaning unknown; `failedAt` (not a valid date) → the
 * message's `publishedAt` (the earliest it can have failed). A present reason is bounded with
 * {@link boundReason}.
 */
export function completeDeadLetterInfo(
  info: PartialDeadLetterInfo | undefined,
  message: Pick<WireMessage, 'publishedAt'>,
): DeadLetterInfo {
  const reason = typeof info?.reason === 'string' ? boundReason(info.reason) : UNKNOWN_DEAD_LETTER_REASON;
  const attempts =
    typeof info?.attempts === 'number' && Number.isInteger(info.attempts) && info.attempts > 0
      ? info.attempts
      : 0;
  const failedAt =
    info?.failedAt instanceof Date && !Number.isNaN(info.failedAt.getTime())
      ? info.failedAt
      : message.publishedAt;
  return { reason, attempts, failedAt };
}
