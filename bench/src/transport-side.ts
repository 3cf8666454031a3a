import type { Delivery, Transport, WireMessage } from '@carrier/core';
import type { ConsumeOptions, Consumption, Side } from './side.js';

const OCTET_STREAM = 'application/octet-stream';

/**
 * A transport driven directly through the SPI, without Carrier's engine: the floor under Carrier
 * on the same transport. It builds the least a transport needs (a counter id, no headers) and
 * acks each delivery right after the handler, so Carrier's own work (validation, encoding,
 * UUIDs, scheduling, decoding, settle bookkeeping) is what the comparison shows.
 */
export class TransportSide implements Side {
  #seq = 0;
  constructor(
    readonly label: string,
    private readonly transport: Transport,
  ) {}

  #wire(body: Uint8Array): WireMessage {
    return { id: String(++this.#seq), headers: {}, contentType: OCTET_STREAM, body, publishedAt: new Date() };
  }

  prepare(topic: string, group: string): Promise<void> {
    return this.transport.declare(topic, [group]);
  }

  publishOne(topic: string, payload: Uint8Array): Promise<void> {
    return this.transport.publish(topic, [this.#wire(payload)]);
  }

  publishBatch(topic: string, payloads: readonly Uint8Array[]): Promise<void> {
    return this.transport.publish(
      topic,
      payloads.map((p) => this.#wire(p)),
    );
  }

  async consume(
    topic: string,
    group: string,
    options: ConsumeOptions,
    onMessage: (payload: Uint8Array) => void | Promise<void>,
  ): Promise<Consumption> {
    const sink = (delivery: Delivery) => {
      const result = onMessage(delivery.message.body);
      if (result) void result.then(() => delivery.ack());
      else void delivery.ack();
    };
    const subscription = await this.transport.subscribe(
      topic,
      group,
      { prefetch: options.prefetch, ordered: false },
      sink,
    );
    return {
      stop: async () => {
        await subscription.stop();
        await subscription.close();
      },
    };
  }

  close(): Promise<void> {
    return this.transport.close();
  }
}
