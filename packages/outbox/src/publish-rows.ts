import {
  type Carrier,
  type CarrierError,
  isPermanentPublishError,
  type MessageMetadata,
} from '@carrier/core';

/** One outbox row as the relay reads it (`seq` as text: a bigint). */
export interface OutboxRow {
  readonly seq: string;
  readonly topic: string;
  readonly message_id: string;
  readonly key: string | null;
  readonly headers: Record<string, string>;
  readonly metadata: MessageMetadata | null;
  readonly content_type: string;
  readonly body: Buffer;
  readonly published_at: Date;
}

/** Bounds the publishes in flight across all partitions of a relay. */
export class Limiter {
  #free: number;
  readonly #waiting: (() => void)[] = [];

  constructor(limit: number) {
    this.#free = limit;
  }

  async run<T>(task: () => Promise<T>): Promise<T> {
    if (this.#free > 0) this.#free--;
    else await new Promise<void>((resolve) => this.#waiting.push(resolve));
    try {
      return await task();
    } finally {
      const next = this.#waiting.shift();
      if (next) next();
      else this.#free++;
    }
  }
}

/** Core's rule (`@carrier/core` `isPermanentPublishError`, the bridge's too). */
export { isPermanentPublishError } from '@carrier/core';

/** A row the broker can never accept, with the permanent error. */
export interface Rejected {
  readonly row: OutboxRow;
  readonly cause: CarrierError;
}

/** What publishing a batch of rows achieved. */
export interface Published {
  /** Seqs of the rows the broker confirmed (to delete). */
  readonly confirmed: string[];
  /** Rows that failed with a permanent error (to dead-letter); their keys' later rows were tried. */
  readonly rejected: Rejected[];
  /** The first transient publish failure, if any (its key's later rows were not tried). */
  readonly error?: { row: OutboxRow; cause: unknown } | undefined;
}

/**
 * Publish `rows` (of one partition, in seq order) byte for byte: the rows of one key one at a
 * time in seq order, each awaiting the broker's confirmation before the next; different keys (and
 * rows without a key) concurrently, within `limiter`. A transient failure stops its key's chain
 * (the later rows stay for the next attempt, so order holds); a permanent one
 * ({@link isPermanentPublishError}) puts the row in `rejected` and the chain goes on with the key's
 * next row. `proceed` false stops every chain after the publish under way.
 */
export async function publishRows(
  carrier: Carrier,
  rows: readonly OutboxRow[],
  limiter: Limiter,
  proceed: () => boolean,
  onConfirmed: (row: OutboxRow) => void,
): Promise<Published> {
  const chains = new Map<string, OutboxRow[]>();
  for (const row of rows) {
    const chain = row.key === null ? `\u0000${row.seq}` : row.key;
    const list = chains.get(chain);
    if (list) list.push(row);
    else chains.set(chain, [row]);
  }
  const confirmed: string[] = [];
  const rejected: Rejected[] = [];
  let error: Published['error'];
  await Promise.all(
    [...chains.values()].map(async (chain) => {
      for (const row of chain) {
        if (!proceed()) return;
        try {
          await limiter.run(() =>
            carrier.publishBatch(row.topic, [
              {
                body: row.body,
                contentType: row.content_type,
                id: row.message_id,
                key: row.key ?? undefined,
                headers: row.headers,
                metadata: metadataOf(row.metadata),
              },
            ]),
          );
        } catch (cause) {
          if (isPermanentPublishError(cause)) {
            rejected.push({ row, cause });
            continue;
          }
          error ??= { row, cause };
          return;
        }
        confirmed.push(row.seq);
        onConfirmed(row);
      }
    }),
  );
  return { confirmed, rejected, error };
}

/** Stored metadata as core takes it: JSON keeps `deadline` as ISO 8601 text, core wants a Date. */
function metadataOf(stored: MessageMetadata | null): MessageMetadata | undefined {
  if (!stored) return undefined;
  const deadline: unknown = stored.deadline;
  return typeof deadline === 'string' ? { ...stored, deadline: new Date(deadline) } : stored;
}
