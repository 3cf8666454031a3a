import {
  AckPolicy,
  type ConsumerMessages,
  DeliverPolicy,
  DiscardPolicy,
  type JetStreamClient,
  type JetStreamManager,
  type JsMsg,
  jetstream,
  jetstreamManager,
  RetentionPolicy,
  StorageType,
} from '@nats-io/jetstream';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import type { ConsumeOptions, Consumption, Side } from '../side.js';
import type { BrokerModule, RawClient } from './types.js';

/** JetStream names cannot hold `.`: portable topic names map `.` to `_` (fresh bench names never collide). */
function streamOf(topic: string): string {
  return `RAW_${topic.replace(/\./g, '_')}`;
}

/** What the raw side guarantees beyond the idiomatic defaults. */
export interface JetStreamSideOptions {
  /**
   * Carrier's guarantees: each publish carries a unique `Nats-Msg-Id` (server de-duplication) and
   * the expected stream; each ack is `ackAck()`, awaited (the server confirmed it took the ack).
   */
  readonly confirmed: boolean;
}

/**
 * @nats-io/jetstream 3.4 as an application would use it with the durability Carrier has: a
 * file-storage stream per topic (interest retention, 1 replica, as Carrier's default), a durable
 * pull consumer per group with explicit ack and max_ack_pending 1000 (Carrier's default), `js.publish`
 * awaiting the PubAck; consumption with `consume({ max_messages: prefetch })` and `m.ack()`.
 */
export class JetStreamSide implements Side {
  readonly label: string;
  readonly #declared = new Set<string>();
  readonly #confirmed: boolean;
  /** `Nats-Msg-Id` of the confirmed variant: unique per process and message. */
  readonly #idPrefix = `${process.pid}-${Date.now().toString(36)}-`;
  #seq = 0;

  private constructor(
    private readonly nc: NatsConnection,
    private readonly js: JetStreamClient,
    private readonly jsm: JetStreamManager,
    options: JetStreamSideOptions,
  ) {
    this.#confirmed = options.confirmed;
    this.label = options.confirmed ? 'jetstream-confirmed' : 'jetstream';
  }

  static async connect(
    url: string,
    options: JetStreamSideOptions = { confirmed: false },
  ): Promise<JetStreamSide> {
    const parsed = new URL(url);
    const nc = await connect({
      servers: `${parsed.hostname}:${parsed.port || '4222'}`,
      name: options.confirmed ? 'carrier-bench-raw-confirmed' : 'carrier-bench-raw',
    });
    return new JetStreamSide(nc, jetstream(nc), await jetstreamManager(nc), options);
  }

  #publish(topic: string, payload: Uint8Array): Promise<unknown> {
    if (!this.#confirmed) return this.js.publish(`raw.${topic}`, payload);
    return this.js.publish(`raw.${topic}`, payload, {
      msgID: `${this.#idPrefix}${++this.#seq}`,
      expect: { streamName: streamOf(topic) },
    });
  }

  async prepare(topic: string, group: string): Promise<void> {
    const stream = streamOf(topic);
    if (!this.#declared.has(stream)) {
      await this.jsm.streams.add({
        name: stream,
        subjects: [`raw.${topic}`],
        storage: StorageType.File,
        retention: RetentionPolicy.Interest,
        num_replicas: 1,
        discard: DiscardPolicy.Old,
      });
      this.#declared.add(stream);
    }
    const key = `${stream}/${group}`;
    if (!this.#declared.has(key)) {
      await this.jsm.consumers.add(stream, {
        durable_name: group,
        ack_policy: AckPolicy.Explicit,
        max_ack_pending: 1000,
        deliver_policy: DeliverPolicy.All,
      });
      this.#declared.add(key);
    }
  }

  async publishOne(topic: string, payload: Uint8Array): Promise<void> {
    await this.#publish(topic, payload);
  }

  async publishBatch(topic: string, payloads: readonly Uint8Array[]): Promise<void> {
    // JetStream has no batch publish: every message is its own request, awaited together.
    await Promise.all(payloads.map((p) => this.#publish(topic, p)));
  }

  async consume(
    topic: string,
    group: string,
    options: ConsumeOptions,
    onMessage: (payload: Uint8Array) => void | Promise<void>,
  ): Promise<Consumption> {
    const consumer = await this.js.consumers.get(streamOf(topic), group);
    const messages: ConsumerMessages = await consumer.consume({ max_messages: options.prefetch });
    // the confirmed variant awaits each ack's confirmation off the loop, as Carrier's settle does
    const ack = this.#confirmed ? (m: JsMsg) => void m.ackAck().catch(() => {}) : (m: JsMsg) => m.ack();
    const loop = (async () => {
      for await (const m of messages) {
        const result = onMessage(m.data);
        if (result) void result.then(() => ack(m));
        else ack(m);
      }
    })();
    return {
      stop: async () => {
        await messages.close();
        await loop;
      },
    };
  }

  async close(): Promise<void> {
    await this.nc.drain();
  }
}

const mod: BrokerModule = {
  notes:
    'Both sides: file-storage stream, interest retention, 1 replica; publish awaits the PubAck (Carrier also sets Nats-Msg-Id ' +
    'for de-duplication and its headers); JetStream has no batch publish, so a batch is concurrent single publishes on both ' +
    'sides. Carrier settles with a confirmed ack (request/reply, the SPI requires knowing the broker took it); the raw side ' +
    "uses the idiomatic fire-and-forget m.ack(). The second raw side (figures .vs-confirmed) has Carrier's guarantees: a unique " +
    'Nats-Msg-Id and the expected stream on every publish, and ackAck() (the server confirms each ack).',
  async rawClients(url, skip) {
    const raws: RawClient[] = [
      {
        side: await JetStreamSide.connect(url),
        reference: '@nats-io/jetstream 3.4.0 js.publish + PubAck, consume() + ack()',
      },
    ];
    if (!skip.has('confirmed')) {
      raws.push({
        side: await JetStreamSide.connect(url, { confirmed: true }),
        reference:
          '@nats-io/jetstream 3.4.0 js.publish with a unique Nats-Msg-Id and expect.streamName + PubAck, consume() + ackAck() (confirmed acks, as Carrier)',
        suffix: '.vs-confirmed',
      });
    }
    return raws;
  },
};
export default mod;
