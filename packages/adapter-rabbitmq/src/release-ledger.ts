import { describeError } from '@carrier/core/kit';
import type { Channel, ConsumeMessage, GetMessage } from 'amqplib';
import { rabbitError } from './errors.js';
import { decodeMessage } from './wire.js';

/**
 * Release records of an ordered group (a single-active-consumer queue).
 *
 * An ordered group gives deliveries back by closing its consumer channel: the broker then requeues
 * them at their place in the queue, before the next member becomes active, so per-key order holds.
 * A copy at the tail (how competing groups give back without charging an attempt, and how they make
 * a classic queue's crash count durable) would put a message behind later messages of its key. But
 * the broker counts a requeue like a crash: quorum queues add one to `x-delivery-count`, classic
 * queues only set `redelivered`. So an ordered group keeps what the broker cannot tell in the
 * group's ledger queue (`carrier:<topic>:<group>:releases`, confirmed publishes), read with
 * `basic.get` by the member that receives a redelivered message. Records are held unacked on the
 * consumer channel that read them, so a member that crashes gives them back with its deliveries.
 * Two kinds, after what the queue type counts:
 * - `count` (quorum queues, whose `x-delivery-count` counts every return): a record says how many
 *   returns of the message were releases; attempt = the broker's count − releases. It is held
 *   until the delivery is settled, and replaced by one with `releases + 1` when it is given back.
 * - `attempt` (classic queues): a record holds the attempt of the message's last delivery and
 *   whether that delivery was given back unprocessed (`released`). A redelivered message gets that
 *   attempt if it was released, one more if not (its member crashed), attempt + 1 over its header if
 *   there is no record (it crashed on its first delivery). Before such a delivery is handed over,
 *   a record of it (`released: false`) replaces the old one and is held until settlement; a release
 *   at close replaces it with `released: true`.
 *
 * When the ledger cannot be read or written, the broker's count is used as it is (a release then
 * counts as an attempt), and the failure goes to `onError`.
 */
export type LedgerKind = 'count' | 'attempt';

/** One ledger record (JSON in the ledger message body). */
export interface ReleaseRecord {
  readonly id: string;
  /** `count` kind: how many of the broker's returns of the message were releases (≥ 1). */
  readonly releases?: number;
  /** `attempt` kind: attempt of the message's last delivery. */
  readonly attempt?: number;
  /** `attempt` kind: whether that delivery was given back unprocessed. */
  readonly released?: boolean;
}

/** What a {@link ReleaseLedger} needs from the transport. */
export interface ReleaseLedgerOptions {
  /** The ledger queue (declared with the group, see `Topology.group`). */
  readonly queue: string;
  readonly kind: LedgerKind;
  /** Store records with publisher confirms; rejects when one is not stored. */
  readonly publish: (records: readonly ReleaseRecord[]) => Promise<void>;
}

/** What the ledger needs to know of one delivery. */
export interface LedgerDelivery {
  readonly id: string;
  readonly deliveryTag: number;
  /** The broker returned it before (quorum count > 0, or classic `redelivered`). */
  readonly redelivered: boolean;
  /** Attempt from the message's header alone (`carrier-attempt`, 1 when absent). */
  readonly base: number;
  /** Attempt counting every return the broker counted (`base` + returns). */
  readonly counted: number;
}

/** Most records read in one pass over the ledger: a bound, not an expected size. */
const MAX_RECORDS_PER_READ = 100_000;

const positive = (value: unknown): value is number =>
  typeof value === 'number' && Number.isSafeInteger(value) && value >= 1;

/** Encode a record as a ledger message body. */
export function encodeRecord(record: ReleaseRecord): Buffer {
  return Buffer.from(JSON.stringify(record));
}

/** Decode a ledger message body, or undefined when it is not a record. */
function decodeRecord(content: Buffer): ReleaseRecord | undefined {
  try {
    const value = JSON.parse(content.toString('utf8')) as Record<string, unknown>;
    if (typeof value.id !== 'string') return undefined;
    if (positive(value.releases)) return { id: value.id, releases: value.releases };
    if (positive(value.attempt) && typeof value.released === 'boolean') {
      return { id: value.id, attempt: value.attempt, released: value.released };
    }
    return undefined;
  } catch {
    return undefined;
  }
}

/** Which of two records of one message is the later one. */
function rank(record: ReleaseRecord): number {
  return record.releases ?? (record.attempt ?? 0) * 2 + (record.released ? 1 : 0);
}

