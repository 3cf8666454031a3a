import { createHash } from 'node:crypto';
import type { DeadLetterInfo, WireMessage } from '@carrier/core';
import {
  formatDeliverAt,
  isMetadataHeader,
  metadataFromHeaders,
  metadataHeaders,
  parseDeliverAt,
  TRACEPARENT_HEADER,
  TRACESTATE_HEADER,
} from '@carrier/core/kit';

/**
 * How a Carrier message travels on SNS/SQS: the body as the SQS/SNS message text, metadata and
 * headers as message attributes (at most 10 per message). See docs/brokers/sqs.md.
 */

/** Attribute names Carrier writes. Everything starting with `carrier-` is Carrier's; other attributes are user headers. */
export const ATTR = {
  id: 'carrier-id',
  key: 'carrier-key',
  contentType: 'carrier-content-type',
  publishedAt: 'carrier-published-at',
  /** `base64` when the body is base64 of the bytes, `empty` for a zero-byte body; absent: UTF-8 text. */
  bodyEncoding: 'carrier-body-encoding',
  /**
   * JSON object holding what did not fit in single attributes: `id`, `key`, `contentType`,
   * `headers`, `reason`, and `metadata` (the metadata's generic header form, by name:
   * `carrier-meta-correlation-id`, …, and the trace context when its two attributes did not fit).
   */
  meta: 'carrier-meta',
  /** Correction added to ApproximateReceiveCount (set on copies Carrier re-sends unprocessed). */
  attemptOffset: 'carrier-attempt-offset',
  deadLetterReason: 'carrier-dead-letter-reason',
  deadLetterAttempts: 'carrier-dead-letter-attempts',
  deadLetterFailedAt: 'carrier-dead-letter-failed-at',
} as const;

/** Most message attributes SQS and SNS accept. */
export const MAX_ATTRIBUTES = 10;
/** Prefix of Carrier's own attributes (user header keys may not start with it). */
const CARRIER_PREFIX = 'carrier-';
/** Content type of messages from native producers that did not set `carrier-content-type`. */
const NATIVE_CONTENT_TYPE = 'text/plain; charset=utf-8';
/** Longest dead-letter reason kept, in characters; longer reasons are cut. */
const MAX_REASON_CHARS = 4096;

/** A message attribute as the AWS SDK takes and returns it (String and Number types only). */
export interface Attribute {
  DataType: string;
  StringValue?: string | undefined;
}

/** A message ready for SendMessage / Publish. */
export interface EncodedMessage {
  /** The message text (UTF-8 body as is, or base64). */
  readonly body: string;
  readonly attributes: Record<string, Attribute>;
  /** Bytes SQS/SNS count against their size limit: body plus attribute names, types and values. */
  readonly size: number;
}

const utf8 = new TextEncoder();
const strictUtf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });
/** Characters SQS and SNS refuse in message text and attribute values (XML 1.0 rule). */
// biome-ignore lint/suspicious/noControlCharactersInRegex: these are exactly the characters AWS refuses
const FORBIDDEN_CHARS = /[\x00-\x08\x0B\x0C\x0E-\x1F\uFFFE\uFFFF]/;
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;
/** Attribute names AWS accepts: no leading/trailing `.`, no `..`, not starting with `AWS.`/`Amazon.`. */
const ATTRIBUTE_NAME = /^[A-Za-z0-9_-](?:[A-Za-z0-9_-]|\.(?!\.))*(?<!\.)$/;
const RESERVED_ATTRIBUTE_PREFIX = /^(aws|amazon)\./i;

/** Whether `value` can be a String attribute value (non-empty, only characters AWS accepts). */
function isAttributeSafe(value: string): boolean {
  return value.length > 0 && !FORBIDDEN_CHARS.test(value) && !LONE_SURROGATE.test(value);
}

function isAttributeName(name: string): boolean {
  return name.length <= 256 && ATTRIBUTE_NAME.test(name) && !RESERVED_ATTRIBUTE_PREFIX.test(name);
}

