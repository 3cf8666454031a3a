import type { Carrier } from '@carrier/core';
import { CarrierError } from '@carrier/core';
import { type Limiter, type OutboxRow, publishRows } from './publish-rows.js';

/** Longest pause after a failure, in milliseconds. */
const MAX_BACKOFF_MS = 10_000;

/** What a partition worker uses of its relay. */
export interface WorkerContext {
  readonly carrier: Carrier;
  readonly limiter: Limiter;
  readonly batchSize: number;
  readonly pollIntervalMs: number;
  readonly retryDelayMs: number;
  /** Eligible rows of a partition (`$1`), oldest first, at most `$2`. */
  readonly selectSql: string;
  /** Delete rows by seq (`$1`: bigint[]). */
  readonly deleteSql: string;
  /** Move one row (`$1`: seq) to the dead-letter table with `$2` error code and `$3` reason; returns the moved seq. */
  readonly deadLetterSql: string;
  /** The qualified dead-letter table (for messages). */
  readonly deadLetterTable: string;
  /** A query on the relay's session (the one holding the partition's lock). */
  query<R>(text: string, values: unknown[]): Promise<R[]>;
  /** False once the session failed: the worker then ends (the lock is gone with it). */
  alive(): boolean;
  report(error: CarrierError): void;
  /** The message of a failure's cause, credentials removed (for the reported error's message). */
  detail(cause: unknown): string;
  confirmed(row: OutboxRow): void;
  deadLettered(row: OutboxRow): void;
  fetched(): void;
}

/**
 * Works one partition while its relay holds the partition's lock: reads a batch of eligible rows,
 * publishes them (per key in seq order), deletes the confirmed ones, and waits for a notification
 * or the poll interval when there is nothing to do. Memory: one batch at a time.
 */
export class PartitionWorker {
  readonly done: Promise<void>;
  #stopping = false;
  #wake: (() => void) | undefined;

  constructor(
    readonly partition: number,
    private readonly ctx: WorkerContext,
  ) {
    this.done = this.#run();
  }

  /** Re-check the partition now (a notification came). */
  wake(): void {
    this.#wake?.();
  }

  /** Finish the publishes under way (delete what was confirmed), then end. */
  stop(): Promise<void> {
    this.#stopping = true;
    this.wake();
    return this.done;
  }

  async #run(): Promise<void> {
    const { ctx } = this;
    let backoff = ctx.retryDelayMs;
    while (!this.#stopping && ctx.alive()) {
      let failed = false;
      let rows: OutboxRow[];
      try {
        rows = await ctx.query<OutboxRow>(ctx.selectSql, [this.partition, ctx.batchSize]);
        ctx.fetched();
      } catch (error) {
        if (!ctx.alive()) return;
        ctx.report(
          new CarrierError(
            'CONNECTION',
            `outbox relay: reading partition ${this.partition} failed: ${ctx.detail(error)}`,
            {
              cause: error,
            },
          ),
        );
        await this.#pause(backoff);
        backoff = Math.min(backoff * 2, MAX_BACKOFF_MS);
        continue;
      }
      if (rows.length === 0) {
        await this.#pause(ctx.pollIntervalMs);
        continue;
      }
      const published = await publishRows(
        ctx.carrier,
        rows,
        ctx.limiter,
        () => !this.#stopping && ctx.alive(),
        (row) => ctx.confirmed(row),
      );
      if (published.error) {
        failed = true;
        const { row, cause } = published.error;
        ctx.report(
          new CarrierError(
            'PUBLISH_FAILED',
            `outbox relay: publishing ${row.message_id} to ${row.topic} failed; the row stays and is retried: ${ctx.detail(cause)}`,
            { cause },
          ),
        );
      }
      for (const { row, cause } of published.rejected) {
        try {
          const moved = await ctx.query(ctx.deadLetterSql, [row.seq, cause.code, cause.message]);
          if (moved.length === 0) continue; // gone already (another relay after a reconnect)
        } catch (error) {
          // the row stays: tried again (and dead-lettered) on a later visit
          if (!ctx.alive()) return;
          failed = true;
          ctx.report(
            new CarrierError(
              'CONNECTION',
              `outbox relay: moving ${row.message_id} (a message the broker rejects) to ${ctx.deadLetterTable} failed; it stays and is tried again: ${ctx.detail(error)}`,
              { cause: error },
            ),
          );
          continue;
        }
        ctx.deadLettered(row);
        ctx.report(
          new CarrierError(
            'PUBLISH_FAILED',
            `outbox relay: ${row.message_id} to ${row.topic} can never be published (${cause.code}: ${cause.message}); moved to ${ctx.deadLetterTable}`,
            { cause },
          ),
        );
      }
      if (published.confirmed.length > 0) {
        try {
          await ctx.query(ctx.deleteSql, [published.confirmed]);
        } catch (error) {
          // the rows stay: published again later (at-least-once)
          if (!ctx.alive()) return;
          failed = true;
          ctx.report(
            new CarrierError(
              'CONNECTION',
              `outbox relay: deleting published rows failed; they will be published again: ${ctx.detail(error)}`,
              {
                cause: error,
              },
            ),
          );
        }
      }
      if (failed) {
        await this.#pause(backoff);
        backoff = Math.min(backoff * 2, MAX_BACKOFF_MS);
      } else backoff = ctx.retryDelayMs;
    }
  }

  #pause(ms: number): Promise<void> {
    if (this.#stopping) return Promise.resolve();
    return new Promise((resolve) => {
      const wake = () => {
        clearTimeout(timer);
        this.#wake = undefined;
        resolve();
      };
      const timer = setTimeout(wake, ms);
      this.#wake = wake;
    });
  }
}
