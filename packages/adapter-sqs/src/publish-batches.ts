import type { WireMessage } from '@carrier/core';
import { MAX_BATCH_ENTRIES } from './batcher.js';
import type { EncodedMessage } from './wire.js';

/** One message of a publish call: its position in the call, the message, its encoding. */
export interface Entry {
  readonly index: number;
  readonly message: WireMessage;
  readonly encoded: EncodedMessage;
  /** `DelaySeconds` of a delayed message on a standard queue (queue-only mode), when it has one. */
  readonly delaySeconds?: number | undefined;
}

/**
 * Split into batch calls of at most 10 entries and at most `limit` bytes together (SNS PublishBatch
 * and SQS SendMessageBatch limit the whole request as well as each message), keeping the order.
 */
export function chunk(entries: Entry[], limit: number): Entry[][] {
  const chunks: Entry[][] = [];
  let current: Entry[] = [];
  let size = 0;
  for (const e of entries) {
    if (current.length === MAX_BATCH_ENTRIES || (current.length > 0 && size + e.encoded.size > limit)) {
      chunks.push(current);
      current = [];
      size = 0;
    }
    current.push(e);
    size += e.encoded.size;
  }
  if (current.length > 0) chunks.push(current);
  return chunks;
}

/**
 * The entries of one batch call that were not confirmed, by position in the publish call: those
 * listed in `Failed` (with AWS's code and message) and those in neither list.
 */
export function batchFailures(
  chunk: Entry[],
  successful: readonly { Id?: string | undefined }[] | undefined,
  failed:
    | readonly { Id?: string | undefined; Code?: string | undefined; Message?: string | undefined }[]
    | undefined,
): Map<number, Error> {
  const ok = new Set((successful ?? []).map((s) => s.Id));
  const result = new Map<number, Error>();
  for (const e of chunk) {
    const id = String(e.index);
    if (ok.has(id)) continue;
    const f = failed?.find((x) => x.Id === id);
    result.set(
      e.index,
      new Error(f ? `${f.Code ?? 'refused'}: ${f.Message ?? ''}` : 'no confirmation in the batch response'),
    );
  }
  return result;
}
