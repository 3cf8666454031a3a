import type { ReadRecord, WrittenRecord } from '@carrier/adapter-kafka/driver-kit';
import type { MessageToProduce, Message as PlatformaticMessage } from '@platformatic/kafka';

/**
 * A record in the shape adapter-kafka's wire code writes (kafkajs `Message`: string or Buffer
 * headers, string timestamp) as a @platformatic/kafka message to produce: the same key, value,
 * headers and timestamp, so that either driver reads it back intact.
 */
export function toProduced(topic: string, record: WrittenRecord): MessageToProduce {
  const headers = new Map<Buffer, Buffer>();
  for (const [k, v] of Object.entries(record.headers ?? {})) {
    const values = Array.isArray(v) ? v : [v];
    for (const value of values) {
      if (value === undefined) continue;
      headers.set(Buffer.from(k), Buffer.isBuffer(value) ? value : Buffer.from(String(value)));
    }
  }
  const { key, value } = record;
  return {
    topic,
    ...(key === null || key === undefined ? {} : { key: Buffer.isBuffer(key) ? key : Buffer.from(key) }),
    value: value === null ? Buffer.alloc(0) : Buffer.isBuffer(value) ? value : Buffer.from(value),
    headers,
    ...(record.timestamp === undefined ? {} : { timestamp: BigInt(record.timestamp) }),
  };
}

/**
 * A @platformatic/kafka message read as the record adapter-kafka's wire code decodes (kafkajs
 * `ReadRecord`: header values as Buffers, the last value of a repeated key; offset and timestamp
 * as decimal strings).
 */
export function toRead(message: PlatformaticMessage): ReadRecord {
  const headers: Record<string, Buffer> = {};
  for (const [k, v] of message.headers) headers[k.toString('utf8')] = v;
  const key = message.key as Buffer | undefined | null;
  const value = message.value as Buffer | undefined | null;
  return {
    key: key && key.length > 0 ? key : null, // a keyless record: null, as kafkajs reads it
    value: value ?? null,
    headers,
    timestamp: String(message.timestamp),
    offset: String(message.offset),
    attributes: 0,
  } satisfies ReadRecord;
}
