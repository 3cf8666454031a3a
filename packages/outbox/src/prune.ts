import { CarrierError } from '@carrier/core';
import type { Pool } from 'pg';
import { type InboxTableOptions, inboxGroup, inboxTableName } from './inbox-table.js';

/** Options of {@link pruneInbox}. */
export interface PruneInboxOptions extends InboxTableOptions {
  /**
   * Remove records handled more than this many milliseconds ago (by the database's clock:
   * `handled_at < now() - olderThanMs`). A positive integer, at most `MAX_OLDER_THAN_MS` (100 years).
   *
   * It must exceed the longest time after which the broker may still deliver a handled message
   * again, else a late redelivery finds no record and runs the handler a second time: the
   * retention of the topic or queue (Kafka `retention.ms` for a group that rewinds or restarts
   * from an old offset, a NATS stream's `max_age`, an SQS queue's `MessageRetentionPeriod`), the
   * longest retry schedule (`retry.maxAttempts` × `retry.maxDelayMs`), and how long dead letters
   * are kept before they may be redriven. Days, not minutes.
   */
  olderThanMs: number;
  /** Only the records of this group. Default: every group. */
  group?: string | undefined;
  /**
   * Rows removed per statement: each batch is its own short transaction, so pruning a large
   * backlog never holds many locks for long. A positive integer, default 10 000.
   */
  batchSize?: number | undefined;
}

/** Largest `olderThanMs` of {@link pruneInbox}: 100 years (365.25 days each), in milliseconds. */
export const MAX_OLDER_THAN_MS = 100 * 365.25 * 24 * 60 * 60 * 1000;

/** Default `batchSize` of {@link pruneInbox}: 10 000 rows per statement. */
export const DEFAULT_PRUNE_BATCH_SIZE = 10_000;

/**
 * Remove inbox records older than `olderThanMs` (see {@link withInbox}), in batches of
 * `batchSize` rows until none is left. Run it on a schedule (a timer, cron, `pg_cron`); several
 * runs at once are safe (a record is removed once; the counts add up).
 *
 * @param pool A node-postgres pool (one client is used at a time).
 * @returns How many records were removed.
 * @throws CarrierError `INVALID_ARGUMENT` without options, for `olderThanMs` or `batchSize` that is
 *   not a positive integer, `olderThanMs` over 100 years, or a `group`, `schema` or `table` outside their grammar (nothing is removed then);
 *   node-postgres's error when a statement fails (records of earlier batches stay removed).
 */
export async function pruneInbox(pool: Pool, options: PruneInboxOptions): Promise<number> {
  if (options === null || typeof options !== 'object') {
    throw new CarrierError('INVALID_ARGUMENT', 'pruneInbox: give options with olderThanMs');
  }
  const table = inboxTableName(options);
  const olderThanMs = positiveInteger('olderThanMs', options.olderThanMs);
  if (olderThanMs > MAX_OLDER_THAN_MS) {
    throw new CarrierError(
      'INVALID_ARGUMENT',
      `olderThanMs must be at most ${MAX_OLDER_THAN_MS} (100 years), got ${olderThanMs}`,
    );
  }
  const batchSize = positiveInteger('batchSize', options.batchSize ?? DEFAULT_PRUNE_BATCH_SIZE);
  const group = options.group === undefined ? undefined : inboxGroup(options.group);
  const where =
    "handled_at < now() - $1 * interval '1 millisecond'" +
    (group === undefined ? '' : ' AND consumer_group = $3');
  const statement =
    `DELETE FROM ${table} WHERE (consumer_group, message_id) IN ` +
    `(SELECT consumer_group, message_id FROM ${table} WHERE ${where} LIMIT $2 FOR UPDATE SKIP LOCKED)`;
  const params = group === undefined ? [olderThanMs, batchSize] : [olderThanMs, batchSize, group];
  let removed = 0;
  for (;;) {
    const result = await pool.query(statement, params);
    const count = result.rowCount ?? 0;
    removed += count;
    if (count < batchSize) return removed;
  }
}

function positiveInteger(name: string, value: unknown): number {
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value <= 0) {
    throw new CarrierError('INVALID_ARGUMENT', `${name} must be a positive integer, got ${String(value)}`);
  }
  return value;
}
