import {
  AckPolicy,
  type ConsumerMessages,
  DeliverPolicy,
  DiscardPolicy,
  type JetStreamClient,
  type JetStreamManager,
  jetstream,
  jetstreamManager,
  RetentionPolicy,
  StorageType,
} from '@nats-io/jetstream';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import type { ConsumeOptions, Consumption, Side } from '../side.js';
import type { BrokerModule } from './types.js';

/** JetStream names cannot hold `.`: portable topic names map `.` to `_` (fresh bench names never collide). */
function streamOf(topic: string): string {
  return `RAW_${topic.replace(/\./g, '_')}`;
}

/**
 * @nats-io/jetstream 3.4 as an application would use it with the durability Carrier has: a
 * file-storage stream per topic (interest retention, 1 replica, as Carrier's default), a durable
 * pull consumer per group with explicit ack and max_ack_pending 1000 (Carrier's default), `js.publish`
 * awaiting the PubAck; consumption with `consume({ max_messages: prefetch })` and `m.ack()`.
 */
export class JetStreamSide implements Side {
  readonly label = 'jetstream';
  readonly #declared = new Set<string>();

  private constructor(
    private readonly nc: NatsConnection,
    private readonly js: JetStreamClient,
    private readonly jsm: JetStreamManager,
  ) {}

  static async connect(url: string): Promise<JetStreamSide> {
    const parsed = new URL(url);
    const nc = await connect({
      servers: `${parsed.hostname}:${parsed.port || '4222'}`,
      name: 'carrier-bench-raw',
    });
    return new JetStreamSide(nc, jetstream(nc), await jetstreamManager(nc));
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
    await this.js.publish(`raw.${topic}`, payload);
  }

  async publishBatch(topic: string, payloads: readonly Uint8Array[]): Promise<void> {
    // JetStream has no batch publish: every message is its own request, awaited together.
    await Promise.all(payloads.map((p) => this.js.publish(`raw.${topic}`, p)));
  }

  async consume(
    topic: string,
    group: string,
    options: ConsumeOptions,
    onMessage: (payload: Uint8Array) => void | Promise<void>,
  ): Promise<Consumption> {
    const consumer = await this.js.consumers.get(streamOf(topic), group);
    const messages: ConsumerMessages = await consumer.consume({ max_messages: options.prefetch });
    const loop = (async () => {
      for await (const m of messages) {
        const result = onMessage(m.data);
        if (result) void result.then(() => m.ack());
        else m.ack();
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
    'uses the idiomatic fire-and-forget m.ack().',
  async rawClients(url) {
    return [
      {
        side: await JetStreamSide.connect(url),
        reference: '@nats-io/jetstream 3.4.0 js.publish + PubAck, consume() + ack()',
      },
    ];
  },
};
export default mod;
