import type { DeadLetterInfo, WireMessage } from '@carrier/core';
import { isMetadataHeader, metadataFromHeaders, metadataHeaders } from '@carrier/core/kit';
import type { IHeaders, KafkaMessage, Message } from 'kafkajs';

/**
 * Record headers Carrier writes next to the user's headers. User header keys may not start with
 * `carrier-` (core rejects them), so these never collide with user headers. Timestamps are
 * ISO-8601 UTC strings with milliseconds.
 */
export const HEADERS = {
  /** Message id (a redelivery or dead letter keeps it). */
  id: 'carrier-id',
  /** MIME type of the record value. */
  contentType: 'carrier-content-type',
  /** When the producer published the message. */
  publishedAt: 'carrier-published-at',
  /** Delivery attempt of this copy (retry-topic copies only; absent means 1). */
  attempt: 'carrier-attempt',
  /** Not to be delivered before this time (retry-topic copies only). */
  dueAt: 'carrier-due-at',
  /** Dead letters: the failure reason (the handler's error message). */
  deadLetterReason: 'carrier-dead-letter-reason',
  /** Dead letters: how many deliveries were attempted. */
  deadLetterAttempts: 'carrier-dead-letter-attempts',
  /** Dead letters: when the message was dead-lettered. */
  deadLetterAt: 'carrier-dead-letter-at',
} as const;

/** Prefix reserved for Carrier's own headers (case-insensitive). */
export const RESERVED_PREFIX = 'carrier-';

/** Content type assumed for records without a content type header (bodies arrive as bytes). */
export const DEFAULT_CONTENT_TYPE = 'application/octet-stream';

/** Longest dead-letter reason written, in characters; longer reasons are cut (the record must fit the broker limit). */
export const MAX_REASON_CHARS = 1_000;

/**
 * Bytes reserved for Carrier's headers and Kafka's record and batch framing: the advertised
 * `maxMessageBytes` is the broker limit minus this, so every copy (retry, dead letter) still fits.
 */
export const RECORD_OVERHEAD_BYTES = 4_096;

/** Extra headers for the copy written to a retry topic. */
export function retryHeaders(attempt: number, dueAt: Date): Record<string, string> {
  return { [HEADERS.attempt]: String(attempt), [HEADERS.dueAt]: dueAt.toISOString() };
}

/** Extra headers for the copy written to a dead-letter topic. */
export function deadLetterHeaders(info: DeadLetterInfo): Record<string, string> {
  const reason =
    info.reason.length > MAX_REASON_CHARS ? `${info.reason.slice(0, MAX_REASON_CHARS)}…` : info.reason;
  return {
    [HEADERS.deadLetterReason]: reason,
    [HEADERS.deadLetterAttempts]: String(info.attempts),
    [HEADERS.deadLetterAt]: info.failedAt.toISOString(),
  };
}

/**
 * The Kafka record of a message: key → record key, body → record value (the same bytes, no copy),
 * user headers as they are (Kafka header keys are any UTF-8 string: no escaping), Carrier metadata
 * in `carrier-*` headers and its trace context as `traceparent` / `tracestate` (the headers Kafka
 * instrumentation reads), publishedAt as the record timestamp.
 */
export function toRecord(message: WireMessage, extra: Readonly<Record<string, string>> = {}): Message {
  const headers: IHeaders = { ...message.headers };
  headers[HEADERS.id] = message.id;
  headers[HEADERS.contentType] = message.contentType;
  headers[HEADERS.publishedAt] = message.publishedAt.toISOString();
  for (const [k, v] of Object.entries(metadataHeaders(message.metadata))) headers[k] = v;
  for (const [k, v] of Object.entries(extra)) headers[k] = v;
  const { body } = message;
  return {
    key: message.key ?? null,
    value: Buffer.from(body.buffer, body.byteOffset, body.byteLength),
    headers,
    timestamp: String(message.publishedAt.getTime()),
  };
}

