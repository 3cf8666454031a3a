import type { Carrier } from '@carrier/core';
import type { ConsumeOptions, Consumption, Side } from './side.js';

/**
 * Carrier as one side of the comparison: the public API exactly as an application uses it.
 * Bodies are `Uint8Array`, which Carrier passes through untouched (content type
 * application/octet-stream), so both sides carry the same bytes.
 */
export class CarrierSide implements Side {
  #twin: Promise<CarrierSide> | undefined;

  /**
   * @param label the side's name in progress lines and topic names (default `carrier`).
   * @param reconnect makes a second, independent Carrier with the same settings (its own
   *   connection and transport): the A/A side `compare` measures with, see {@link CarrierSide.twin}.
   */
  constructor(
    private readonly carrier: Carrier,
    readonly label = 'carrier',
    private readonly reconnect?: () => Promise<Carrier>,
  ) {}

  /**
   * The A/A side: `<label>-b`, a Carrier from `reconnect`, made on first call and closed with this
   * side. Undefined without `reconnect`.
   */
  twin(): Promise<Side> | undefined {
    const reconnect = this.reconnect;
    if (!reconnect) return undefined;
    this.#twin ??= reconnect().then((c) => new CarrierSide(c, `${this.label}-b`));
    return this.#twin;
  }

  async prepare(topic: string, group: string): Promise<void> {
    await this.carrier.declare(topic, [group]);
  }

  async publishOne(topic: string, payload: Uint8Array): Promise<void> {
    await this.carrier.publish(topic, payload);
  }

  async publishBatch(topic: string, payloads: readonly Uint8Array[]): Promise<void> {
    await this.carrier.publishBatch(
      topic,
      payloads.map((body) => ({ body })),
    );
  }

  async consume(
    topic: string,
    group: string,
    options: ConsumeOptions,
    onMessage: (payload: Uint8Array) => void | Promise<void>,
  ): Promise<Consumption> {
    const subscription = await this.carrier.subscribe(
      topic,
      { group, prefetch: options.prefetch, concurrency: options.concurrency },
      (msg) => onMessage(msg.raw),
    );
    return { stop: () => subscription.close() };
  }

  async close(): Promise<void> {
    const twin = this.#twin;
    this.#twin = undefined;
    await Promise.all([this.carrier.close(), twin?.then((t) => t.close())]);
  }
}
