import { createHash } from 'node:crypto';
import type { DeadLetterInfo, MessageMetadata, WireMessage } from '@carrier/core';
import {
  DELIVER_AT_HEADER,
  isMetadataHeader,
  METADATA_HEADER_PREFIX,
  metadataFromHeaders,
  metadataHeaders,
} from '@carrier/core/kit';
import type { MessageProperties, Options } from 'amqplib';
import { DELAY_TOPIC_HEADER } from './publish-delay.js';

/**
 * The wire format of a Carrier message on RabbitMQ. The body is the AMQP message body, byte for
 * byte. AMQP basic properties carry what they have a slot for; Carrier's other metadata goes in
 * headers with the reserved `carrier-` prefix (core forbids that prefix in user headers):
 *
 * | Carrier           | AMQP                                                        |
 * |-------------------|-------------------------------------------------------------|
 * | id                | `message_id` property                                       |
 * | contentType       | `content_type` property                                     |
 * | publishedAt       | `timestamp` property (seconds) and header `carrier-published-at` (ms since the epoch, decimal string) |
 * | key               | header `carrier-key` (string); also the routing key when it fits (≤ 255 bytes) |
 * | attempt           | header `carrier-attempt` (integer, absent means 1) plus the broker's redelivery count |
 * | user headers      | headers, string values; a key RabbitMQ owns (`x-death`, `x-delivery-count`, …) as `carrier-header-<key>` |
 * | metadata          | `correlation_id` / `reply_to` properties (when ≤ 255 bytes, else headers `carrier-meta-correlation-id` / `carrier-meta-reply-to`), headers `traceparent`, `tracestate`, `carrier-meta-*` |
 * | dead-letter info  | headers `carrier-dead-letter-reason`, `carrier-dead-letter-attempts`, `carrier-dead-letter-failed-at` (ISO 8601) |
 *
 * Messages are published persistent (delivery mode 2).
 */

/** Header holding the message key. */
export const KEY_HEADER = 'carrier-key';
/** Header holding the publish time in milliseconds since the epoch (decimal string). */
export const PUBLISHED_AT_HEADER = 'carrier-published-at';
/** Header holding the attempt number of the next delivery of a retried message (absent: 1). */
export const ATTEMPT_HEADER = 'carrier-attempt';
/** Dead letters: the failure reason. */
export const DEAD_LETTER_REASON_HEADER = 'carrier-dead-letter-reason';
/** Dead letters: how many deliveries were attempted. */
export const DEAD_LETTER_ATTEMPTS_HEADER = 'carrier-dead-letter-attempts';
/** Dead letters: when it was dead-lettered (ISO 8601). */
export const DEAD_LETTER_FAILED_AT_HEADER = 'carrier-dead-letter-failed-at';
/** Content type assumed when a native message has none. */
const DEFAULT_CONTENT_TYPE = 'application/octet-stream';
/** Longest dead-letter reason kept, in characters (the whole AMQP header table must stay small). */
const MAX_REASON_LENGTH = 4096;
/** Longest routing key AMQP allows, in bytes. */
const MAX_ROUTING_KEY_BYTES = 255;

const CARRIER_PREFIX = 'carrier-';
/** Prefix under which a user header whose name RabbitMQ owns (see BROKER_HEADERS) travels. */
export const USER_HEADER_PREFIX = 'carrier-header-';
const CORRELATION_HEADER = `${METADATA_HEADER_PREFIX}correlation-id`;
const REPLY_TO_HEADER = `${METADATA_HEADER_PREFIX}reply-to`;
/** Longest AMQP short string (the `correlation_id` and `reply_to` properties), in bytes. */
const MAX_SHORT_STRING_BYTES = 255;
/** Headers the broker adds (dead-lettering, quorum delivery counts); never user headers. */
const BROKER_HEADERS = /^x-(death|delivery-count|received-from|first-death-.*|last-death-.*)$/i;

type Headers = Record<string, unknown>;

/** Convert an AMQP field value to a header string (native publishers may send any field type). */
export function headerString(value: unknown): string | undefined {
  if (value === undefined || value === null) return undefined;
  if (typeof value === 'string') return value;
  if (Buffer.isBuffer(value)) return value.toString('utf8');
  if (typeof value === 'number' || typeof value === 'boolean' || typeof value === 'bigint')
    return String(value);
  if (value instanceof Date) return value.toISOString();
  try {
    return JSON.stringify(value);
  } catch {
    return String(value);
  }
}

function headerInteger(value: unknown): number | undefined {
  if (typeof value === 'number' && Number.isSafeInteger(value)) return value;
  if (typeof value === 'bigint') return Number(value);
  if (typeof value === 'string' || Buffer.isBuffer(value)) {
    const n = Number(String(value));
    return Number.isSafeInteger(n) ? n : undefined;
  }
  return undefined;
}

