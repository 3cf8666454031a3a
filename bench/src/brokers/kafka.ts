import kafkajs, { type Admin, type Consumer, type Producer } from 'kafkajs';
import type { ConsumeOptions, Consumption, Side } from '../side.js';
import type { BrokerModule, CeilingResult, RawClient } from './types.js';

// kafkajs is CommonJS: take its values from the default export (named imports of values fail in ESM).
const { Kafka, logLevel, Partitioners } = kafkajs;

/** Partitions of the raw side's topics: the Kafka adapter's default (`?partitions=`, 3). */
export function partitionsOf(url: URL): number {
  return Number(url.searchParams.get('partitions') ?? 3);
}

/** `host:port` bootstrap list of a `kafka://` URL. */
export function brokersOf(url: URL): string[] {
  const extra = url.searchParams.get('brokers');
  return [`${url.hostname}:${url.port || '9092'}`, ...(extra ? extra.split(',') : [])];
}

/**
 * kafkajs 2.2.4 as an application would use it with the durability Carrier has: topics with the
 * adapter's partition count (replication factor 1 on this single broker), an idempotent producer
 * (maxInFlightRequests 1, as the adapter) sending with acks=-1; a consumer group with eachMessage,
 * auto-commit after each batch, maxWaitTimeInMs 250 (the adapter's default).
 */
export class KafkajsSide implements Side {
  readonly label: string;
  readonly #declared = new Set<string>();
  #producer: Promise<Producer> | undefined;
  #seq = 0;

  /**
   * `committed`: Carrier's acknowledgement on the consumer side: no auto-commit; after each
   * message's handler the consumer commits that message's offset and waits for the broker to
   * accept it before taking the partition's next message (Carrier's `ack()` resolves only once the
   * offset commit covering it was accepted).
   */
  private constructor(
    private readonly kafka: InstanceType<typeof Kafka>,
    private readonly admin: Admin,
    private readonly partitions: number,
    private readonly committed: boolean,
  ) {
    this.label = committed ? 'kafkajs-committed' : 'kafkajs';
  }

  static async connect(url: string, committed = false): Promise<KafkajsSide> {
    const parsed = new URL(url);
    const kafka = new Kafka({
      clientId: 'carrier-bench-raw',
      brokers: brokersOf(parsed),
      logLevel: logLevel.NOTHING,
    });
    const admin = kafka.admin();
    await admin.connect();
    return new KafkajsSide(kafka, admin, partitionsOf(parsed), committed);
  }

