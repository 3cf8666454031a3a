import type { DeadLetterDelivery, DeadLetterInfo, Delivery, WireMessage } from '@carrier/core';
import type { Msg } from '@nats-io/transport-node';
import { API, apiCode, fail } from './errors.js';
import type { Link } from './link.js';
import type { ReceiverSpec } from './liveness.js';
import { consumerName, deadLetterStream, deadLetterSubject, releaseSubject, topicStream } from './names.js';
import { native } from './native.js';
import type { Producer } from './producer.js';
import type { Pulled, Receiver } from './receiver.js';
import type { Releases } from './releases.js';
import {
  ACK,
  decodeDeadLetterInfo,
  decodePulled,
  encodeDeadLetterHeaders,
  headerBytes,
  MAX_REASON_CHARS,
  NAK,
  nakWithDelay,
  parseAckSubject,
  type Received,
  TERM,
} from './wire.js';

/** A delivery of one group's consumer, with the release record that belongs to it. */
interface GroupDelivery {
  readonly topic: string;
  readonly group: string;
  readonly pulled: Pulled;
  readonly received: Received;
  /** Subject of its release record. */
  readonly record: string;
  /** Releases recorded for it: its attempt is the server's delivery count minus these. */
  readonly releases: number;
}

/** What the {@link Receiver} of a subscription does with what it pulls. */
export type Handlers = Pick<ReceiverSpec, 'onMessage' | 'giveBack'>;

/**
 * Turns pulled messages into deliveries and settles them with the JetStream ack protocol, each
 * settlement confirmed by the server: ack `+ACK`, retry `-NAK` with a delay, release a release
 * record then `-NAK` (see {@link Releases}), dead letter a copy on the group's dead-letter subject
 * then `+TERM`. Dead letters are acked by deleting them from the dead-letter stream.
 */
export class Settlement {
  readonly #link: Link;
  readonly #producer: Producer;
  readonly #releases: Releases;

  constructor(link: Link, producer: Producer, releases: Releases) {
    this.#link = link;
    this.#producer = producer;
    this.#releases = releases;
  }

  /**
   * Handlers of a group's receiver. A first delivery goes to `sink` at once; a redelivery first
   * reads its release record (the server counted every delivery, releases included; those are
   * subtracted). What arrives after `stop()` is given back without charging an attempt.
   */
  group(topic: string, group: string, sink: (delivery: Delivery) => void): Handlers {
    const stream = topicStream(topic);
    const consumer = consumerName(group);
    const onMessage = (pulled: Pulled, receiver: Receiver) => {
      const received = decodePulled(pulled.msg);
      const record = releaseSubject(stream, consumer, received.seq);
      const d = { topic, group, pulled, received, record };
      if (received.attempt <= 1) {
        sink(this.#delivery({ ...d, releases: 0 }));
        return;
      }
      receiver.track(
        this.#releasesOf(record, received.wire.id).then((releases) => {
          if (receiver.stopped) {
            pulled.done();
            return this.#release({ ...d, releases });
          }
          const handOut = () => sink(this.#delivery({ ...d, releases }));
          if (pulled.receive) pulled.receive.handOut(handOut);
          else handOut();
        }),
      );
    };
    const giveBack = async (msg: Msg): Promise<void> => {
      const pulled: Pulled = { msg, done: () => {} };
      let received: Received;
      try {
        received = decodePulled(msg);
      } catch {
        msg.respond(NAK);
        return;
      }
      const record = releaseSubject(stream, consumer, received.seq);
      const releases =
        received.attempt > 1 ? await this.#releases.count(record, received.wire.id).catch(() => 0) : 0;
      await this.#release({ topic, group, pulled, received, record, releases });
    };
    return { onMessage, giveBack };
  }

  /** The `onMessage` of a dead-letter receiver on `stream` (the topic's dead-letter stream). */
  deadLetters(stream: string, sink: (delivery: DeadLetterDelivery) => void): ReceiverSpec['onMessage'] {
    return (pulled) => {
      const { wire, meta, seq } = decodePulled(pulled.msg);
      sink({
        message: wire,
        info: decodeDeadLetterInfo(meta, wire.publishedAt),
        ack: async () => {
          // removing means deleting it from the dead-letter stream, then acking the delivery
          await this.deleteDeadLetter(stream, seq);
          await this.#settle(pulled, ACK, `ack of dead letter ${wire.id}`);
        },
        release: async () => {
          await this.#settle(pulled, NAK, `release of dead letter ${wire.id}`);
        },
      });
    };
  }

