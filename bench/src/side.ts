/**
 * One side of an A/B comparison: Carrier over a transport, or a broker's raw client doing the
 * same work with the same durability settings. The measurement code (measure.ts) drives both
 * sides identically, so the only difference measured is what the side itself does.
 */
export interface Side {
  /** `carrier` or the raw client's short name (`kafkajs`, `amqplib`, …). */
  readonly label: string;
  /** Create the topic and the group's durable subscription, outside any timed region. */
  prepare(topic: string, group: string): Promise<void>;
  /** Publish one message; resolves once the broker confirmed it durably. */
  publishOne(topic: string, payload: Uint8Array): Promise<void>;
  /** Publish several messages in one call; resolves once the broker confirmed all of them. */
  publishBatch(topic: string, payloads: readonly Uint8Array[]): Promise<void>;
  /**
   * Consume the group: `onMessage` gets each message's bytes; the side acknowledges the message
   * to the broker after `onMessage` returned (or its promise resolved), at most `prefetch`
   * messages unacknowledged at once.
   */
  consume(
    topic: string,
    group: string,
    options: ConsumeOptions,
    onMessage: (payload: Uint8Array) => void | Promise<void>,
  ): Promise<Consumption>;
  /** Close connections. */
  close(): Promise<void>;
  /**
   * A second, independent side doing the same (its own connection, same settings), for the A/A
   * calibration; undefined (or absent) when the side cannot make one. Closed with this side.
   */
  twin?(): Promise<Side> | undefined;
}

/** Consumer settings both sides of a comparison get. */
export interface ConsumeOptions {
  readonly prefetch: number;
  readonly concurrency: number;
}

/** A running consumer. */
export interface Consumption {
  stop(): Promise<void>;
}

/** Wall clock in milliseconds with sub-millisecond resolution, comparable across calls in one process. */
export function now(): number {
  return performance.timeOrigin + performance.now();
}

/** Bytes of the time stamp at the start of every payload: ASCII digits, so payloads stay valid UTF-8 text. */
export const STAMP_BYTES = 20;

/**
 * A payload of `size` bytes (at least {@link STAMP_BYTES}) whose first bytes carry the time it was
 * made, as ASCII (`0000001763897412345.678`-style, fixed width), followed by printable filler: every
 * payload is valid UTF-8, so SQS/SNS carry it as text on both sides (no base64 on either).
 */
export function stampedPayload(size: number, template: Uint8Array): Uint8Array {
  // Buffer.allocUnsafe slices small payloads out of a shared pool: the bench's own allocation
  // cost stays small next to what is measured. Buffer is a Uint8Array, passed through untouched.
  const bytes = Buffer.allocUnsafe(Math.max(STAMP_BYTES, size));
  bytes.set(template.subarray(0, bytes.length));
  bytes.write(now().toFixed(3).padStart(STAMP_BYTES, '0'), 0, STAMP_BYTES, 'latin1');
  return bytes;
}

/** The time stamped into a payload by `stampedPayload`. */
export function readStamp(payload: Uint8Array): number {
  return Number(Buffer.from(payload.buffer, payload.byteOffset, STAMP_BYTES).toString('latin1'));
}

/** Filler for payloads: printable, not all one byte (so compression, if any, has real work). */
export function payloadTemplate(size: number): Uint8Array {
  const bytes = new Uint8Array(Math.max(STAMP_BYTES, size));
  let x = 2463534242;
  for (let i = 0; i < bytes.length; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    bytes[i] = 33 + ((x >>> 0) % 94);
  }
  return bytes;
}

/** Run `task(i)` for i in 0..n-1 with at most `concurrency` in flight; rejects on the first failure. */
export async function pool(
  n: number,
  concurrency: number,
  task: (i: number) => Promise<void>,
): Promise<void> {
  let next = 0;
  const worker = async () => {
    while (next < n) {
      const i = next++;
      await task(i);
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, n) }, worker));
}
