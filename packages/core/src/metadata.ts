import { CarrierError } from './errors.js';
import { isWellFormed } from './unicode.js';

/**
 * Carrier's own metadata of a message, carried on the wire apart from the user's headers (each
 * adapter maps it onto its broker: docs/wire-format.md). Every field is optional; a message
 * published without metadata, or before metadata existed, is received with an empty object.
 */
export interface MessageMetadata {
  /** Id that ties a reply to its request (AMQP `correlation_id` on RabbitMQ). Header-safe text. */
  readonly correlationId?: string | undefined;
  /** Where replies go: a topic name or a broker address (AMQP `reply_to` on RabbitMQ). Header-safe text. */
  readonly replyTo?: string | undefined;
  /** When the message stops being useful. Carried as ISO 8601 UTC with milliseconds; Carrier does not expire it. */
  readonly deadline?: Date | undefined;
  /** Id of the schema the body follows (a registry id or a URI). Header-safe text. */
  readonly schemaId?: string | undefined;
  /**
   * W3C Trace Context `traceparent` (https://www.w3.org/TR/trace-context/#traceparent-header),
   * e.g. `00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01`. Travels under the native
   * header name `traceparent` so that broker instrumentation reads it.
   */
  readonly traceparent?: string | undefined;
  /** W3C Trace Context `tracestate` (`vendor=value` list, at most 32 members). Travels as `tracestate`. */
  readonly tracestate?: string | undefined;
  /**
   * Carrier metadata fields this version does not know, written by a newer producer, by wire name
   * (lower-case letters, digits and `-`, e.g. `priority`). Kept as they are, so that whatever
   * forwards a message (the bridge, a redrive, a dead letter) never drops them.
   */
  readonly extra?: Readonly<Record<string, string>> | undefined;
}

/** Prefix of the wire name of every metadata field except the trace context (`carrier-meta-correlation-id`, …). */
export const METADATA_HEADER_PREFIX = 'carrier-meta-';
/** Native header name of {@link MessageMetadata.traceparent} (W3C Trace Context). */
export const TRACEPARENT_HEADER = 'traceparent';
/** Native header name of {@link MessageMetadata.tracestate} (W3C Trace Context). */
export const TRACESTATE_HEADER = 'tracestate';

type TextField = 'correlationId' | 'replyTo' | 'schemaId';
/** Wire names (after the prefix) of the known text fields. */
const TEXT_FIELDS: ReadonlyArray<readonly [TextField, string]> = [
  ['correlationId', 'correlation-id'],
  ['replyTo', 'reply-to'],
  ['schemaId', 'schema-id'],
];
/** The fields of {@link MessageMetadata}: any other is refused at publish. */
const METADATA_FIELDS: ReadonlySet<string> = new Set([
  'correlationId',
  'replyTo',
  'deadline',
  'schemaId',
  'traceparent',
  'tracestate',
  'extra',
]);
const KNOWN_NAMES = new Set([
  'correlation-id',
  'reply-to',
  'schema-id',
  'deadline',
  'traceparent',
  'tracestate',
]);
/** Wire name (after `carrier-meta-`) of an `extra` field. */
const EXTRA_NAME = /^[a-z0-9](?:[a-z0-9-]{0,62}[a-z0-9])?$/;
const TRACEPARENT =
  /^(?<version>[0-9a-f]{2})-(?<trace>[0-9a-f]{32})-(?<parent>[0-9a-f]{16})-[0-9a-f]{2}(?<rest>-.*)?$/;
const TRACESTATE_KEY =
  /^(?:[a-z0-9][_0-9a-z*/-]{0,255}|[a-z0-9][_0-9a-z*/-]{0,240}@[a-z][_0-9a-z*/-]{0,13})$/;
const TRACESTATE_VALUE = /^[\x20-\x2b\x2d-\x3c\x3e-\x7e]{0,255}[\x21-\x2b\x2d-\x3c\x3e-\x7e]$/;

/** Whether `value` is a valid `traceparent` (W3C Trace Context level 1, §3.2; later versions by their prefix). */
export function isTraceparent(value: string): boolean {
  const m = TRACEPARENT.exec(value);
  if (!m?.groups) return false;
  const { version, trace, parent, rest } = m.groups;
  if (version === 'ff' || /^0+$/.test(trace!) || /^0+$/.test(parent!)) return false;
  return version === '00' ? rest === undefined : true;
}

