import type { Carrier, MessageOptions, PublishReceipt, WireMessage } from '@carrier/core';
import { CarrierError } from '@carrier/core';
import type pg from 'pg';
import { notifyChannel, type ResolvedNames, resolveNames } from './names.js';

/**
 * What `Outbox.publish` needs of the caller's transaction: a `pg` client (`pg.Client`,
 * `pg.PoolClient`) on which `BEGIN` was run and that is not yet committed. Query builders and
 * ORMs that expose their transaction's node-postgres client work the same way (see README).
 */
export type OutboxTransaction = Pick<pg.ClientBase, 'query'>;

/** Options of {@link Outbox}. */
export interface OutboxOptions {
  /** Schema of the outbox table. Default `carrier`. */
  schema?: string | undefined;
  /** Outbox table. Default `outbox`. */
  outboxTable?: string | undefined;
}

/**
 * Options of `Outbox.publish`: those of `carrier.publish` but the delay (the relay publishes when
 * the transaction committed; a delayed publish has no stored form yet) and the signal.
 */
export type OutboxPublishOptions = Omit<MessageOptions, 'delayMs' | 'deliverAt'>;

/** One entry of `Outbox.publishBatch`: a topic, a body and its message options. */
export interface OutboxEntry extends OutboxPublishOptions {
  /** The topic to publish to. */
  topic: string;
  /** The body, encoded as `carrier.publish` encodes it (`codec`, else `defaultCodec`). */
  body: unknown;
}

const COLUMNS = 'topic, message_id, key, headers, metadata, content_type, body, published_at';

/**
 * The writing half of the transactional outbox: `publish` encodes a message as
 * `carrier.publish` would (same validation, codecs, limits of the carrier's transport) and
 * inserts the complete wire message into the outbox table inside the caller's transaction, so the
 * message exists exactly when the transaction commits. An {@link OutboxRelay} publishes it later
 * with the same id, key, headers, metadata, content type and bytes. Nothing is sent to the broker
 * here; the carrier only encodes.
 */
export class Outbox {
  readonly #carrier: Carrier;
  readonly #names: ResolvedNames;
  readonly #insert: string;
  readonly #channel: string;

  /** @throws CarrierError `INVALID_ARGUMENT` when `carrier` is not a Carrier, or for an invalid schema or table name. */
  constructor(carrier: Carrier, options: OutboxOptions = {}) {
    if (typeof (carrier as Partial<Carrier> | null | undefined)?.encode !== 'function') {
      throw new CarrierError(
        'INVALID_ARGUMENT',
        'new Outbox(carrier): carrier must be a Carrier (from connect())',
      );
    }
    this.#carrier = carrier;
    this.#names = resolveNames(options);
    this.#channel = notifyChannel(this.#names);
    // one statement: the rows, then one notification (delivered at commit, dropped on rollback)
    this.#insert = `WITH inserted AS (INSERT INTO ${this.#names.outbox} (${COLUMNS})
      SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::jsonb[], $5::jsonb[], $6::text[], $7::bytea[], $8::timestamptz[])
      RETURNING 1)
      SELECT pg_notify($9, '') FROM (SELECT count(*) FROM inserted) AS n`;
  }

  /** The LISTEN/NOTIFY channel the inserting transactions notify (what the relay listens on). */
  get channel(): string {
    return this.#channel;
  }

  /**
   * Write one message to the outbox in the transaction `tx` (a pg client inside `BEGIN`). Resolves
   * with its id once the row is inserted; the message is published by a relay after `tx` commits,
   * never if it rolls back.
   *
   * @throws CarrierError what `carrier.publish` throws before sending (`INVALID_NAME`,
   *   `INVALID_ARGUMENT`, `MESSAGE_TOO_LARGE`, codec errors, `CLOSED`); `INVALID_ARGUMENT` for
   *   `delayMs`/`deliverAt`, a `tx` without a `query` function, or a NUL character in the topic, key or id (PostgreSQL text cannot hold
   *   it). The pg error as it is when the insert fails (the transaction is then aborted).
   */
  async publish(
    tx: OutboxTransaction,
    topic: string,
    body: unknown,
    options: OutboxPublishOptions = {},
  ): Promise<PublishReceipt> {
    const [receipt] = await this.publishBatch(tx, [{ ...options, topic, body }]);
    return receipt!;
  }

  /**
   * Write several messages (to one topic or several) in one insert: as many `publish` calls, in
   * order. An invalid entry rejects the whole batch before anything is inserted.
   */
  async publishBatch(tx: OutboxTransaction, entries: readonly OutboxEntry[]): Promise<PublishReceipt[]> {
    if (typeof (tx as Partial<OutboxTransaction> | null | undefined)?.query !== 'function') {
      throw new CarrierError(
        'INVALID_ARGUMENT',
        'tx must be a pg client inside a transaction (with a query function)',
      );
    }
    if (!Array.isArray(entries)) throw new CarrierError('INVALID_ARGUMENT', 'entries must be an array');
    const messages: { topic: string; message: WireMessage }[] = [];
    for (const entry of entries) messages.push({ topic: entry.topic, message: await this.#encode(entry) });
    if (messages.length === 0) return [];
    const column = <T>(pick: (m: WireMessage, topic: string) => T) =>
      messages.map(({ topic, message }) => pick(message, topic));
    await tx.query(this.#insert, [
      column((_, topic) => topic),
      column((m) => m.id),
      column((m) => m.key ?? null),
      column((m) => JSON.stringify(m.headers)),
      column((m) => (m.metadata ? JSON.stringify(m.metadata) : null)),
      column((m) => m.contentType),
      column((m) => Buffer.from(m.body.buffer, m.body.byteOffset, m.body.byteLength)),
      column((m) => m.publishedAt.toISOString()),
      this.#channel,
    ]);
    return messages.map(({ message }) => ({ id: message.id }));
  }

  async #encode(entry: OutboxEntry): Promise<WireMessage> {
    if (entry === null || typeof entry !== 'object') {
      throw new CarrierError('INVALID_ARGUMENT', 'each entry must be an object');
    }
    const { topic, ...fields } = entry as OutboxEntry & Pick<MessageOptions, 'delayMs' | 'deliverAt'>;
    if (fields.delayMs !== undefined || fields.deliverAt !== undefined) {
      throw new CarrierError('INVALID_ARGUMENT', 'the outbox does not take delayMs or deliverAt');
    }
    for (const [what, text] of [
      ['topic', topic],
      ['key', fields.key],
      ['id', fields.id],
    ] as const) {
      if (typeof text === 'string' && text.includes('\u0000')) {
        throw new CarrierError(
          'INVALID_ARGUMENT',
          `${what} holds a NUL character, which PostgreSQL text cannot store`,
        );
      }
    }
    const [message] = await this.#carrier.encode(topic, [fields]);
    return message!;
  }
}