/** JSON that AWS accepts as an attribute value: JSON.stringify already escapes controls and lone surrogates. */
function safeJson(value: unknown): string {
  return JSON.stringify(value).replace(/[\uFFFE\uFFFF]/g, (c) => `\\u${c.charCodeAt(0).toString(16)}`);
}

function byteLength(text: string): number {
  return Buffer.byteLength(text, 'utf8');
}

/** The message text for `bytes`: the text itself when it is valid UTF-8 that SQS accepts, else base64. */
export function encodeBody(bytes: Uint8Array): { text: string; encoding?: 'base64' | 'empty' } {
  if (bytes.byteLength === 0) return { text: '-', encoding: 'empty' };
  let text: string | undefined;
  try {
    text = strictUtf8.decode(bytes);
  } catch {
    text = undefined;
  }
  if (text !== undefined && !FORBIDDEN_CHARS.test(text)) return { text };
  return {
    text: Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('base64'),
    encoding: 'base64',
  };
}

/** Inverse of {@link encodeBody}. */
function decodeBody(text: string, encoding: string | undefined): Uint8Array {
  if (encoding === 'empty') return new Uint8Array(0);
  if (encoding === 'base64') return new Uint8Array(Buffer.from(text, 'base64'));
  return utf8.encode(text);
}

function attributesSize(attributes: Record<string, Attribute>): number {
  let size = 0;
  for (const [name, a] of Object.entries(attributes)) {
    size += byteLength(name) + byteLength(a.DataType) + byteLength(a.StringValue ?? '');
  }
  return size;
}

/** Options of {@link encodeMessage}. */
export interface EncodeOptions {
  /** Dead-letter metadata, for copies written to a dead-letter queue. */
  readonly deadLetter?: DeadLetterInfo | undefined;
  /** Added to ApproximateReceiveCount by the receiver (see {@link ATTR.attemptOffset}). */
  readonly attemptOffset?: number | undefined;
  /**
   * Due time of a delayed message that Carrier's own path holds (docs/brokers/sqs.md, "Delayed
   * publish"): written as `deliverAt` (ISO 8601) in `carrier-meta`, read by the receiver.
   */
  readonly deliverAt?: Date | undefined;
}

/**
 * Encode a message: body as text (base64 when needed), metadata as `carrier-*` String attributes,
 * user headers as one attribute each when all of them are valid AWS attributes and fit within the
 * 10-attribute limit, otherwise all together as JSON in `carrier-meta`. Values AWS would refuse
 * (empty, control characters) also go to `carrier-meta`.
 */
export function encodeMessage(message: WireMessage, options: EncodeOptions = {}): EncodedMessage {
  const { text, encoding } = encodeBody(message.body);
  const attributes: Record<string, Attribute> = {};
  const meta: Record<string, unknown> = {};
  const put = (name: string, field: string, value: string | undefined) => {
    if (value === undefined) return;
    if (isAttributeSafe(value)) attributes[name] = { DataType: 'String', StringValue: value };
    else meta[field] = value;
  };
  put(ATTR.id, 'id', message.id);
  put(ATTR.key, 'key', message.key);
  put(ATTR.contentType, 'contentType', message.contentType);
  attributes[ATTR.publishedAt] = { DataType: 'String', StringValue: message.publishedAt.toISOString() };
  if (encoding) attributes[ATTR.bodyEncoding] = { DataType: 'String', StringValue: encoding };
  if (options.attemptOffset) {
    attributes[ATTR.attemptOffset] = { DataType: 'Number', StringValue: String(options.attemptOffset) };
  }
  const dl = options.deadLetter;
  if (dl) {
    put(ATTR.deadLetterReason, 'reason', dl.reason.slice(0, MAX_REASON_CHARS));
    attributes[ATTR.deadLetterAttempts] = { DataType: 'Number', StringValue: String(dl.attempts) };
    attributes[ATTR.deadLetterFailedAt] = { DataType: 'String', StringValue: dl.failedAt.toISOString() };
  }
  placeMetadata(message, attributes, meta);
  if (options.deliverAt) meta.deliverAt = formatDeliverAt(options.deliverAt);
  const headers = Object.entries(message.headers);
  const metaSlot = Object.keys(meta).length > 0 ? 1 : 0;
  const individually =
    headers.every(([k, v]) => isAttributeName(k) && !k.startsWith(CARRIER_PREFIX) && isAttributeSafe(v)) &&
    Object.keys(attributes).length + metaSlot + headers.length <= MAX_ATTRIBUTES;
  if (individually) {
    for (const [k, v] of headers) attributes[k] = { DataType: 'String', StringValue: v };
  } else if (headers.length > 0) {
    meta.headers = message.headers;
  }
  if (Object.keys(meta).length > 0)
    attributes[ATTR.meta] = { DataType: 'String', StringValue: safeJson(meta) };
  return { body: text, attributes, size: byteLength(text) + attributesSize(attributes) };
}

