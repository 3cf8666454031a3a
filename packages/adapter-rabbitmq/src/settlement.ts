import type { DeadLetterDelivery, DeadLetterInfo, Delivery } from '@carrier/core';
import { describeError } from '@carrier/core/kit';
import type { Channel, ConsumeMessage } from 'amqplib';
import { delayLevel } from './delay.js';
import { rabbitError } from './errors.js';
import { deadLetterQueueName, delayQueueName, groupQueueName, releaseLedgerName } from './names.js';
import { native } from './native.js';
import { publishAll } from './producer.js';
import { isChannelOpen, leaseOf, type ReceiverHandlers } from './receiver.js';
import { encodeRecord, OrderedLedgers, type ReleaseLedger, type ReleaseRecord } from './release-ledger.js';
import type { Session } from './session.js';
import type { QueueType } from './url.js';
import { copyProperties, decodeMessage, headerString } from './wire.js';

/** What the settlements of one group need from the transport. */
export interface GroupContext {
  readonly topic: string;
  readonly group: string;
  readonly queueType: QueueType;
  /** The current connection's session (waits during an outage). */
  readonly session: () => Promise<Session>;
  /** Problems with no caller (a redelivery that could not be recorded, a ledger failure). */
  readonly onError: (error: Error) => void;
}

/** Settle on `channel`, or fail with a coded error when the channel is gone (the broker redelivers). */
function settleOn(channel: Channel, what: string, settle: () => void): Promise<void> {
  const gone = (cause?: unknown) =>
    rabbitError(
      'CONNECTION',
      `cannot ${what}: the channel of this delivery is closed; the broker will redeliver it`,
      cause,
    );
  if (!isChannelOpen(channel)) return Promise.reject(gone());
  try {
    settle();
    return Promise.resolve();
  } catch (cause) {
    return Promise.reject(gone(cause));
  }
}

/**
 * Settlements of one group delivery that move a copy: the copy is published (with a confirm) by
 * whichever connection is current, then the original is acked; if the copy is not stored the
 * original is given back with `basic.nack` (requeue) so it is not lost.
 */
function copySettlements(context: GroupContext, received: ConsumeMessage, channel: Channel, id: string) {
  const { topic, group } = context;
  const queue = groupQueueName(topic, group);
  const copy = async (
    target: { queue: string; delayLevel?: number },
    changes: { attempt: number | undefined; deadLetter: DeadLetterInfo | undefined },
  ) => {
    const session = await context.session();
    if (target.delayLevel !== undefined) await session.topology.delayQueue(topic, group, target.delayLevel);
    await publishAll(session.publisher, [
      {
        exchange: '',
        routingKey: target.queue,
        content: received.content,
        options: { ...copyProperties(received.properties, { id, ...changes }), messageId: id },
      },
    ]);
  };
  const moveThenAck = async (what: string, move: () => Promise<void>) => {
    if (!isChannelOpen(channel)) {
      throw rabbitError(
        'CONNECTION',
        `cannot ${what}: the channel of this delivery is closed; the broker will redeliver it`,
      );
    }
    try {
      await move();
    } catch (error) {
      // the copy is not safely stored: give the original back so it is not lost
      await settleOn(channel, 'requeue', () => channel.nack(received, false, true)).catch(() => {});
      throw error;
    }
    await settleOn(channel, 'ack', () => channel.ack(received));
  };
  return {
    retry: (delayMs: number, nextAttempt: number) => {
      const level = delayLevel(delayMs);
      const target =
        level === 0 ? { queue } : { queue: delayQueueName(topic, group, level), delayLevel: level };
      return moveThenAck('retry', () => copy(target, { attempt: nextAttempt, deadLetter: undefined }));
    },
    deadLetter: (info: DeadLetterInfo, attempt: number) =>
      moveThenAck('dead-letter', () =>
        copy({ queue: deadLetterQueueName(topic, group) }, { attempt, deadLetter: info }),
      ),
    /** Back to the group queue (at its tail) as a copy whose next delivery has attempt `nextAttempt`. */
    requeueCopy: (nextAttempt: number) =>
      moveThenAck('release', () => copy({ queue }, { attempt: nextAttempt, deadLetter: undefined })),
  };
}

/** Let amqplib write the frames queued so far (it writes channel frames on a later `setImmediate`). */
function flushed(): Promise<void> {
  return new Promise<void>((resolve) => setImmediate(() => setImmediate(resolve)));
}

/**
 * The deliveries of one group subscription, from the broker to `sink` and back: the receiver's
 * handlers (see {@link ReceiverHandlers}) and the settlements of each delivery. Ordered groups
 * (single active consumer) keep their place in the queue and record releases in the group's release
 * ledger (see `release-ledger.ts`); other groups give back with a copy that keeps the attempt.
 */
export class GroupDeliveries implements ReceiverHandlers {
  /** Whether the group queue has a single active consumer (set when the topology is declared). */
  #singleActive: boolean;
  /** Ids whose copy is on its way to the group queue while the original is not acked yet. */
  readonly #copying = new Map<string, Promise<void>>();
  readonly #ledgers: OrderedLedgers;

