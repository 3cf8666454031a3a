import type { DeadLetterInfo, WireMessage } from '@carrier/core';
import { isMetadataHeader, metadataFromHeaders, metadataHeaders } from '@carrier/core/kit';
import { nanos } from '@nats-io/transport-node';

/**
 * The NATS wire format of Carrier messages: the body is the NATS payload, byte for byte; Carrier's
 * metadata travels in NATS headers named `Carrier-*`; user headers travel under their own names.
 * Everything here is pure (no connection), so it is unit-tested on its own.
 */

/** Header names Carrier writes. User header keys never start with `carrier-` (core reserves it). */
export const HEADERS = {
  /** The Carrier message id (also sent as `Nats-Msg-Id` on publish, for server-side de-duplication). */
  id: 'Carrier-Id',
  /** The partitioning / ordering key, when the message has one. */
  key: 'Carrier-Key',
  /** MIME type of the body. */
  contentType: 'Carrier-Content-Type',
  /** When the producer published it, ISO 8601 with milliseconds (UTC). */
  publishedAt: 'Carrier-Published-At',
  /** Comma-separated header names whose values are percent-encoded (values with CR, LF, NUL or surrounding whitespace). */
  encoded: 'Carrier-Encoded',
  /**
   * Prefix under which a user header travels when its name cannot go as it is: it starts with
   * `Nats-` (the server owns `Nats-*`) or holds a character a NATS header name cannot (outside
   * printable ASCII, or `:`), or `,` (the `Carrier-Encoded` list separator). The rest of the name
   * is percent-encoded UTF-8 (`escapeHeaderName`).
   */
  userPrefix: 'Carrier-Header-',
  /** Dead letters: the failure reason (the handler's error message). */
  reason: 'Carrier-Dead-Letter-Reason',
  /** Dead letters: deliveries attempted. */
  attempts: 'Carrier-Dead-Letter-Attempts',
  /** Dead letters: when it was dead-lettered, ISO 8601. */
  failedAt: 'Carrier-Dead-Letter-Failed-At',
  /** Dead letters: the group that failed it. */
  group: 'Carrier-Dead-Letter-Group',
  /** Dead letters: `<stream>:<sequence>` of the original message. */
  source: 'Carrier-Dead-Letter-Source',
} as const;

/** NATS' standard de-duplication header. */
export const NATS_MSG_ID = 'Nats-Msg-Id';
/** A message schedule (server 2.12+): `@at <RFC 3339 time>` for a delayed message. */
export const NATS_SCHEDULE = 'Nats-Schedule';
/** Where the server publishes a message schedule when it fires. */
export const NATS_SCHEDULE_TARGET = 'Nats-Schedule-Target';

const OCTET_STREAM = 'application/octet-stream';

/**
 * Whether a header value must be percent-encoded to survive NATS: NATS header lines cannot hold CR,
 * LF (or NUL, for other clients), and nats.js trims surrounding whitespace from every value.
 */
export function needsEncoding(value: string): boolean {
  return /[\r\n\0]/.test(value) || value !== value.trim();
}

/** A header name NATS carries as it is: printable ASCII without `:` (and no `,`: see {@link HEADERS.encoded}). */
const PLAIN_NAME = /^[\x21-\x2b\x2d-\x39\x3b-\x7e]+$/;

/** `name` with every character outside {@link PLAIN_NAME} and `%` percent-encoded (UTF-8 bytes). */
export function escapeHeaderName(name: string): string {
  let out = '';
  for (const ch of name) {
    out +=
      PLAIN_NAME.test(ch) && ch !== '%'
        ? ch
        : encodeURIComponent(ch).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
  }
  return out;
}

/** The wire name of a user header: itself, or {@link HEADERS.userPrefix} and its escaped form. */
export function userHeaderName(key: string): string {
  if (PLAIN_NAME.test(key) && !key.toLowerCase().startsWith('nats-')) return key;
  return HEADERS.userPrefix + escapeHeaderName(key);
}

function unescapeHeaderName(escaped: string): string {
  try {
    return decodeURIComponent(escaped);
  } catch {
    return escaped;
  }
}

/** Ordered header entries (name, value), as they go on the wire. */
export type HeaderEntries = Array<[string, string]>;

function put(entries: HeaderEntries, encoded: string[], name: string, value: string): void {
  if (needsEncoding(value)) {
    encoded.push(name);
    entries.push([name, encodeURIComponent(value)]);
  } else entries.push([name, value]);
}

/** Header entries of a message: Carrier metadata first, then user headers. */
export function encodeHeaders(message: WireMessage): HeaderEntries {
  const entries: HeaderEntries = [];
  const encoded: string[] = [];
  put(entries, encoded, HEADERS.id, message.id);
  if (message.key !== undefined) put(entries, encoded, HEADERS.key, message.key);
  put(entries, encoded, HEADERS.contentType, message.contentType);
  entries.push([HEADERS.publishedAt, message.publishedAt.toISOString()]);
  for (const [name, value] of Object.entries(metadataHeaders(message.metadata)))
    put(entries, encoded, name, value);
  for (const [key, value] of Object.entries(message.headers))
    put(entries, encoded, userHeaderName(key), value);
  if (encoded.length > 0) entries.push([HEADERS.encoded, encoded.join(',')]);
  return entries;
}