  /**
   * Delete one dead letter from its stream; one already gone (redriven meanwhile) is no error.
   *
   * @throws CarrierError `CONNECTION`, `TIMEOUT` or `CLOSED`.
   */
  async deleteDeadLetter(stream: string, seq: number): Promise<void> {
    try {
      await this.#link.jsm.streams.deleteMessage(stream, seq, false);
    } catch (error) {
      if (apiCode(error) === API.noMessageFound) return; // already gone (redriven meanwhile)
      throw this.#link.wrap(error, `cannot delete dead letter ${stream}:${seq}`);
    }
  }

  /** Releases recorded for a redelivery; 0 (reported to `onError`) when the record cannot be read. */
  #releasesOf(record: string, id: string): Promise<number> {
    return this.#releases.count(record, id).catch((error: unknown) => {
      this.#link.onError(
        this.#link.wrap(error, `cannot tell whether ${id} was released; its attempt may count releases`),
      );
      return 0;
    });
  }

  #delivery(d: GroupDelivery): Delivery {
    const { pulled, received, record, releases } = d;
    const { wire } = received;
    const forget = () => {
      if (releases > 0) this.#releases.forget(record);
    };
    return {
      message: wire,
      attempt: Math.max(1, received.attempt - releases),
      lease: pulled.lease,
      ack: async () => {
        await this.#settle(pulled, ACK, `ack of ${wire.id}`);
        forget();
      },
      retry: async (delayMs) => {
        await this.#settle(pulled, nakWithDelay(delayMs), `retry of ${wire.id}`);
      },
      release: () => this.#release(d),
      deadLetter: async (info) => {
        await this.#deadLetter(d, info);
        forget();
      },
      native: (token) =>
        token === native.message
          ? native.message.wrap({ msg: pulled.msg, info: parseAckSubject(pulled.msg.reply ?? '') })
          : undefined,
    };
  }

  /**
   * Give back a delivery unprocessed without charging an attempt: record the release, then `-NAK`
   * (which the server counts as a delivery). If the record cannot be stored the delivery is given
   * back anyway (its next delivery then counts one attempt more) and `onError` hears why.
   */
  async #release(d: GroupDelivery): Promise<void> {
    const { id } = d.received.wire;
    await this.#releases.note(d.record, id, d.releases + 1);
    await this.#settle(d.pulled, NAK, `release of ${id}`);
  }

  /** Store a copy on the group's dead-letter subject, then `+TERM` the delivery. */
  async #deadLetter(d: GroupDelivery, info: DeadLetterInfo): Promise<void> {
    const { pulled, received } = d;
    const { wire } = received;
    try {
      await this.#publishDeadLetter(d.topic, d.group, wire, info, `${received.stream}:${received.seq}`);
    } catch (error) {
      // give the delivery back (after a second) so it is redelivered and dead-lettered again
      pulled.done();
      try {
        pulled.msg.respond(nakWithDelay(1_000));
      } catch {
        // closed: the server redelivers after ack_wait
      }
      throw error;
    }
    // term() without a reason: before server 2.11 a reason makes the server ignore the term
    await this.#settle(pulled, TERM, `dead letter of ${wire.id}`);
  }

  async #publishDeadLetter(
    topic: string,
    group: string,
    wire: WireMessage,
    info: DeadLetterInfo,
    source: string,
  ) {
    const msgId = `carrier-dlq:${source}:${consumerName(group)}`;
    const { maxPayload } = this.#link;
    let reasonChars = MAX_REASON_CHARS;
    let entries = encodeDeadLetterHeaders(wire, info, group, source, reasonChars);
    while (headerBytes(entries, msgId) + wire.body.byteLength > maxPayload && reasonChars > 0) {
      reasonChars = Math.floor(reasonChars / 2);
      entries = encodeDeadLetterHeaders(wire, info, group, source, reasonChars);
    }
    try {
      const subject = deadLetterSubject(topic, group);
      const stream = deadLetterStream(topic);
      await this.#producer.publishOne({ subject, stream, body: wire.body, entries, msgId });
    } catch (error) {
      throw this.#link.wrap(error, `dead letter of ${wire.id} not stored`);
    }
  }

  /** Send an ack-protocol message and wait for the server to confirm it took it. */
  async #settle(pulled: Pulled, payload: Uint8Array, what: string): Promise<void> {
    pulled.done();
    if (this.#link.nc.isClosed()) throw fail('CLOSED', `${what}: the connection is closed`);
    try {
      await this.#link.nc.request(pulled.msg.reply!, payload, {
        timeout: this.#link.settings.requestTimeoutMs,
      });
    } catch (error) {
      throw this.#link.wrap(error, what);
    }
  }
}
