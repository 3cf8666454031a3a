import amqp, { type Channel, type ChannelModel, type ConfirmChannel, type Options } from 'amqplib';
import type { ConsumeOptions, Consumption, Side } from '../side.js';
import type { BrokerModule } from './types.js';

/** Carrier's own query parameters on an amqp URL; amqplib must not see them. */
const CARRIER_PARAMS = ['queueType', 'maxMessageBytes', 'recoveryTimeout', 'reconnectMaxDelay'];

/** The raw side's queue type: the same as Carrier's (`?queueType=`, default quorum). */
function queueTypeOf(url: URL): 'quorum' | 'classic' {
  return url.searchParams.get('queueType') === 'classic' ? 'classic' : 'quorum';
}

/**
 * amqplib 2.3 as an application would use it with the durability Carrier has: a durable topic
 * exchange per topic, a durable queue per group (quorum by default, as Carrier) bound with `#`,
 * persistent + mandatory publishes on a confirm channel, each publish awaiting its confirm;
 * consumers with `basic.qos` prefetch and manual ack.
 */
export class AmqplibSide implements Side {
  readonly label = 'amqplib';
  #publisher: Promise<ConfirmChannel> | undefined;
  readonly #declared = new Set<string>();

  private constructor(
    private readonly model: ChannelModel,
    private readonly queueType: 'quorum' | 'classic',
  ) {}

  static async connect(url: string): Promise<AmqplibSide> {
    const parsed = new URL(url);
    const queueType = queueTypeOf(parsed);
    for (const p of CARRIER_PARAMS) parsed.searchParams.delete(p);
    // noDelay as the adapter: Nagle's algorithm would hold small frames back ~40 ms
    return new AmqplibSide(await amqp.connect(parsed.toString(), { noDelay: true }), queueType);
  }

  #channel(): Promise<ConfirmChannel> {
    this.#publisher ??= this.model.createConfirmChannel();
    return this.#publisher;
  }

  async prepare(topic: string, group: string): Promise<void> {
    const key = `${topic}\n${group}`;
    if (this.#declared.has(key)) return;
    const channel = await this.model.createChannel();
    const args: Record<string, unknown> = this.queueType === 'quorum' ? { 'x-queue-type': 'quorum' } : {};
    await channel.assertExchange(`raw:${topic}`, 'topic', { durable: true });
    await channel.assertQueue(`raw:${topic}:${group}`, { durable: true, arguments: args });
    await channel.bindQueue(`raw:${topic}:${group}`, `raw:${topic}`, '#');
    await channel.close();
    this.#declared.add(key);
  }

  #publish(channel: ConfirmChannel, topic: string, payload: Uint8Array): Promise<void> {
    const options: Options.Publish = {
      persistent: true,
      mandatory: true,
      contentType: 'application/octet-stream',
    };
    return new Promise<void>((resolve, reject) => {
      channel.publish(
        `raw:${topic}`,
        '',
        Buffer.from(payload.buffer, payload.byteOffset, payload.byteLength),
        options,
        (err) => (err ? reject(err instanceof Error ? err : new Error('nack')) : resolve()),
      );
    });
  }

  async publishOne(topic: string, payload: Uint8Array): Promise<void> {
    await this.#publish(await this.#channel(), topic, payload);
  }

  async publishBatch(topic: string, payloads: readonly Uint8Array[]): Promise<void> {
    const channel = await this.#channel();
    await Promise.all(payloads.map((p) => this.#publish(channel, topic, p)));
  }

  async consume(
    topic: string,
    group: string,
    options: ConsumeOptions,
    onMessage: (payload: Uint8Array) => void | Promise<void>,
  ): Promise<Consumption> {
    const channel: Channel = await this.model.createChannel();
    await channel.prefetch(options.prefetch, false);
    const { consumerTag } = await channel.consume(
      `raw:${topic}:${group}`,
      (msg) => {
        if (!msg) return;
        const result = onMessage(msg.content);
        if (result) void result.then(() => channel.ack(msg));
        else channel.ack(msg);
      },
      { noAck: false },
    );
    return {
      stop: async () => {
        await channel.cancel(consumerTag);
        await channel.close();
      },
    };
  }

  async close(): Promise<void> {
    await this.model.close();
  }
}

/**
 * RabbitMQ PerfTest (com.rabbitmq:perf-test from Maven Central) as the ceiling: one producer with
 * publisher confirms and persistent messages, no consumer, for a fixed time.
 */
async function perfTest(
  url: string,
  settings: { size: number; batch: number },
): Promise<string | import('./types.js').CeilingResult> {
  const { runJavaTool } = await import('../java-tools.js');
  const parsed = new URL(url);
  for (const p of CARRIER_PARAMS) parsed.searchParams.delete(p);
  const seconds = 10;
  const result = await runJavaTool('perf-test', 'com.rabbitmq.perf.PerfTest', [
    '--uri',
    parsed.toString(),
    '--producers',
    '1',
    '--consumers',
    '0',
    '--size',
    String(settings.size),
    '--confirm',
    String(settings.batch),
    '--flag',
    'persistent',
    '--quorum-queue',
    '--queue',
    `bench-perftest-${Date.now()}`,
    '--auto-delete',
    'true',
    '--time',
    String(seconds),
  ]);
  if (typeof result === 'string') return result;
  // "id: test-…, sending rate avg: 12345 msg/s"
  const match = /sending rate avg:\s*([\d.]+)\s*msg\/s/.exec(result.stdout + result.stderr);
  if (!match) return `PerfTest printed no sending rate: ${(result.stdout + result.stderr).slice(-300)}`;
  const msgsPerS = Number(match[1]);
  return {
    tool: 'RabbitMQ PerfTest',
    msgsPerS,
    mbPerS: (msgsPerS * settings.size) / 1e6,
    detail: `PerfTest 1 producer, persistent, quorum queue, confirms with ${settings.batch} outstanding, ${seconds} s, no consumer`,
  };
}

const mod: BrokerModule = {
  notes:
    'Both sides: durable topic exchange, durable quorum queue bound with #, persistent + mandatory publishes on a confirm channel; ' +
    'consumer prefetch via basic.qos and manual ack. Carrier adds a message id, content type and its headers to every message.',
  async rawClients(url) {
    return [
      {
        side: await AmqplibSide.connect(url),
        reference: 'amqplib 2.3.1 confirm channel, persistent, quorum queue',
      },
    ];
  },
  ceiling: perfTest,
};
export default mod;
