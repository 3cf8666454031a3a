import { CarrierError, type Handler, type Message } from '@carrier/core';
import type { Pool, PoolClient } from 'pg';
import { type InboxTableOptions, inboxGroup, inboxTableName } from './inbox-table.js';

/**
 * A handler run by {@link withInbox}: the message, unchanged (its `signal`, `attempt`, `reply` and
 * the rest as core hands them over), and `client`, the pool client whose transaction is open.
 * Write the handler's data through `client` so that it commits with the inbox record or not at
 * all. Return to commit; throw to roll back. Do not end the transaction yourself (`COMMIT`,
 * `ROLLBACK`) and do not release the client: {@link withInbox} does both.
 */
export type InboxHandler<Body = unknown> = (
  message: Message<Body>,
  client: PoolClient,
) => Promise<void> | void;

/** Options of {@link withInbox}. */
export interface InboxOptions extends InboxTableOptions {
  /**
   * The consumer group the records belong to: every group receives every message, so each one
   * handles an id once. Give the group of the subscription the handler serves
   * (`subscribe(topic, { group }, …)`). A non-empty string of at most 1 024 characters, without NUL.
   */
  group: string;
}

/**
 * Wrap `handler` so that each message id is handled at most once per `group`, even when the
 * broker delivers it again (at-least-once delivery: a consumer that died or lost its connection
 * after its database commit but before the broker took the acknowledgement gets the message again).
 *
 * Per delivery, on one client of `pool`:
 * 1. `BEGIN`, then `INSERT INTO <schema>.<table> (consumer_group, message_id) … ON CONFLICT DO
 *    NOTHING` (PostgreSQL's default READ COMMITTED isolation).
 * 2. The pair was already there: `COMMIT`, and the returned handler returns without calling
 *    `handler`, so core acknowledges the message.
 * 3. Otherwise `handler(message, client)` runs inside that transaction, then `COMMIT`: the record
 *    and the handler's writes commit together, then core acknowledges the message.
 * 4. `handler` throws: `ROLLBACK` (neither the record nor its writes remain) and the error is
 *    thrown again unchanged, so core retries or dead-letters as usual (`NonRetryableError` too).
 *
 * A duplicate that arrives while the first delivery's transaction is still open (the broker gave
 * the message to another member after a lost lease, or it was published twice) waits on the
 * table's primary key until that transaction ends (PostgreSQL docs, "INSERT", `ON CONFLICT`): it
 * then skips the handler if the first one committed, and runs it if the first one rolled back.
 *
 * The transaction stays open while `handler` runs: keep handlers short (long transactions hold
 * row locks and keep VACUUM from reclaiming rows). Effects outside the database (an HTTP call, an
 * e-mail) are not covered: they may still happen twice. The table is created by `migrate()` of
 * this package; records are removed by {@link pruneInbox}.
 *
 * @param pool A node-postgres pool. Each delivery holds one of its clients until it is settled,
 *   so give the pool at least the subscription's `concurrency`; set `connectionTimeoutMillis` on
 *   it, else a delivery waits for a free client without limit.
 * @returns The Carrier handler to pass to `subscribe`.
 * @throws CarrierError `INVALID_ARGUMENT` (at once) for a `group`, `schema` or `table` outside
 *   their grammar, or a `handler` that is not a function.
 *
 * The returned handler rejects with: the error of `handler`; node-postgres's error when
 * PostgreSQL cannot be reached or a statement of its own fails (a missing table:
 * `relation … does not exist`); `CarrierError` `INVALID_ARGUMENT` when `handler` returned but its
 * transaction had failed (it caught the error of one of its statements), since PostgreSQL then
 * rolls back at `COMMIT` and nothing was written. Each is a failed delivery for core: retried, then
 * dead-lettered.
 *
 * @example
 * ```ts
 * await carrier.subscribe('orders', { group: 'billing', concurrency: 4 }, withInbox(pool, { group: 'billing' },
 *   async (message, client) => {
 *     await client.query('INSERT INTO invoices (order_id) VALUES ($1)', [message.id]);
 *   }));
 * ```
 */
export function withInbox<Body = unknown>(
  pool: Pool,
  options: InboxOptions,
  handler: InboxHandler<Body>,
): Handler<Body> {
  const group = inboxGroup(options?.group);
  const table = inboxTableName(options);
  if (typeof handler !== 'function') {
    throw new CarrierError('INVALID_ARGUMENT', `withInbox needs a handler function, got ${typeof handler}`);
  }
  const claim = `INSERT INTO ${table} (consumer_group, message_id) VALUES ($1, $2) ON CONFLICT DO NOTHING`;

  const once = async (client: PoolClient, message: Message<Body>): Promise<void> => {
    const claimed = await client.query(claim, [group, message.id]);
    if (claimed.rowCount === 1) await handler(message, client);
    const end = await client.query('COMMIT');
    if (end.command !== 'COMMIT') {
      throw new CarrierError(
        'INVALID_ARGUMENT',
        `the inbox transaction of message ${message.id} (group ${group}) failed inside the handler ` +
          `(a statement error it caught?): PostgreSQL rolled it back at COMMIT, nothing was written`,
      );
    }
  };

  return async (message) => {
    const client = await pool.connect();
    let reusable = false;
    try {
      await client.query('BEGIN');
      try {
        await once(client, message);
        reusable = true;
      } catch (error) {
        reusable = await rollback(client);
        throw error;
      }
    } finally {
      // A client whose state is unknown (a failed BEGIN or ROLLBACK) is closed, not reused.
      client.release(!reusable);
    }
  };
}

/** `ROLLBACK`; false when it failed (the connection is then not reused). */
async function rollback(client: PoolClient): Promise<boolean> {
  try {
    await client.query('ROLLBACK');
    return true;
  } catch {
    return false;
  }
}
