import { describeError } from '@carrier/core/kit';
import type { Channel, ConsumeMessage, GetMessage } from 'amqplib';
import { rabbitError } from './errors.js';
import { decodeMessage } from './wire.js';

/**
 * Release records of an ordered group (a single-active-consumer queue).
 *
 * An ordered group gives deliveries back by closing its consumer channel: the broker then requeues
 * them at their place in the queue, before the next member becomes active, so per-key order holds.
 * A copy at the tail (how competing groups give back without charging an attempt) would put a
 * message behind later messages of its key. But the broker counts a requeue like a crash: quorum
 * queues add one to `x-delivery-count`, classic queues set `redelivered`. So before a member closes
 * its channel on purpose, it writes one record per delivery it gives back into the group's ledger
 * queue (`carrier:<topic>:<group>:releases`, confirmed publishes); the member that gets such a
 * delivery next reads the ledger (`basic.get`) and subtracts the releases from the broker's count.
 *
 * Records are held unacked on the consumer channel that read them, so a member that crashes gives
 * them back with its deliveries. Two kinds, after what the queue type counts:
 * - `count` (quorum queues, whose `x-delivery-count` counts every return): a record holds how many
 *   returns of the message were releases; it stays held until the delivery is settled, and is
 *   replaced by one with `releases + 1` when it is given back again.
 * - `marker` (classic queues, which only flag `redelivered`): a record says that the last return
 *   was a release; it is consumed (acked) as the delivery is handed over, so a crash after that is
 *   seen as a crash (and counted by the transport's copy with attempt + 1).
 *
 * When the ledger cannot be read or written, releases are counted as attempts (never fewer
 * attempts than deliveries that were not given back), and the failure goes to `onError`.
 */
export type LedgerKind = 'count' | 'marker';

/** One release record: message id and how many of its returns to the queue were releases. */
export interface ReleaseRecord {
  readonly id: string;
  readonly releases: number;
}

/** What a {@link ReleaseLedger} needs from the transport. */
export interface ReleaseLedgerOptions {
  /** The ledger queue (declared with the group, see `Topology.group`). */
  readonly queue: string;
  readonly kind: LedgerKind;
  /** Store records with publisher confirms; rejects when one is not stored. */
  readonly publish: (records: readonly ReleaseRecord[]) => Promise<void>;
}

/** Most records read in one pass over the ledger: a bound, not an expected size. */
const MAX_RECORDS_PER_READ = 100_000;

/** Encode a record as a ledger message body. */
export function encodeRecord(record: ReleaseRecord): Buffer {
  return Buffer.from(JSON.stringify({ id: record.id, releases: record.releases }));
}

/** Decode a ledger message body, or undefined when it is not a record. */
function decodeRecord(content: Buffer): ReleaseRecord | undefined {
  try {
    const value = JSON.parse(content.toString('utf8')) as { id?: unknown; releases?: unknown };
    if (typeof value.id !== 'string') return undefined;
    if (typeof value.releases !== 'number' || !Number.isSafeInteger(value.releases) || value.releases < 1) {
      return undefined;
    }
    return { id: value.id, releases: value.releases };
  } catch {
    return undefined;
  }
}

/**
 * The ledger as seen from one consumer channel of an ordered group: the records it holds, the
 * deliveries on the channel not settled yet, and the order in which deliveries are handed over
 * (reading the ledger is asynchronous; deliveries still reach core in queue order).
 */
export class ReleaseLedger {
  readonly #held = new Map<string, { releases: number; message: GetMessage }>();
  /** Deliveries on this channel not settled yet, by delivery tag: id and releases before it. */
  readonly #unsettled = new Map<number, ReleaseRecord | { id: string; releases: 0 }>();
  #chain: Promise<void> = Promise.resolve();

  constructor(
    private readonly channel: Channel,
    private readonly options: ReleaseLedgerOptions,
  ) {}

  /** Run `step` after every step queued before it (deliveries keep their queue order). */
  serial(step: () => Promise<void>): void {
    this.#chain = this.#chain.then(step, step).catch(() => {});
  }