/** Longest dead-letter reason kept, in characters (longer ones are cut and end with `…`). */
export const MAX_REASON_CHARS = 4096;

/** Header entries of a dead letter: the message's own headers plus the failure metadata. */
export function encodeDeadLetterHeaders(
  message: WireMessage,
  info: DeadLetterInfo,
  group: string,
  source: string,
  reasonChars = MAX_REASON_CHARS,
): HeaderEntries {
  const base = encodeHeaders(message);
  const entries = base.filter(([name]) => name !== HEADERS.encoded);
  const encoded = base.find(([name]) => name === HEADERS.encoded)?.[1].split(',') ?? [];
  const reason =
    info.reason.length > reasonChars ? `${info.reason.slice(0, Math.max(0, reasonChars - 1))}…` : info.reason;
  put(entries, encoded, HEADERS.reason, reason);
  entries.push([HEADERS.attempts, String(info.attempts)]);
  entries.push([HEADERS.failedAt, info.failedAt.toISOString()]);
  put(entries, encoded, HEADERS.group, group);
  entries.push([HEADERS.source, source]);
  if (encoded.length > 0) entries.push([HEADERS.encoded, encoded.join(',')]);
  return entries;
}

const utf8 = new TextEncoder();

/**
 * Bytes the headers occupy in a NATS message (`NATS/1.0\r\n`, one `Name: value\r\n` line each, a
 * blank line), plus `Nats-Msg-Id` when `msgId` is given: with the body, what the server's
 * `max_payload` limits.
 */
export function headerBytes(entries: HeaderEntries, msgId?: string): number {
  // counted, not encoded: this runs for every published message
  let size = 'NATS/1.0\r\n\r\n'.length;
  for (const [name, value] of entries) size += Buffer.byteLength(name) + Buffer.byteLength(value) + 4;
  if (msgId !== undefined) size += NATS_MSG_ID.length + Buffer.byteLength(msgId) + 4;
  return size;
}

/** Where a received message came from, for defaults when a native client sent it. */
export interface Origin {
  readonly stream: string;
  readonly sequence: number;
  /** The server's timestamp of the message. */
  readonly timestamp: Date;
}

/** Read access to received headers (nats.js `MsgHdrs` satisfies it). */
export interface HeaderReader {
  keys(): string[];
  get(name: string): string;
}

function decodeValue(name: string, value: string, encoded: ReadonlySet<string>): string {
  if (!encoded.has(name)) return value;
  try {
    return decodeURIComponent(value);
  } catch {
    return value;
  }
}

/** A received message split into Carrier metadata and user headers. */
export interface DecodedHeaders {
  readonly message: WireMessage;
  /** Carrier metadata headers, by lower-cased name, decoded. */
  readonly meta: ReadonlyMap<string, string>;
}

/**
 * Rebuild the `WireMessage` from a received NATS message. Carrier metadata is matched without
 * regard to case; `Nats-*` headers are the server's and are dropped; any other header is a user
 * header (first value if repeated). Messages from native clients get defaults: id from
 * `Nats-Msg-Id` or `<stream>:<sequence>`, content type from `Content-Type` or octet-stream,
 * publishedAt from the server timestamp.
 */
export function decodeMessage(
  headers: HeaderReader | undefined,
  body: Uint8Array,
  origin: Origin,
): DecodedHeaders {
  const meta = new Map<string, string>();
  const user: Record<string, string> = {};
  let natsMsgId: string | undefined;
  let nativeContentType: string | undefined;
  const keys = headers?.keys() ?? [];
  const encodedRaw = keys.find((k) => k.toLowerCase() === HEADERS.encoded.toLowerCase());
  const encoded = new Set(
    (encodedRaw === undefined ? '' : headers!.get(encodedRaw))
      .split(',')
      .map((k) => k.trim())
      .filter((k) => k.length > 0),
  );
  const userPrefix = HEADERS.userPrefix.toLowerCase();
  const metadata: Array<[string, string]> = [];
  for (const name of keys) {
    const lower = name.toLowerCase();
    const value = decodeValue(name, headers!.get(name), encoded);
    if (lower.startsWith(userPrefix)) user[unescapeHeaderName(name.slice(userPrefix.length))] = value;
    else if (isMetadataHeader(lower)) metadata.push([lower, value]);
    else if (lower.startsWith('carrier-')) meta.set(lower, value);
    else if (lower.startsWith('nats-')) {
      if (lower === NATS_MSG_ID.toLowerCase()) natsMsgId = value;
    } else {
      user[name] = value;
      if (lower === 'content-type') nativeContentType = value;
    }
  }
  const published = meta.get(HEADERS.publishedAt.toLowerCase());
  const publishedAt = published === undefined ? origin.timestamp : new Date(published);
  const message: WireMessage = {
    id: meta.get(HEADERS.id.toLowerCase()) ?? natsMsgId ?? `${origin.stream}:${origin.sequence}`,
    key: meta.get(HEADERS.key.toLowerCase()),
    headers: user,
    contentType: meta.get(HEADERS.contentType.toLowerCase()) ?? nativeContentType ?? OCTET_STREAM,
    body,
    publishedAt: Number.isNaN(publishedAt.getTime()) ? origin.timestamp : publishedAt,
  };
  const decodedMetadata = metadataFromHeaders(metadata);
  return { message: decodedMetadata ? { ...message, metadata: decodedMetadata } : message, meta };
}