/** The routing key a message is published with: its key when it fits AMQP's 255 bytes, else empty. */
export function routingKeyFor(key: string | undefined): string {
  if (key === undefined || Buffer.byteLength(key, 'utf8') > MAX_ROUTING_KEY_BYTES) return '';
  return key;
}

/** AMQP publish options of a new message. */
export function encodeMessage(message: WireMessage): Options.Publish {
  const ms = message.publishedAt.getTime();
  const headers: Headers = {};
  for (const [name, value] of Object.entries(message.headers))
    headers[BROKER_HEADERS.test(name) ? USER_HEADER_PREFIX + name : name] = value;
  headers[PUBLISHED_AT_HEADER] = String(ms);
  if (message.key !== undefined) headers[KEY_HEADER] = message.key;
  const options: Options.Publish = {
    messageId: message.id,
    contentType: message.contentType,
    timestamp: Math.floor(ms / 1000),
    headers,
    persistent: true,
    mandatory: true,
  };
  const meta = metadataHeaders(message.metadata);
  const fits = (v: string | undefined): v is string =>
    v !== undefined && Buffer.byteLength(v, 'utf8') <= MAX_SHORT_STRING_BYTES;
  if (fits(meta[CORRELATION_HEADER])) {
    options.correlationId = meta[CORRELATION_HEADER];
    delete meta[CORRELATION_HEADER];
  }
  if (fits(meta[REPLY_TO_HEADER])) {
    options.replyTo = meta[REPLY_TO_HEADER];
    delete meta[REPLY_TO_HEADER];
  }
  Object.assign(headers, meta);
  return options;
}

/** The metadata of a received message: its metadata headers plus the `correlation_id` and `reply_to` properties. */
function decodeMetadata(raw: Headers, properties: MessageProperties): MessageMetadata | undefined {
  const entries: Array<[string, string]> = [];
  for (const [name, value] of Object.entries(raw)) {
    const text = isMetadataHeader(name) ? headerString(value) : undefined;
    if (text !== undefined) entries.push([name, text]);
  }
  const p = properties as Partial<Record<keyof MessageProperties, unknown>>;
  if (typeof p.correlationId === 'string') entries.push([CORRELATION_HEADER, p.correlationId]);
  if (typeof p.replyTo === 'string') entries.push([REPLY_TO_HEADER, p.replyTo]);
  return metadataFromHeaders(entries);
}

/** What to change when re-publishing a received message (retry, dead letter, redrive). */
export interface CopyChanges {
  /** The message id (kept, or generated for a native message without one). */
  readonly id: string;
  /** Attempt number of the copy's next delivery; `undefined` removes the header (attempt 1). */
  readonly attempt: number | undefined;
  /** Dead-letter metadata to add; `undefined` removes any. */
  readonly deadLetter: DeadLetterInfo | undefined;
}

/**
 * AMQP publish options of a copy of a received message: every property and header kept (native
 * header types too), except broker-added headers (`x-death`, `x-delivery-count`, …), the delayed
 * publish's headers (`carrier-delay-topic`, `carrier-deliver-at`), the per-message
 * `expiration` (it would cut a retry delay short), `user_id` (the broker checks it against the
 * connection's user) and Carrier's attempt and dead-letter headers, which are set from `changes`.
 */
export function copyProperties(properties: MessageProperties, changes: CopyChanges): Options.Publish {
  const headers: Headers = {};
  for (const [name, value] of Object.entries((properties.headers ?? {}) as Headers)) {
    if (BROKER_HEADERS.test(name)) continue;
    if (name === ATTEMPT_HEADER || name.startsWith('carrier-dead-letter-')) continue;
    // a delayed publish's route: its copies are not delayed again
    if (name === DELAY_TOPIC_HEADER || name === DELIVER_AT_HEADER) continue;
    headers[name] = value;
  }
  if (changes.attempt !== undefined && changes.attempt > 1) headers[ATTEMPT_HEADER] = changes.attempt;
  if (changes.deadLetter) {
    headers[DEAD_LETTER_REASON_HEADER] = changes.deadLetter.reason.slice(0, MAX_REASON_LENGTH);
    headers[DEAD_LETTER_ATTEMPTS_HEADER] = changes.deadLetter.attempts;
    headers[DEAD_LETTER_FAILED_AT_HEADER] = changes.deadLetter.failedAt.toISOString();
  }
  const options: Options.Publish = { headers, messageId: changes.id, persistent: true, mandatory: true };
  const p = properties as Partial<Record<keyof MessageProperties, unknown>>;
  if (typeof p.contentType === 'string') options.contentType = p.contentType;
  if (typeof p.contentEncoding === 'string') options.contentEncoding = p.contentEncoding;
  if (typeof p.correlationId === 'string') options.correlationId = p.correlationId;
  if (typeof p.replyTo === 'string') options.replyTo = p.replyTo;
  if (typeof p.type === 'string') options.type = p.type;
  if (typeof p.appId === 'string') options.appId = p.appId;
  if (typeof p.priority === 'number') options.priority = p.priority;
  if (typeof p.timestamp === 'number') options.timestamp = p.timestamp;
  return options;
}

