import type { CarrierError, WireMessage } from '@carrier/core';
import { nothingPublished, publishFailed } from '@carrier/core/kit';
import type { PubAck } from '@nats-io/jetstream';
import { type MsgHdrs, headers as natsHeaders } from '@nats-io/transport-node';
import { fail, TRANSPORT } from './errors.js';
import type { Link } from './link.js';
import { scheduleSubject, topicStream, topicSubject } from './names.js';
import type { Topology } from './topology.js';
import {
  encodeHeaders,
  type HeaderEntries,
  headerBytes,
  NATS_SCHEDULE,
  NATS_SCHEDULE_TARGET,
  needsEncoding,
} from './wire.js';

/** Most publishes awaiting their PubAck at once, per publish call. */
const PUBLISH_WINDOW = 512;

/** `Nats-Msg-Id` of a Carrier id: the id itself, percent-encoded if a header line could not hold it. */
function msgIdOf(id: string): string {
  return needsEncoding(id) ? encodeURIComponent(id) : id;
}

function toHeaders(entries: HeaderEntries): MsgHdrs {
  const h = natsHeaders();
  for (const [name, value] of entries) h.append(name, value);
  return h;
}

/**
 * A delayed message as a JetStream message schedule (server 2.12+, ADR-51): stored on its own
 * schedule subject with `Nats-Schedule: @at <RFC 3339>` and `Nats-Schedule-Target` = the topic's
 * subject; when due the server publishes a copy to the target (its `Nats-Schedule*` and
 * `Nats-Msg-Id` headers stripped, `Nats-Scheduler` added) and purges the schedule. The server fires
 * a schedule when its time has passed on the server's clock, never before; milliseconds are kept.
 */
function scheduled(
  topic: string,
  id: string,
  deliverAt: Date,
  entries: HeaderEntries,
): { subject: string; entries: HeaderEntries } {
  return {
    subject: scheduleSubject(topic, id),
    entries: [
      ...entries,
      [NATS_SCHEDULE, `@at ${deliverAt.toISOString()}`],
      [NATS_SCHEDULE_TARGET, topicSubject(topic)],
    ],
  };
}

/** One JetStream publish: where it goes and what it carries. */
export interface Outgoing {
  readonly subject: string;
  /** The stream that must store it (`expect.streamName`): a publish another stream takes fails. */
  readonly stream: string;
  readonly body: Uint8Array;
  readonly entries: HeaderEntries;
  /** `Nats-Msg-Id`: a repeated publish with the same id within the duplicate window is dropped by the server. */
  readonly msgId: string;
}

/**
 * Publishes to JetStream, each publish confirmed by its PubAck. A batch goes out through a window
 * of {@link PUBLISH_WINDOW} publishes in flight; `Nats-Msg-Id` = the Carrier id, so a retried
 * publish is de-duplicated by the server.
 */
export class Producer {
  readonly #link: Link;
  readonly #topology: Topology;

  constructor(link: Link, topology: Topology) {
    this.#link = link;
    this.#topology = topology;
  }

  /**
   * Publish `messages` to the topic's stream (created on first use), all at once.
   *
   * @throws CarrierError `MESSAGE_TOO_LARGE` before anything is sent; `PUBLISH_FAILED` with one
   *   failure per unconfirmed message (every message when the stream cannot be ensured).
   */
  async publish(topic: string, messages: readonly WireMessage[]): Promise<void> {
    const prepared = messages.map((m) => {
      const entries = encodeHeaders(m);
      this.#checkSize(entries, m.body, msgIdOf(m.id));
      return entries;
    });
    const delayed = messages.some((m) => m.deliverAt !== undefined);
    try {
      await this.#topology.topicStream(topic);
      if (delayed) await this.#topology.schedules(topic);
    } catch (error) {
      throw nothingPublished(
        TRANSPORT,
        topic,
        messages,
        this.#link.wrap(error, `cannot publish to ${topic}`),
      );
    }
    const subject = topicSubject(topic);
    const stream = topicStream(topic);
    if (messages.length === 1) {
      // one message (every publish() of the API): no window of workers around a single await
      const m = messages[0]!;
      const out = m.deliverAt
        ? scheduled(topic, m.id, m.deliverAt, prepared[0]!)
        : { subject, entries: prepared[0]! };
      try {
        await this.publishOne({ ...out, stream, body: m.body, msgId: msgIdOf(m.id) });
      } catch (error) {
        this.#topology.recheckTopic(topic);
        throw publishFailed(
          TRANSPORT,
          topic,
          messages,
          new Map([[0, this.#link.wrap(error, `publish of ${m.id} not confirmed`)]]),
        );
      }
      return;
    }
    const failures = new Map<number, CarrierError>();
    let next = 0;
    const worker = async () => {
      for (let index = next++; index < messages.length; index = next++) {
        const m = messages[index]!;
        const msgId = msgIdOf(m.id);
        const out = m.deliverAt
          ? scheduled(topic, m.id, m.deliverAt, prepared[index]!)
          : { subject, entries: prepared[index]! };
        try {
          await this.publishOne({ ...out, stream, body: m.body, msgId });
        } catch (error) {
          failures.set(index, this.#link.wrap(error, `publish of ${m.id} not confirmed`));
        }
      }
    };
    await Promise.all(Array.from({ length: Math.min(PUBLISH_WINDOW, messages.length) }, worker));
    if (failures.size > 0) {
      // the stream may have been deleted behind Carrier's back: look again next time
      this.#topology.recheckTopic(topic);
      throw publishFailed(TRANSPORT, topic, messages, failures);
    }
  }

  /** One publish, resolved by its PubAck (rejects with the nats.js error). */
  publishOne(out: Outgoing): Promise<PubAck> {
    return this.#link.js.publish(out.subject, out.body, {
      msgID: out.msgId,
      headers: toHeaders(out.entries),
      expect: { streamName: out.stream },
      timeout: this.#link.settings.requestTimeoutMs,
    });
  }

  #checkSize(entries: HeaderEntries, body: Uint8Array, msgId: string | undefined): void {
    const size = headerBytes(entries, msgId) + body.byteLength;
    if (size > this.#link.maxPayload) {
      throw fail(
        'MESSAGE_TOO_LARGE',
        `message of ${size} bytes with its NATS headers exceeds the server's max_payload of ${this.#link.maxPayload}`,
      );
    }
  }
}