/**
 * Whether `value` is a valid `tracestate` (W3C Trace Context level 1, §3.3): 1 to 32 unique
 * `key=value` members. An empty one is not (the spec tells vendors to treat it as absent, and SQS
 * refuses an empty attribute value).
 */
export function isTracestate(value: string): boolean {
  const members = value
    .split(',')
    .map((m) => m.replace(/^[ \t]+|[ \t]+$/g, ''))
    .filter((m) => m.length > 0);
  if (members.length === 0 || members.length > 32) return false;
  const keys = new Set<string>();
  for (const member of members) {
    const eq = member.indexOf('=');
    const key = member.slice(0, eq);
    if (eq < 0 || !TRACESTATE_KEY.test(key) || !TRACESTATE_VALUE.test(member.slice(eq + 1))) return false;
    if (keys.has(key)) return false;
    keys.add(key);
  }
  return true;
}

function headerSafe(field: string, value: unknown): string {
  if (typeof value !== 'string' || value.length === 0) {
    throw new CarrierError('INVALID_ARGUMENT', `metadata.${field} must be a non-empty string`);
  }
  if (!isWellFormed(value) || /[\r\n\0]/.test(value)) {
    throw new CarrierError(
      'INVALID_ARGUMENT',
      `metadata.${field} must be well-formed Unicode without CR, LF or NUL`,
    );
  }
  return value;
}

function validateExtra(extra: unknown): Record<string, string> | undefined {
  if (extra === undefined) return undefined;
  if (extra === null || typeof extra !== 'object' || Array.isArray(extra)) {
    throw new CarrierError('INVALID_ARGUMENT', 'metadata.extra must be an object of string values');
  }
  const out: Record<string, string> = {};
  for (const [name, value] of Object.entries(extra)) {
    if (!EXTRA_NAME.test(name) || KNOWN_NAMES.has(name)) {
      throw new CarrierError(
        'INVALID_ARGUMENT',
        `metadata.extra key ${JSON.stringify(name)} is not an unknown metadata name (1 to 64 lower-case letters, digits and '-', not a known field)`,
      );
    }
    out[name] = headerSafe(`extra.${name}`, value);
  }
  return Object.keys(out).length > 0 ? out : undefined;
}

/**
 * Check publish metadata: text fields non-empty, well-formed Unicode without CR, LF or NUL;
 * `deadline` a valid `Date`; `traceparent` and `tracestate` in W3C Trace Context syntax; `extra`
 * keys of the wire-name grammar. Returns a copy without absent fields (`undefined` when empty).
 *
 * @throws CarrierError `INVALID_ARGUMENT` naming the field.
 */
export function validateMetadata(metadata: unknown): MessageMetadata | undefined {
  // small, so that the common case (no metadata) is inlined where it is called: one check
  return metadata === undefined ? undefined : checkedMetadata(metadata);
}

/** {@link validateMetadata} of given metadata. */
function checkedMetadata(metadata: unknown): MessageMetadata | undefined {
  if (metadata === null || typeof metadata !== 'object' || Array.isArray(metadata)) {
    throw new CarrierError('INVALID_ARGUMENT', 'metadata must be an object');
  }
  const m = metadata as Record<string, unknown>;
  for (const field of Object.keys(m)) {
    if (!METADATA_FIELDS.has(field)) {
      // a misspelt field (correlationID) or one of the caller's own would vanish on the wire
      throw new CarrierError(
        'INVALID_ARGUMENT',
        `metadata.${field} is not a metadata field (${[...METADATA_FIELDS].join(', ')}); put your own under metadata.extra`,
      );
    }
  }
  const out: { -readonly [K in keyof MessageMetadata]: MessageMetadata[K] } = {};
  for (const [field] of TEXT_FIELDS) if (m[field] !== undefined) out[field] = headerSafe(field, m[field]);
  if (m.deadline !== undefined) {
    if (!(m.deadline instanceof Date) || Number.isNaN(m.deadline.getTime())) {
      throw new CarrierError('INVALID_ARGUMENT', 'metadata.deadline must be a valid Date');
    }
    out.deadline = new Date(m.deadline.getTime());
  }
  if (m.traceparent !== undefined) {
    if (typeof m.traceparent !== 'string' || !isTraceparent(m.traceparent)) {
      throw new CarrierError(
        'INVALID_ARGUMENT',
        'metadata.traceparent is not a W3C Trace Context traceparent',
      );
    }
    out.traceparent = m.traceparent;
  }
  if (m.tracestate !== undefined) {
    if (typeof m.tracestate !== 'string' || !isTracestate(m.tracestate)) {
      throw new CarrierError('INVALID_ARGUMENT', 'metadata.tracestate is not a W3C Trace Context tracestate');
    }
    if (out.traceparent === undefined) {
      throw new CarrierError('INVALID_ARGUMENT', 'metadata.tracestate needs metadata.traceparent');
    }
    out.tracestate = m.tracestate;
  }
  const extra = validateExtra(m.extra);
  if (extra) out.extra = extra;
  return Object.keys(out).length > 0 ? out : undefined;
}