/**
 * The metadata: the trace context as the String attributes `traceparent` and `tracestate` (the
 * names OpenTelemetry's SQS instrumentation reads) when they fit within the 10 attributes with
 * one left for `carrier-meta`; everything else in `carrier-meta`'s `metadata`.
 */
function placeMetadata(
  message: WireMessage,
  attributes: Record<string, Attribute>,
  meta: Record<string, unknown>,
): void {
  const rest = metadataHeaders(message.metadata);
  const trace = [TRACEPARENT_HEADER, TRACESTATE_HEADER].filter((name) => rest[name] !== undefined);
  if (trace.length > 0 && Object.keys(attributes).length + trace.length + 1 <= MAX_ATTRIBUTES) {
    for (const name of trace) {
      attributes[name] = { DataType: 'String', StringValue: rest[name] };
      delete rest[name];
    }
  }
  if (Object.keys(rest).length > 0) meta.metadata = rest;
}

/** What SQS returns with a received message (the parts Carrier reads). */
export interface ReceivedMessage {
  readonly MessageId?: string | undefined;
  readonly Body?: string | undefined;
  readonly MessageAttributes?:
    | Record<string, { DataType?: string | undefined; StringValue?: string | undefined }>
    | undefined;
  readonly Attributes?: Partial<Record<string, string>> | undefined;
}

/** A received message, decoded. */
export interface DecodedMessage {
  readonly message: WireMessage;
  /** ApproximateReceiveCount plus Carrier's correction: the attempt number of this delivery. */
  readonly attempt: number;
  /** Set when the message carries dead-letter metadata. */
  readonly deadLetter?: DeadLetterInfo | undefined;
  /**
   * Due time of a delayed message on Carrier's own path (see {@link EncodeOptions.deliverAt}); not
   * part of `message`, so that copies made after delivery (dead letters, give-backs) drop it.
   */
  readonly deliverAt?: Date | undefined;
}

interface Meta {
  id?: unknown;
  key?: unknown;
  contentType?: unknown;
  headers?: unknown;
  reason?: unknown;
  metadata?: unknown;
  deliverAt?: unknown;
}

function parseMeta(value: string | undefined): Meta {
  if (value === undefined) return {};
  try {
    const parsed: unknown = JSON.parse(value);
    return parsed && typeof parsed === 'object' ? (parsed as Meta) : {};
  } catch {
    return {};
  }
}

const str = (v: unknown): string | undefined => (typeof v === 'string' ? v : undefined);

function parseDate(value: string | undefined, fallback: Date): Date {
  if (value === undefined) return fallback;
  const d = new Date(/^\d+$/.test(value) ? Number(value) : value);
  return Number.isNaN(d.getTime()) ? fallback : d;
}

/**
 * Decode a received SQS message, Carrier's or a native producer's. Native messages: id is the SQS
 * MessageId, content type `text/plain; charset=utf-8` unless a `carrier-content-type` attribute
 * says otherwise, publishedAt the SentTimestamp, and every String or Number attribute not starting
 * with `carrier-` a header.
 */