  /**
   * How many returns of the redelivered message `id` were releases (0 when no record). A `marker`
   * record is consumed here; a `count` record is held until {@link settled}.
   */
  async releasesOf(id: string): Promise<number> {
    if (!this.#held.has(id)) await this.#read();
    const record = this.#held.get(id);
    if (!record) return 0;
    if (this.options.kind === 'marker') {
      this.#held.delete(id);
      this.channel.ack(record.message);
      // amqplib writes frames on a later turn: let the ack leave the process before the handler
      // runs, so a handler that kills the process is seen as a crash, not as a release
      await new Promise<void>((resolve) => setImmediate(() => setImmediate(resolve)));
    }
    return record.releases;
  }

  /** A delivery handed over (or held after stop): it is given back with a record unless settled. */
  received(deliveryTag: number, id: string, releases: number): void {
    this.#unsettled.set(deliveryTag, { id, releases });
  }

  /** A delivery settled (acked, retried or dead-lettered): its record, if any, is done with. */
  settled(deliveryTag: number): void {
    const delivery = this.#unsettled.get(deliveryTag);
    if (!delivery) return;
    this.#unsettled.delete(deliveryTag);
    const record = this.#held.get(delivery.id);
    if (!record) return;
    this.#held.delete(delivery.id);
    try {
      this.channel.ack(record.message);
    } catch {
      // channel gone: the record goes back to the ledger with the delivery
    }
  }

  /**
   * Before the channel is closed on purpose: record a release for every unsettled delivery
   * (confirmed), then drop the records they replace. Rejects when the records were not stored (the
   * releases then count as attempts).
   */
  async recordReleases(): Promise<void> {
    // deliveries may still arrive (held) while records are written: repeat until none is left
    await this.#chain;
    while (this.#unsettled.size > 0) {
      const given = [...this.#unsettled];
      const records = given.map(([, d]) => ({
        id: d.id,
        releases: this.options.kind === 'count' ? d.releases + 1 : 1,
      }));
      await this.options.publish(records);
      for (const [tag, { id }] of given) {
        this.#unsettled.delete(tag);
        const replaced = this.#held.get(id);
        if (!replaced) continue;
        this.#held.delete(id);
        this.channel.ack(replaced.message);
      }
      await this.#chain;
    }
  }

  /** Read every record not held by another channel, and hold it. */
  async #read(): Promise<void> {
    for (let n = 0; n < MAX_RECORDS_PER_READ; n++) {
      const message = await this.channel.get(this.options.queue, { noAck: false });
      if (message === false) return;
      const record = decodeRecord(message.content);
      const earlier = record && this.#held.get(record.id);
      if (!record || (earlier && earlier.releases >= record.releases)) {
        this.channel.ack(message); // not a record, or superseded
        continue;
      }
      if (earlier) this.channel.ack(earlier.message);
      this.#held.set(record.id, { releases: record.releases, message });
    }
  }
}

/** Whether the broker has returned this delivery before (quorum count, or classic flag). */
function isRedelivery(received: ConsumeMessage): boolean {
  if (received.fields.redelivered) return true;
  const count = (received.properties.headers as Record<string, unknown> | undefined)?.['x-delivery-count'];
  return typeof count === 'number' && count > 0;
}

/** The release ledgers of one ordered subscription, one per consumer channel it opened. */
export class OrderedLedgers {
  readonly #ledgers = new WeakMap<Channel, ReleaseLedger>();

  constructor(
    private readonly queue: string,
    private readonly kind: LedgerKind,
    private readonly publish: (records: readonly ReleaseRecord[]) => Promise<void>,
    private readonly onError: (error: Error) => void,
  ) {}

  #of(channel: Channel): ReleaseLedger {
    let ledger = this.#ledgers.get(channel);
    if (!ledger) {
      ledger = new ReleaseLedger(channel, { queue: this.queue, kind: this.kind, publish: this.publish });
      this.#ledgers.set(channel, ledger);
    }
    return ledger;
  }

  /**
   * A delivery on `channel`, in queue order: looks up its releases when the broker returned it
   * before, registers it as unsettled, then calls `then` (still in queue order).
   */
  receive(
    received: ConsumeMessage,
    channel: Channel,
    then: (releases: number, ledger: ReleaseLedger) => void,
  ): void {
    const ledger = this.#of(channel);
    const { id } = decodeMessage(received).message;
    const redelivered = isRedelivery(received);
    ledger.serial(async () => {
      let releases = 0;
      if (redelivered) {
        try {
          releases = await ledger.releasesOf(id);
        } catch (error) {
          this.onError(
            rabbitError(
              'CONNECTION',
              `cannot read the release ledger ${this.queue}: earlier releases of ${id} count as attempts: ${describeError(error)}`,
              error,
            ),
          );
        }
      }
      ledger.received(received.fields.deliveryTag, id, releases);
      then(releases, ledger);
    });
  }

  /** Before `channel` is closed on purpose: record what it gives back (see {@link ReleaseLedger.recordReleases}). */
  async recordReleases(channel: Channel): Promise<void> {
    const ledger = this.#ledgers.get(channel);
    if (!ledger) return;
    try {
      await ledger.recordReleases();
    } catch (error) {
      throw rabbitError(
        'CONNECTION',
        `cannot record releases in ${this.queue}: the deliveries given back count as attempts: ${describeError(error)}`,
        error,
      );
    }
  }
}