/** A received AMQP message (delivery or basic.get), as far as decoding needs it. */
export interface ReceivedMessage {
  readonly content: Buffer;
  readonly properties: MessageProperties;
  readonly fields: { readonly redelivered: boolean };
}

/** A decoded delivery: the Carrier message, its attempt number and dead-letter metadata if any. */
export interface Decoded {
  readonly message: WireMessage;
  /**
   * Attempt number: `carrier-attempt` (1 when absent) plus the deliveries the broker counted for this
   * copy (`x-delivery-count` on quorum queues; 1 if a classic queue flags it `redelivered`).
   */
  readonly attempt: number;
  /** Attempt from `carrier-attempt` alone (1 when absent), before the broker's count. */
  readonly base: number;
  /** Dead-letter metadata, when the message carries any. */
  readonly deadLetter: DeadLetterInfo | undefined;
}

function publishedAt(headers: Headers, timestamp: unknown, now: () => Date): Date {
  const ms = headerInteger(headers[PUBLISHED_AT_HEADER]);
  if (ms !== undefined) return new Date(ms);
  if (typeof timestamp === 'number' && Number.isFinite(timestamp)) return new Date(timestamp * 1000);
  return now();
}

/** A stable id for a message published without `message_id`: a digest of everything it carries. */
function nativeId(received: ReceivedMessage): string {
  const { properties } = received;
  const headers = Object.entries(properties.headers ?? {})
    .filter(([name]) => !BROKER_HEADERS.test(name))
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    .map(([name, value]) => [name, headerString(value) ?? '']);
  const digest = createHash('sha256')
    .update(JSON.stringify([properties.timestamp ?? null, properties.contentType ?? null, headers]))
    .update(received.content)
    .digest('hex');
  return `native-${digest.slice(0, 32)}`;
}

/**
 * Decode a received message. Native messages decode too: no `message_id` gives an id derived from the
 * message itself (`native-` + SHA-256 of timestamp, content type, headers and body), the same on
 * every redelivery, so duplicates and bridge verification can recognise it, no content type gives
 * `application/octet-stream`, no timestamp gives the receive time; header values of any AMQP type
 * become strings.
 */
export function decodeMessage(received: ReceivedMessage, now: () => Date = () => new Date()): Decoded {
  const properties = received.properties;
  const raw = (properties.headers ?? {}) as Headers;
  const headers: Record<string, string> = {};
  for (const [name, value] of Object.entries(raw)) {
    const user = name.startsWith(USER_HEADER_PREFIX) ? name.slice(USER_HEADER_PREFIX.length) : undefined;
    if (user === undefined && (name.toLowerCase().startsWith(CARRIER_PREFIX) || BROKER_HEADERS.test(name)))
      continue;
    if (user === undefined && isMetadataHeader(name)) continue;
    const text = headerString(value);
    if (text !== undefined) headers[user ?? name] = text;
  }
  const metadata = decodeMetadata(raw, properties);
  const key = headerString(raw[KEY_HEADER]);
  const id =
    typeof properties.messageId === 'string' && properties.messageId.length > 0
      ? properties.messageId
      : nativeId(received);
  const contentType =
    typeof properties.contentType === 'string' && properties.contentType.length > 0
      ? properties.contentType
      : DEFAULT_CONTENT_TYPE;
  const body = new Uint8Array(
    received.content.buffer,
    received.content.byteOffset,
    received.content.byteLength,
  );
  const base = Math.max(1, headerInteger(raw[ATTEMPT_HEADER]) ?? 1);
  const counted = headerInteger(raw['x-delivery-count']);
  const redeliveries = counted !== undefined ? Math.max(0, counted) : received.fields.redelivered ? 1 : 0;
  const reason = headerString(raw[DEAD_LETTER_REASON_HEADER]);
  let deadLetter: DeadLetterInfo | undefined;
  if (reason !== undefined) {
    const failedAt = new Date(headerString(raw[DEAD_LETTER_FAILED_AT_HEADER]) ?? 0);
    deadLetter = {
      reason,
      attempts: headerInteger(raw[DEAD_LETTER_ATTEMPTS_HEADER]) ?? base,
      failedAt: Number.isNaN(failedAt.getTime()) ? new Date(0) : failedAt,
    };
  }
  return {
    message: {
      id,
      key,
      headers,
      contentType,
      body,
      publishedAt: publishedAt(raw, properties.timestamp, now),
      ...(metadata ? { metadata } : {}),
    },
    attempt: base + redeliveries,
    base,
    deadLetter,
  };
}