export function decodeMessage(received: ReceivedMessage): DecodedMessage {
  const attrs = received.MessageAttributes ?? {};
  const get = (name: string) => attrs[name]?.StringValue;
  const meta = parseMeta(get(ATTR.meta));
  const headers: Record<string, string> = {};
  const metadata: Array<[string, string]> = [];
  for (const [name, a] of Object.entries(attrs)) {
    if (name.startsWith(CARRIER_PREFIX) || a.StringValue === undefined) continue;
    if (!a.DataType?.startsWith('String') && !a.DataType?.startsWith('Number')) continue;
    if (isMetadataHeader(name)) metadata.push([name, a.StringValue]);
    else headers[name] = a.StringValue;
  }
  if (meta.metadata && typeof meta.metadata === 'object') {
    for (const [k, v] of Object.entries(meta.metadata as Record<string, unknown>))
      if (typeof v === 'string') metadata.push([k, v]);
  }
  const decodedMetadata = metadataFromHeaders(metadata);
  if (meta.headers && typeof meta.headers === 'object') {
    for (const [k, v] of Object.entries(meta.headers as Record<string, unknown>))
      if (typeof v === 'string') headers[k] = v;
  }
  const system = received.Attributes ?? {};
  const sent = parseDate(system.SentTimestamp, new Date());
  const message: WireMessage = {
    id: get(ATTR.id) ?? str(meta.id) ?? received.MessageId ?? '',
    key: get(ATTR.key) ?? str(meta.key),
    headers,
    contentType: get(ATTR.contentType) ?? str(meta.contentType) ?? NATIVE_CONTENT_TYPE,
    body: decodeBody(received.Body ?? '', get(ATTR.bodyEncoding)),
    publishedAt: parseDate(get(ATTR.publishedAt), sent),
    ...(decodedMetadata ? { metadata: decodedMetadata } : {}),
  };
  const receiveCount = Number(system.ApproximateReceiveCount ?? '1') || 1;
  const deliverAt = parseDeliverAt(str(meta.deliverAt));
  // a receive before the due time was a hold (visibility, FIFO queues): not an attempt
  const firstReceive = Number(system.ApproximateFirstReceiveTimestamp);
  const held = deliverAt !== undefined && firstReceive < deliverAt.getTime() ? 1 : 0;
  const offset = (Number(get(ATTR.attemptOffset) ?? '0') || 0) - held;
  const attemptsValue = get(ATTR.deadLetterAttempts);
  const deadLetter: DeadLetterInfo | undefined =
    attemptsValue === undefined
      ? undefined
      : {
          reason: get(ATTR.deadLetterReason) ?? str(meta.reason) ?? '',
          attempts: Number(attemptsValue) || 0,
          failedAt: parseDate(get(ATTR.deadLetterFailedAt), sent),
        };
  return {
    message,
    attempt: Math.max(1, receiveCount + offset),
    deadLetter,
    ...(deliverAt ? { deliverAt } : {}),
  };
}

/**
 * The due time a received message carries (Carrier's own delay path), without decoding the rest:
 * the receiver asks it of every message before handing it out.
 */
export function deliverAtOf(received: ReceivedMessage): Date | undefined {
  const meta = received.MessageAttributes?.[ATTR.meta]?.StringValue;
  return meta === undefined ? undefined : parseDeliverAt(str(parseMeta(meta).deliverAt));
}

/** Characters allowed in FIFO MessageGroupId and MessageDeduplicationId. */
const FIFO_TOKEN = /^[\x21-\x7e]{1,128}$/;

/** A FIFO token for `value`: the value itself when AWS accepts it, else `sha256:` and its hex digest. */
export function fifoToken(value: string): string {
  if (FIFO_TOKEN.test(value)) return value;
  return `sha256:${createHash('sha256').update(value).digest('hex')}`;
}
