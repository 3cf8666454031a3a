import { describeError } from '@carrier/core/kit';
import { kafkaError } from './errors.js';
import { delayTopic } from './names.js';
import { type NextHop, nextHop, type Send } from './publish-delay.js';
import type { Receiver, ReceiverSettings, RecordHandle } from './receiver.js';
import { dueAtOf } from './wire.js';

/** Most delay-topic records one mover has read and not moved yet. */
export const MOVER_PREFETCH = 64;

/** A mover's longest fetch wait, ms: a level resumed when due is fetched at the next fetch. */
export const MOVER_MAX_WAIT_MS = 100;

/** What a mover needs of the transport. */
export interface MoverContext {
  /** A receiver of consumer group `groupId` (the transport's, with its consumer settings). */
  readonly receiver: (
    settings: Pick<ReceiverSettings, 'topics' | 'prefetch' | 'countDeliveries' | 'deliver' | 'notBefore'>,
    // the receiver's consumer settings are the transport's, with MOVER_MAX_WAIT_MS
  ) => Receiver;
  readonly send: Send;
  readonly onError: (error: Error) => void;
}

/**
 * The mover of `topic`'s delayed messages on this connection: a member of the consumer group
 * `<topic>..delay..mover` reading the delay topic (all its levels, from the start for partitions
 * the group never committed). A partition whose head is not due is paused until it is (the
 * receiver's `notBefore`: the record's `carrier-due-at`); a due record is written to its next hop
 * (`nextHop`: the topic, or a lower level; the records due at the same moment in one send) and
 * only then its offset becomes committable. A crash between the write and the commit moves it
 * again (a duplicate with the same id), at most the records in flight ({@link MOVER_PREFETCH}); a
 * write that fails is read again and retried.
 */
export function delayMover(context: MoverContext, topic: string, partitions: number): Receiver {
  const moves = new MoveBatches(context, topic);
  return context.receiver({
    topics: [{ topic: delayTopic(topic), fromBeginning: true }],
    prefetch: MOVER_PREFETCH,
    countDeliveries: false,
    notBefore: (_topic, record) => dueAtOf(record),
    deliver: (_topic, _partition, record, handle) =>
      moves.add(nextHop(record, Date.now(), partitions), handle),
  });
}

/**
 * The moves due at the same moment, written with one send per destination (the producer sends one
 * request at a time); each record's offset becomes committable once its copy is confirmed.
 */
class MoveBatches {
  #pending: { hop: NextHop; handle: RecordHandle }[] = [];
  #scheduled = false;

  constructor(
    private readonly context: MoverContext,
    private readonly topic: string,
  ) {}

  add(hop: NextHop, handle: RecordHandle): void {
    this.#pending.push({ hop, handle });
    if (this.#scheduled) return;
    this.#scheduled = true;
    setImmediate(() => {
      this.#scheduled = false;
      const batch = this.#pending.splice(0);
      for (const to of ['topic', 'delay'] as const) {
        const items = batch.filter((item) => item.hop.to === to);
        if (items.length > 0) void this.#write(to === 'topic' ? this.topic : delayTopic(this.topic), items);
      }
    });
  }

  async #write(to: string, items: { hop: NextHop; handle: RecordHandle }[]): Promise<void> {
    let failed: ReadonlySet<number>;
    let failure: unknown;
    try {
      const result = await this.context.send(
        to,
        items.map((item) => item.hop.record),
      );
      failed = new Set(result.failed);
      failure = result.error;
    } catch (error) {
      failed = new Set(items.keys());
      failure = error;
    }
    if (failed.size > 0) {
      this.context.onError(
        kafkaError(
          'CONNECTION',
          `moving delayed messages of ${this.topic} to ${to} failed; they are tried again`,
          failure,
        ),
      );
    }
    for (const [i, { handle }] of items.entries()) {
      if (failed.has(i)) {
        handle.failed(); // read again and moved again
        continue;
      }
      handle.done().catch((cause: unknown) => {
        // not committed: the partition's next reader moves it again (a duplicate, same id)
        this.context.onError(
          kafkaError(
            'CONNECTION',
            `committing a moved delayed message of ${this.topic} failed: ${describeError(cause)}`,
          ),
        );
      });
    }
  }
}