/** The failure metadata of a dead letter, from its decoded Carrier headers. */
export function decodeDeadLetterInfo(meta: ReadonlyMap<string, string>, fallback: Date): DeadLetterInfo {
  const attempts = Number(meta.get(HEADERS.attempts.toLowerCase()));
  const failedAt = new Date(meta.get(HEADERS.failedAt.toLowerCase()) ?? Number.NaN);
  return {
    reason: meta.get(HEADERS.reason.toLowerCase()) ?? 'unknown',
    attempts: Number.isInteger(attempts) && attempts > 0 ? attempts : 1,
    failedAt: Number.isNaN(failedAt.getTime()) ? fallback : failedAt,
  };
}

/** Delivery metadata carried by a JetStream ack subject (`$JS.ACK.…`). */
export interface AckInfo {
  readonly stream: string;
  readonly consumer: string;
  /** How many times this message was delivered to the consumer, this time included. */
  readonly deliveryCount: number;
  readonly streamSequence: number;
  /** Server timestamp of the message, in ms since the epoch. */
  readonly timestampMs: number;
}

/**
 * Parse a JetStream ack reply subject: `$JS.ACK.<stream>.<consumer>.<delivered>.<sseq>.<dseq>.<ts>.<pending>`
 * or the newer form with `<domain>.<account hash>` after `ACK` and a trailing random token.
 * Returns undefined for anything else.
 */
export function parseAckSubject(subject: string): AckInfo | undefined {
  const t = subject.split('.');
  if (t[0] !== '$JS' || t[1] !== 'ACK') return undefined;
  let o: number;
  if (t.length === 9) o = 2;
  else if (t.length >= 11) o = 4;
  else return undefined;
  const stream = t[o]!;
  const consumer = t[o + 1]!;
  const deliveryCount = Number(t[o + 2]);
  const streamSequence = Number(t[o + 3]);
  const ts = t[o + 5]!;
  const timestampMs = /^\d+$/.test(ts) ? Number(BigInt(ts) / 1_000_000n) : Date.now();
  if (!Number.isInteger(deliveryCount) || !Number.isInteger(streamSequence)) return undefined;
  return { stream, consumer, deliveryCount, streamSequence, timestampMs };
}

/** What a pulled message says: the Carrier message, its place in the stream and the server's delivery count. */
export interface Received {
  readonly wire: WireMessage;
  /** Carrier metadata headers, by lower-cased name (see {@link DecodedHeaders.meta}). */
  readonly meta: ReadonlyMap<string, string>;
  readonly stream: string;
  readonly seq: number;
  /** The server's delivery count (releases included). */
  readonly attempt: number;
}

/** A message as a pull consumer receives it (nats.js `Msg` satisfies it). */
export interface PulledMessage {
  readonly reply?: string | undefined;
  readonly headers?: HeaderReader | undefined;
  readonly data: Uint8Array;
}

/** Decode a pulled message; its place and delivery count come from its ack subject (`reply`). */
export function decodePulled(msg: PulledMessage): Received {
  const ack = parseAckSubject(msg.reply ?? '');
  const stream = ack?.stream ?? '';
  const seq = ack?.streamSequence ?? 0;
  const { message, meta } = decodeMessage(msg.headers, msg.data.slice(), {
    stream,
    sequence: seq,
    timestamp: new Date(ack?.timestampMs ?? Date.now()),
  });
  return { wire: message, meta, stream, seq, attempt: ack?.deliveryCount ?? 1 };
}

// The JetStream ack protocol: the payloads a member sends to a delivery's reply subject.

/** Ack-protocol payload: done, remove from the group. */
export const ACK = utf8.encode('+ACK');
/** Ack-protocol payload: redeliver now (counts as a delivery). */
export const NAK = utf8.encode('-NAK');
/** Ack-protocol payload: never redeliver (sent without a reason: servers before 2.11 ignore `+TERM <reason>`). */
export const TERM = utf8.encode('+TERM');
/** Ack-protocol payload: work in progress, the lease (`ack_wait`) starts again. */
export const WPI = utf8.encode('+WPI');

/** `-NAK {"delay": <ns>}`: redeliver not earlier than `delayMs` from now; plain `-NAK` for 0 or less. */
export function nakWithDelay(delayMs: number): Uint8Array {
  if (delayMs <= 0) return NAK;
  return utf8.encode(`-NAK ${JSON.stringify({ delay: nanos(Math.ceil(delayMs)) })}`);
}