/**
 * The ledger as seen from one consumer channel of an ordered group: the records it holds, the
 * deliveries on the channel not settled yet, and the order in which deliveries are handed over
 * (reading the ledger is asynchronous; deliveries still reach core in queue order).
 */
export class ReleaseLedger {
  readonly #held = new Map<string, { record: ReleaseRecord; message: GetMessage }>();
  /** Deliveries on this channel not settled yet, by delivery tag: id and the record a release writes. */
  readonly #unsettled = new Map<number, ReleaseRecord>();
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
   * The attempt of `delivery`, from the broker's count and the ledger (see the kinds above); the
   * delivery is then unsettled on this channel. Rejects when the ledger cannot be read or written.
   */
  async attemptOf(delivery: LedgerDelivery): Promise<number> {
    const { id } = delivery;
    if (!delivery.redelivered) {
      this.#unsettled.set(delivery.deliveryTag, this.#releaseRecord(id, delivery.base, 0));
      return this.options.kind === 'count' ? delivery.counted : delivery.base;
    }
    if (!this.#held.has(id)) await this.#read();
    const record = this.#held.get(id)?.record;
    if (this.options.kind === 'count') {
      const releases = record?.releases ?? 0;
      this.#unsettled.set(delivery.deliveryTag, this.#releaseRecord(id, 0, releases));
      return Math.max(1, delivery.counted - releases);
    }
    const attempt = !record ? delivery.base + 1 : record.released ? record.attempt! : record.attempt! + 1;
    // the record a crash of this delivery will be judged by, before any handler sees it
    await this.#replace(id, { id, attempt, released: false });
    this.#unsettled.set(delivery.deliveryTag, this.#releaseRecord(id, attempt, 0));
    return attempt;
  }

  /** A delivery settled (acked, retried or dead-lettered): its record, if any, is done with. */
  settled(deliveryTag: number): void {
    const delivery = this.#unsettled.get(deliveryTag);
    if (!delivery) return;
    this.#unsettled.delete(deliveryTag);
    const held = this.#held.get(delivery.id);
    if (!held) return;
    this.#held.delete(delivery.id);
    try {
      this.channel.ack(held.message);
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
      await this.options.publish(given.map(([, record]) => record));
      for (const [tag, { id }] of given) {
        this.#unsettled.delete(tag);
        this.#drop(id);
      }
      await this.#chain;
    }
  }

  /** The record a release of this delivery writes. */
  #releaseRecord(id: string, attempt: number, releases: number): ReleaseRecord {
    return this.options.kind === 'count' ? { id, releases: releases + 1 } : { id, attempt, released: true };
  }

  /** Store `record` (confirmed), drop the one it replaces, and hold the new one. */
  async #replace(id: string, record: ReleaseRecord): Promise<void> {
    await this.options.publish([record]);
    this.#drop(id);
    await this.#read();
  }

  #drop(id: string): void {
    const held = this.#held.get(id);
    if (!held) return;
    this.#held.delete(id);
    this.channel.ack(held.message);
  }

  /** Read every record not held by another channel, and hold it (the later one of two wins). */
  async #read(): Promise<void> {
    for (let n = 0; n < MAX_RECORDS_PER_READ; n++) {
      const message = await this.channel.get(this.options.queue, { noAck: false });
      if (message === false) return;
      const record = decodeRecord(message.content);
      const earlier = record && this.#held.get(record.id);
      if (!record || (earlier && rank(earlier.record) >= rank(record))) {
        this.channel.ack(message); // not a record, or superseded
        continue;
      }
      if (earlier) this.channel.ack(earlier.message);
      this.#held.set(record.id, { record, message });
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
   * A delivery on `channel`, in queue order: works out its attempt with the ledger, registers it as
   * unsettled, then calls `then` with the attempt (still in queue order).
   */
  receive(
    received: ConsumeMessage,
    channel: Channel,
    then: (attempt: number, ledger: ReleaseLedger) => void,
  ): void {
    const ledger = this.#of(channel);
    const decoded = decodeMessage(received);
    const delivery: LedgerDelivery = {
      id: decoded.message.id,
      deliveryTag: received.fields.deliveryTag,
      redelivered: isRedelivery(received),
      base: decoded.base,
      counted: decoded.attempt,
    };
    ledger.serial(async () => {
      let attempt = decoded.attempt;
      try {
        attempt = await ledger.attemptOf(delivery);
      } catch (error) {
        this.onError(
          rabbitError(
            'CONNECTION',
            `cannot use the release ledger ${this.queue}: ${delivery.id} gets the broker's count (attempt ${attempt}): ${describeError(error)}`,
            error,
          ),
        );
      }
      then(attempt, ledger);
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