/** A record read back: the message plus what Carrier's headers say about this copy. */
export interface DecodedRecord {
  readonly message: WireMessage;
  /** Delivery attempt of this copy (1 unless a `carrier-attempt` header says otherwise). */
  readonly attempt: number;
  /** Retry copies: not before this time (ms since the epoch). */
  readonly dueAt: number | undefined;
  /** Dead letters: the failure metadata (absent on other records). */
  readonly deadLetter: DeadLetterInfo | undefined;
}

function headerText(value: IHeaders[string]): string | undefined {
  if (value === undefined) return undefined;
  // Kafka allows a key more than once; the last value wins, as in most clients' header maps
  const last = Array.isArray(value) ? value[value.length - 1] : value;
  if (last === undefined) return undefined;
  return typeof last === 'string' ? last : last.toString('utf8');
}

function parseDate(text: string | undefined): Date | undefined {
  if (text === undefined) return undefined;
  const ms = /^\d+$/.test(text) ? Number(text) : Date.parse(text);
  return Number.isFinite(ms) ? new Date(ms) : undefined;
}

function positiveInt(text: string | undefined): number | undefined {
  if (text === undefined || !/^\d+$/.test(text)) return undefined;
  const n = Number(text);
  return n >= 1 ? n : undefined;
}

/** The due time of a retry copy (ms since the epoch) without decoding the rest of the record. */
export function dueAtOf(record: KafkaMessage): number | undefined {
  const headers = record.headers;
  if (!headers) return undefined;
  return parseDate(headerText(headers[HEADERS.dueAt]))?.getTime();
}

/**
 * Decode a consumed record. Records written by plain Kafka clients work too: the id falls back to
 * `<topic>-<partition>-<offset>`, the content type to a `content-type` header or
 * `application/octet-stream`, publishedAt to the record timestamp. Header values are read as UTF-8.
 * The body is a copy of the record value's bytes, exactly.
 */
export function fromRecord(topic: string, partition: number, record: KafkaMessage): DecodedRecord {
  const headers: Record<string, string> = {};
  const carrier = new Map<string, string>();
  const meta: Array<[string, string]> = [];
  for (const [key, value] of Object.entries(record.headers ?? {})) {
    const text = headerText(value);
    if (text === undefined) continue;
    if (isMetadataHeader(key)) meta.push([key, text]);
    else if (key.toLowerCase().startsWith(RESERVED_PREFIX)) carrier.set(key.toLowerCase(), text);
    else headers[key] = text;
  }
  const metadata = metadataFromHeaders(meta);
  const publishedAt =
    parseDate(carrier.get(HEADERS.publishedAt)) ?? parseDate(record.timestamp) ?? new Date(0);
  const contentType = carrier.get(HEADERS.contentType) ?? headers['content-type'] ?? DEFAULT_CONTENT_TYPE;
  const value = record.value;
  const message: WireMessage = {
    id: carrier.get(HEADERS.id) ?? `${topic}-${partition}-${record.offset}`,
    key: record.key === null ? undefined : record.key.toString('utf8'),
    headers,
    contentType,
    body: value === null ? new Uint8Array(0) : new Uint8Array(value),
    publishedAt,
    ...(metadata ? { metadata } : {}),
  };
  const reason = carrier.get(HEADERS.deadLetterReason);
  const attempt = positiveInt(carrier.get(HEADERS.attempt)) ?? 1;
  return {
    message,
    attempt,
    dueAt: parseDate(carrier.get(HEADERS.dueAt))?.getTime(),
    deadLetter:
      reason === undefined
        ? undefined
        : {
            reason,
            attempts: positiveInt(carrier.get(HEADERS.deadLetterAttempts)) ?? attempt,
            failedAt: parseDate(carrier.get(HEADERS.deadLetterAt)) ?? publishedAt,
          },
  };
}