  #getProducer(): Promise<Producer> {
    this.#producer ??= (async () => {
      const producer = this.kafka.producer({
        idempotent: true,
        maxInFlightRequests: 1,
        allowAutoTopicCreation: false,
        createPartitioner: Partitioners.DefaultPartitioner,
      });
      await producer.connect();
      return producer;
    })();
    return this.#producer;
  }

  async prepare(topic: string): Promise<void> {
    if (this.#declared.has(topic)) return;
    await this.admin.createTopics({
      topics: [{ topic, numPartitions: this.partitions, replicationFactor: 1 }],
      waitForLeaders: true,
    });
    await this.admin.fetchTopicMetadata({ topics: [topic] });
    this.#declared.add(topic);
  }

  async publishOne(topic: string, payload: Uint8Array): Promise<void> {
    await (await this.#getProducer()).send({ topic, acks: -1, messages: [{ value: Buffer.from(payload) }] });
  }

  async publishBatch(topic: string, payloads: readonly Uint8Array[]): Promise<void> {
    await (await this.#getProducer()).send({
      topic,
      acks: -1,
      messages: payloads.map((p) => ({ value: Buffer.from(p) })),
    });
  }

  async consume(
    topic: string,
    group: string,
    _options: ConsumeOptions,
    onMessage: (payload: Uint8Array) => void | Promise<void>,
  ): Promise<Consumption> {
    const consumer: Consumer = this.kafka.consumer({
      groupId: `${group}-${topic}-${++this.#seq}`,
      maxWaitTimeInMs: 250,
      sessionTimeout: 10_000,
      heartbeatInterval: 1_000,
    });
    const joined = new Promise<void>((resolve) => consumer.on(consumer.events.GROUP_JOIN, () => resolve()));
    await consumer.connect();
    await consumer.subscribe({ topics: [topic], fromBeginning: true });
    if (this.committed) {
      await consumer.run({
        autoCommit: false,
        eachMessage: async ({ topic: from, partition, message }) => {
          if (message.value) await onMessage(message.value);
          const next = String(BigInt(message.offset) + 1n);
          await consumer.commitOffsets([{ topic: from, partition, offset: next }]);
        },
      });
    } else {
      await consumer.run({
        eachMessage: async ({ message }) => {
          if (message.value) await onMessage(message.value);
        },
      });
    }
    await joined;
    return { stop: () => consumer.disconnect() };
  }

  async close(): Promise<void> {
    if (this.#producer) await (await this.#producer).disconnect();
    await this.admin.disconnect();
  }
}

/**
 * Kafka's producer perf test (org.apache.kafka.tools.ProducerPerformance from the kafka-tools jar on
 * Maven Central) as the ceiling: acks=all, idempotent, max.in.flight 1 as the adapter, on a fresh topic.
 */
async function producerPerf(
  url: string,
  settings: { messages: number; size: number },
): Promise<CeilingResult | string> {
  const { runJavaTool } = await import('../java-tools.js');
  const parsed = new URL(url);
  const brokers = brokersOf(parsed).join(',');
  const topic = `bench-producer-perf-${Date.now()}`;
  const kafka = new Kafka({
    clientId: 'carrier-bench-ceiling',
    brokers: brokersOf(parsed),
    logLevel: logLevel.NOTHING,
  });
  const admin = kafka.admin();
  await admin.connect();
  try {
    await admin.createTopics({
      topics: [{ topic, numPartitions: partitionsOf(parsed), replicationFactor: 1 }],
      waitForLeaders: true,
    });
  } finally {
    await admin.disconnect();
  }
  const records = Math.max(settings.messages, 50_000);
  const result = await runJavaTool('kafka-tools', 'org.apache.kafka.tools.ProducerPerformance', [
    '--topic',
    topic,
    '--num-records',
    String(records),
    '--record-size',
    String(settings.size),
    '--throughput',
    '-1',
    '--producer-props',
    `bootstrap.servers=${brokers}`,
    'acks=all',
    'enable.idempotence=true',
    'max.in.flight.requests.per.connection=1',
  ]);
  if (typeof result === 'string') return result;
  // final line: "50000 records sent, 41152.263374 records/sec (40.19 MB/sec), …"
  const lines = result.stdout.trim().split('\n');
  const match = /records sent,\s*([\d.]+) records\/sec \(([\d.]+) MB\/sec\)/.exec(
    lines[lines.length - 1] ?? '',
  );
  if (!match) return `ProducerPerformance printed no summary: ${result.stdout.slice(-300)}`;
  return {
    tool: 'kafka ProducerPerformance 4.3.1',
    msgsPerS: Number(match[1]),
    mbPerS: (Number(match[1]) * settings.size) / 1e6,
    detail: `ProducerPerformance ${records} records of ${settings.size} B, acks=all, idempotent, max.in.flight 1, Java client defaults (batch.size 16 KiB, linger.ms 5)`,
  };
}

const mod: BrokerModule = {
  notes:
    'Both sides: idempotent producer, maxInFlightRequests 1, acks=-1, 3 partitions, RF 1 (single broker). A Carrier ' +
    'record carries its id, content type and publishedAt as Kafka headers. Consumers: Carrier commits offsets of settled ' +
    'messages itself (eachBatch, manual commit); kafkajs eachMessage auto-commits after each batch. The second kafkajs side ' +
    "(figures .vs-committed) commits each message's offset after its handler and awaits it, as Carrier's ack does.",
  async rawClients(url, skip) {
    const clients: RawClient[] = [
      {
        side: await KafkajsSide.connect(url),
        reference: `kafkajs 2.2.4 idempotent producer acks=-1, eachMessage consumer (Node ${process.versions.node})`,
      },
    ];
    if (!skip.has('committed')) {
      clients.push({
        side: await KafkajsSide.connect(url, true),
        reference:
          "kafkajs 2.2.4 as the main side, the consumer committing each message's offset after its handler and awaiting the commit (as Carrier's ack)",
        suffix: '.vs-committed',
      });
    }
    return clients;
  },
  ceiling: producerPerf,
};
export default mod;
