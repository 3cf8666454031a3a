import { CarrierError } from '@carrier/core';
import { notifyChannel, resolveNames, type TableNames } from './names.js';

/** What {@link redriveOutboxDeadLetters} needs of a pool: one query (`pg.Pool` and `pg.Client` have it). */
export interface RedrivePool {
  query<R extends object>(text: string, values?: unknown[]): Promise<{ rows: R[] }>;
}

/** Which dead-lettered rows to move back: `ids` (their `seq`s) or `all: true`, plus the table names. */
export type RedriveOptions = TableNames &
  (
    | {
        /** `seq`s of the dead-letter rows to move back. */ ids: readonly (string | number | bigint)[];
        all?: undefined;
      }
    | { /** Every dead-lettered row. */ all: true; ids?: undefined }
  );

/**
 * Move dead-lettered outbox rows back into the outbox, after fixing what made the broker reject
 * them (a topic's size limit, a name): one statement (`WITH moved AS (DELETE … RETURNING …)
 * INSERT …`), so each row is in exactly one of the two tables. The rows go back as they were
 * (same message id, key, headers, metadata, body and `published_at`, so the relay's `lastLagMs`
 * counts from the original publish) but with a new `seq` and the
 * redriving transaction's `xid`: they are published after the rows of their key already in the
 * outbox, in their old seq order among themselves. The relays are notified (as by
 * `outbox.publish`). A row rejected again is dead-lettered again (under its new seq).
 *
 * Without `migrate`'s tables, or for ids not in the dead-letter table, nothing happens to them.
 *
 * @param pool a `pg.Pool` or `pg.Client` (runs one statement: its own transaction).
 * @returns the number of rows moved back.
 * @throws CarrierError `INVALID_ARGUMENT` for invalid names, neither `ids` nor `all: true`, or an
 *   id that is not a non-negative decimal integer string, safe integer or bigint within int8 range;
 *   `CONNECTION` when the statement fails (the cause is the pg error; nothing moved).
 */
export async function redriveOutboxDeadLetters(pool: RedrivePool, options: RedriveOptions): Promise<number> {
  const names = resolveNames(options);
  const all = options.all === true;
  if (!all && !Array.isArray(options.ids)) {
    throw new CarrierError(
      'INVALID_ARGUMENT',
      'redriveOutboxDeadLetters: give ids (dead-letter seqs) or all: true',
    );
  }
  const given = all ? [] : (options.ids ?? []);
  if (!given.every(isSeq)) {
    throw new CarrierError(
      'INVALID_ARGUMENT',
      'redriveOutboxDeadLetters: ids must be non-negative integers within bigint (int8) range: decimal strings, safe integers or bigints (seqs)',
    );
  }
  const ids = given.map((id) => String(id));
  const columns = 'topic, message_id, key, headers, metadata, content_type, body, published_at';
  const sql = `WITH moved AS (
      DELETE FROM ${names.deadLetter} WHERE $1::boolean OR seq = ANY($2::bigint[])
      RETURNING seq, ${columns}),
    inserted AS (
      INSERT INTO ${names.outbox} (${columns}) SELECT ${columns} FROM moved ORDER BY seq RETURNING 1)
    SELECT count(*)::int AS n, pg_notify($3, '') IS NULL AS notified FROM inserted`;
  try {
    const { rows } = await pool.query<{ n: number }>(sql, [all, ids, notifyChannel(names)]);
    return rows[0]?.n ?? 0;
  } catch (error) {
    throw new CarrierError(
      'CONNECTION',
      `redriveOutboxDeadLetters: moving rows back failed: ${error instanceof Error ? error.message : String(error)}`,
      { cause: error },
    );
  }
}

/** Largest PostgreSQL bigint (int8). */
const INT8_MAX = 9_223_372_036_854_775_807n;

/** A dead-letter seq: a non-negative decimal string, safe integer or bigint within int8. */
function isSeq(id: unknown): boolean {
  if (typeof id === 'number') return Number.isSafeInteger(id) && id >= 0;
  if (typeof id === 'bigint') return id >= 0n && id <= INT8_MAX;
  return typeof id === 'string' && /^[0-9]{1,19}$/.test(id) && BigInt(id) <= INT8_MAX;
}