  constructor(
    private readonly context: GroupContext,
    private readonly ordered: boolean,
    private readonly sink: (delivery: Delivery) => void,
  ) {
    this.#singleActive = ordered;
    const ledger = releaseLedgerName(context.topic, context.group);
    this.#ledgers = new OrderedLedgers(
      ledger,
      context.queueType === 'classic' ? 'attempt' : 'count',
      (records) => this.#publishRecords(ledger, records),
      (error) => context.onError(error),
    );
  }

  async prepare(session: Session, again: boolean): Promise<void> {
    const { topic, group } = this.context;
    if (again) session.topology.forget(topic, group);
    this.#singleActive = (await session.topology.group(topic, group, this.ordered)) === 'ordered';
  }

  deliver(received: ConsumeMessage, channel: Channel): void {
    const { message } = decodeMessage(received);
    const moving = this.#copying.get(message.id);
    if (moving) {
      // the copy of a delivery whose original is not acked yet: hand it over only once the ack
      // is sent, so that a crash in its handler cannot leave the original to be redelivered too
      void moving.then(() => this.#route(received, channel));
      return;
    }
    this.#route(received, channel);
  }

  holdUntilClose(): boolean {
    return this.#singleActive;
  }

  async giveBack(received: ConsumeMessage, channel: Channel): Promise<void> {
    // arrived after stop(): given back like a release, without charging an attempt
    const { message, attempt } = decodeMessage(received);
    await this.#track(
      message.id,
      copySettlements(this.context, received, channel, message.id).requeueCopy(attempt),
    );
  }

  held(received: ConsumeMessage, channel: Channel): void {
    if (this.#singleActive) this.#ledgers.receive(received, channel, () => {});
  }

  beforeClose(channel: Channel): Promise<void> {
    return this.#ledgers.recordReleases(channel);
  }

  #route(received: ConsumeMessage, channel: Channel): void {
    if (!this.#singleActive) {
      this.#handOver(received, channel, decodeMessage(received).attempt, undefined);
      return;
    }
    this.#ledgers.receive(received, channel, (attempt, ledger) =>
      this.#handOver(received, channel, attempt, ledger),
    );
  }

  /** Remember that the copy of `id` is on its way until `moving` settled and its ack left the process. */
  #track(id: string, moving: Promise<void>): Promise<void> {
    // wait two turns so the ack has left the process before the copy's handler runs (a handler that
    // kills the process would lose it)
    const settled = moving.then(flushed, flushed);
    this.#copying.set(id, settled);
    void settled.then(() => {
      if (this.#copying.get(id) === settled) this.#copying.delete(id);
    });
    return moving;
  }

  /** Store release records in the group's ledger queue, with publisher confirms. */
  async #publishRecords(queue: string, records: readonly ReleaseRecord[]): Promise<void> {
    const session = await this.context.session();
    await publishAll(
      session.publisher,
      records.map((record) => ({
        exchange: '',
        routingKey: queue,
        content: encodeRecord(record),
        options: { persistent: true, messageId: record.id, contentType: 'application/json' },
      })),
    );
  }

  /**
   * Hand one delivery to the sink with its `attempt` (the broker's count, corrected by the release
   * ledger in ordered groups); `ledger`: the ledger of its channel (ordered groups only).
   */
  #handOver(received: ConsumeMessage, channel: Channel, attempt: number, ledger: ReleaseLedger | undefined) {
    const { message } = decodeMessage(received);
    const settle = copySettlements(this.context, received, channel, message.id);
    const tag = received.fields.deliveryTag;
    const settled = <T>(done: Promise<T>): Promise<T> =>
      ledger
        ? done.then((value) => {
            ledger.settled(tag);
            return value;
          })
        : done;
    if (this.context.queueType === 'classic' && received.fields.redelivered && !ledger) {
      // a classic queue only flags a redelivery (a consumer crashed or lost its channel): make the
      // count durable with a copy that carries it (attempt + 1), then drop the original unseen (an
      // ordered group keeps the count in its ledger instead, so the message keeps its place)
      void settled(this.#track(message.id, settle.requeueCopy(attempt))).catch((error: unknown) => {
        this.context.onError(
          rabbitError(
            'CONNECTION',
            `cannot record the redelivery of ${message.id} (it stays in the queue): ${describeError(error)}`,
            error,
          ),
        );
      });
      return;
    }
    this.sink({
      message,
      attempt,
      lease: leaseOf(channel),
      ack: () => settled(settleOn(channel, 'ack', () => channel.ack(received))),
      retry: (delayMs) => settled(this.#track(message.id, settle.retry(delayMs, attempt + 1))),
      deadLetter: (info) => settled(settle.deadLetter(info, attempt)),
      // ordered (single active consumer): keep it until the channel closes, which gives it back in
      // queue order before the next member becomes active (see ReceiverHandlers.holdUntilClose),
      // with a release record (release-ledger.ts); otherwise a copy with the same attempt (the
      // broker would count a requeue as a delivery)
      release: ledger ? () => Promise.resolve() : () => this.#track(message.id, settle.requeueCopy(attempt)),
      native: (token) => (token === native.message ? native.message.wrap(received) : undefined),
    });
  }
}

/** The receiver's handlers for a group's dead-letter queue: each dead letter to `sink`. */
export function deadLetterDeliveries(
  topic: string,
  group: string,
  sink: (delivery: DeadLetterDelivery) => void,
): ReceiverHandlers {
  return {
    prepare: async (session, again) => {
      if (again) session.topology.forget(topic, group);
      await session.topology.group(topic, group, false);
    },
    deliver: (received, channel) => {
      const { message, attempt, deadLetter } = decodeMessage(received);
      const headers = (received.properties.headers ?? {}) as Record<string, unknown>;
      const brokerReason = headerString(headers['x-first-death-reason']);
      sink({
        message,
        info: deadLetter ?? {
          reason: brokerReason === undefined ? 'unknown' : `dead-lettered by RabbitMQ: ${brokerReason}`,
          attempts: attempt,
          failedAt: new Date(0),
        },
        ack: () => settleOn(channel, 'ack', () => channel.ack(received)),
        release: () => settleOn(channel, 'release', () => channel.nack(received, false, true)),
      });
    },
  };
}
