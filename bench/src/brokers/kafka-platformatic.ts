import { Admin, Consumer, Producer } from '@platformatic/kafka';
import { progress } from '../compare.js';
import type { ConsumeOptions, Consumption, Side } from '../side.js';
import { brokersOf, partitionsOf } from './kafka.js';
import type { BrokerModule } from './types.js';

/** The installed @platformatic/kafka version (its package.json, found from its entry point). */
async function version(): Promise<string> {
  const { readFileSync, existsSync } = await import('node:fs');
  const path = await import('node:path');
  const { fileURLToPath } = await import('node:url');
  // the package exports no ./package.json: walk up from the resolved entry point
  let dir = path.dirname(fileURLToPath(import.meta.resolve('@platformatic/kafka')));
  while (!existsSync(path.join(dir, 'package.json'))) dir = path.dirname(dir);
  return (JSON.parse(readFileSync(path.join(dir, 'package.json'), 'utf8')) as { version: string }).version;
}

/**
 * @platformatic/kafka (1.x, in this process) with the same durability as Carrier's Kafka adapter
 * on this driver: idempotent producer (which forces acks=-1 and one request in flight; one send at a
 * time), topics with
 * the adapter's partition count; a consumer group stream with autocommit and maxWaitTime 250 ms.
 */
class PlatformaticSide implements Side {
  readonly label = 'platformatic';
  readonly #declared = new Set<string>();
  readonly #producer: Producer;
  readonly #admin: Admin;
  /** The send under way (see `#send`). */
  #sending: Promise<void> = Promise.resolve();
  #seq = 0;

  constructor(
    private readonly brokers: string[],
    private readonly partitions: number,
  ) {
    this.#producer = new Producer({
      clientId: 'carrier-bench-platformatic',
      bootstrapBrokers: brokers,
      idempotent: true,
      acks: -1,
      autocreateTopics: false,
    });
    this.#admin = new Admin({ clientId: 'carrier-bench-platformatic-admin', bootstrapBrokers: brokers });
  }

  async prepare(topic: string): Promise<void> {
    if (this.#declared.has(topic)) return;
    await this.#admin.createTopics({ topics: [topic], partitions: this.partitions, replicas: 1 });
    await this.#admin.metadata({ topics: [topic] });
    this.#declared.add(topic);
  }

  publishOne(topic: string, payload: Uint8Array): Promise<void> {
    return this.#send([{ topic, value: Buffer.from(payload) }]);
  }

  publishBatch(topic: string, payloads: readonly Uint8Array[]): Promise<void> {
    return this.#send(payloads.map((p) => ({ topic, value: Buffer.from(p) })));
  }

  /**
   * One send at a time, as Carrier's driver sends: with sends in flight at once, the idempotent
   * producer of @platformatic/kafka 1.35 failed ("Producing messages failed") within a few thousand
   * confirmed single publishes (bench run of 2026-12-01 11:25 UTC), so an application keeping this
   * guarantee serializes them too.
   */
  #send(messages: { topic: string; value: Buffer }[]): Promise<void> {
    const sending = this.#sending.then(() => this.#producer.send({ messages }));
    this.#sending = sending.then(
      () => undefined,
      () => undefined,
    );
    return sending.then(() => undefined);
  }

  async consume(
    topic: string,
    group: string,
    _options: ConsumeOptions,
    onMessage: (payload: Uint8Array) => void | Promise<void>,
  ): Promise<Consumption> {
    const consumer = new Consumer({
      groupId: `${group}-${topic}-${++this.#seq}`,
      clientId: 'carrier-bench-platformatic-consumer',
      bootstrapBrokers: this.brokers,
      maxWaitTime: 250,
      sessionTimeout: 10_000,
      heartbeatInterval: 1_000,
    });
    const stream = await consumer.consume({
      topics: [topic],
      mode: 'committed',
      fallbackMode: 'earliest',
      autocommit: true,
    });
    stream.on('error', (e: Error) => progress(`platformatic consumer: ${e.message}`));
    stream.on('data', (message: { value: Buffer }) => {
      void onMessage(message.value);
    });
    return {
      stop: async () => {
        await stream.close();
        await consumer.close(true);
      },
    };
  }

  async close(): Promise<void> {
    await this.#producer.close();
    await this.#admin.close();
  }
}

/**
 * `--broker kafka-platformatic`: Carrier's Kafka adapter on its @platformatic/kafka driver
 * (`client=platformatic` added to `CARRIER_TEST_KAFKA_URL`) against @platformatic/kafka itself, in
 * this process on this Node.
 */
const mod: BrokerModule = {
  notes:
    'Both sides on @platformatic/kafka: idempotent producer (acks=-1, one request in flight), 3 partitions, RF 1. ' +
    'Carrier (kafka://…?client=platformatic) commits the offsets of settled messages with their delivery counts; ' +
    'the raw consumer stream autocommits.',
  async rawClients(url) {
    const parsed = new URL(url);
    return [
      {
        side: new PlatformaticSide(brokersOf(parsed), partitionsOf(parsed)),
        reference: `@platformatic/kafka ${await version()} idempotent producer acks=-1, consumer stream with autocommit (Node ${process.versions.node})`,
      },
    ];
  },
};
export default mod;