/**
 * The generic wire form of `metadata`: header name → value. `traceparent` and `tracestate` under
 * their own names; every other field as `carrier-meta-<name>` (`correlation-id`, `reply-to`,
 * `schema-id`, `deadline` as ISO 8601, and each `extra` name). Adapters write these entries as
 * headers or attributes, or move a field to a native slot (AMQP `correlation_id`).
 */
export function metadataHeaders(metadata: MessageMetadata | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  if (!metadata) return out;
  if (metadata.traceparent !== undefined) out[TRACEPARENT_HEADER] = metadata.traceparent;
  if (metadata.tracestate !== undefined) out[TRACESTATE_HEADER] = metadata.tracestate;
  for (const [field, name] of TEXT_FIELDS) {
    const value = metadata[field];
    if (value !== undefined) out[METADATA_HEADER_PREFIX + name] = value;
  }
  if (metadata.deadline !== undefined)
    out[`${METADATA_HEADER_PREFIX}deadline`] = metadata.deadline.toISOString();
  for (const [name, value] of Object.entries(metadata.extra ?? {}))
    out[METADATA_HEADER_PREFIX + name] = value;
  return out;
}

/** Whether a header name (any case) belongs to the metadata: `traceparent`, `tracestate`, `carrier-meta-*`. */
export function isMetadataHeader(name: string): boolean {
  const lower = name.toLowerCase();
  return (
    lower === TRACEPARENT_HEADER || lower === TRACESTATE_HEADER || lower.startsWith(METADATA_HEADER_PREFIX)
  );
}

function readable(value: string): boolean {
  return value.length > 0 && isWellFormed(value) && !/[\r\n\0]/.test(value);
}

/**
 * Metadata read back from header entries (names in any case; entries that are not metadata are
 * ignored), the inverse of {@link metadataHeaders}. Lenient, as a receiver must be: a value that
 * is not valid is dropped (an invalid `traceparent` drops `tracestate` too, as W3C Trace Context
 * §3.2 tells receivers), and an unknown `carrier-meta-*` name lands in `extra`. `undefined` when
 * nothing is left.
 */
export function metadataFromHeaders(
  entries: Iterable<readonly [string, string]>,
): MessageMetadata | undefined {
  const found = new Map<string, string>();
  for (const [name, value] of entries) {
    const lower = name.toLowerCase();
    if (!isMetadataHeader(lower) || !readable(value)) continue;
    const short = lower.startsWith(METADATA_HEADER_PREFIX)
      ? lower.slice(METADATA_HEADER_PREFIX.length)
      : lower;
    if (short !== lower && (short === TRACEPARENT_HEADER || short === TRACESTATE_HEADER)) continue;
    found.set(short, value);
  }
  const out: { -readonly [K in keyof MessageMetadata]: MessageMetadata[K] } = {};
  const extra: Record<string, string> = {};
  for (const [name, value] of found) {
    const field = TEXT_FIELDS.find(([, n]) => n === name)?.[0];
    if (field) out[field] = value;
    else if (name === 'deadline') {
      const ms = Date.parse(value);
      if (Number.isFinite(ms)) out.deadline = new Date(ms);
    } else if (name === TRACEPARENT_HEADER) {
      if (isTraceparent(value)) out.traceparent = value;
    } else if (name === TRACESTATE_HEADER) {
      if (isTracestate(value)) out.tracestate = value;
    } else if (EXTRA_NAME.test(name)) extra[name] = value;
  }
  if (out.traceparent === undefined) delete out.tracestate;
  if (Object.keys(extra).length > 0) out.extra = extra;
  return Object.keys(out).length > 0 ? out : undefined;
}
