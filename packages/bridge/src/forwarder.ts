import { type BatchEntry, type Carrier, CarrierError } from '@carrier/core';
import { isPermanentPublishError } from './portable.js';

interface Pending {
  readonly entry: BatchEntry;
  readonly resolve: () => void;
  readonly reject: (error: unknown) => void;
}

/** What {@link Forwarder} needs of a carrier: `publishBatch` only. */
export type BatchPublisher = Pick<Carrier, 'publishBatch'>;

/**
 * Groups concurrent single-message sends to one topic into `publishBatch` calls (one broker round
 * trip for many messages), and settles each send by its own outcome: a send resolves only once
 * the target confirmed that message, and when the broker confirms only part of a batch
 * (`PUBLISH_FAILED` with `failures`), exactly the failed sends reject. A batch is flushed on the
 * next turn of the event loop or as soon as it holds `maxBatch` messages, so nothing waits on a
 * timer. Several batches may be in flight at once.
 */
export class Forwarder {
  readonly #target: BatchPublisher;
  readonly #maxBatch: number;
  readonly #queues = new Map<string, Pending[]>();
  #flushScheduled = false;

  constructor(target: BatchPublisher, maxBatch: number) {
    if (!Number.isInteger(maxBatch) || maxBatch < 1) {
      throw new CarrierError('INVALID_ARGUMENT', 'maxBatch must be a positive integer');
    }
    this.#target = target;
    this.#maxBatch = maxBatch;
  }

  /** Publish `entry` to `topic` on the target; resolves once the target confirmed it. */
  send(topic: string, entry: BatchEntry): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      let queue = this.#queues.get(topic);
      if (!queue) {
        queue = [];
        this.#queues.set(topic, queue);
      }
      queue.push({ entry, resolve, reject });
      if (queue.length >= this.#maxBatch) {
        this.#flush(topic, queue.splice(0, this.#maxBatch));
      } else if (!this.#flushScheduled) {
        this.#flushScheduled = true;
        setImmediate(() => {
          this.#flushScheduled = false;
          for (const [t, q] of this.#queues) {
            while (q.length > 0) this.#flush(t, q.splice(0, this.#maxBatch));
          }
        });
      }
    });
  }

  #flush(topic: string, batch: Pending[]): void {
    this.#target
      .publishBatch(
        topic,
        batch.map((p) => p.entry),
      )
      .then(
        () => {
          for (const p of batch) p.resolve();
        },
        (error: unknown) => {
          if (error instanceof CarrierError && error.code === 'PUBLISH_FAILED' && error.failures.length > 0) {
            const failed = new Map(error.failures.map((f) => [f.index, f.error]));
            batch.forEach((p, index) => {
              const cause = failed.get(index);
              if (cause === undefined) p.resolve();
              else
                p.reject(
                  new CarrierError(
                    'PUBLISH_FAILED',
                    `target did not confirm message ${String(p.entry.id)}: ${cause.message}`,
                    {
                      transport: error.transport,
                      cause,
                    },
                  ),
                );
            });
            return;
          }
          // A message the target refuses as such fails a whole batch before anything is sent:
          // send each message alone so that only the refused one fails.
          if (batch.length > 1 && isPermanentPublishError(error)) {
            for (const p of batch) this.#flush(topic, [p]);
            return;
          }
          for (const p of batch) p.reject(error);
        },
      );
  }
}
