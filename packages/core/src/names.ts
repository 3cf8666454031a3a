import { CarrierError } from './errors.js';
import { isWellFormed } from './unicode.js';

/** Longest portable topic or group name, in characters. */
export const MAX_NAME_LENGTH = 100;

const NAME_PATTERN = /^[A-Za-z0-9](?:[A-Za-z0-9_-]|\.(?!\.))*$/;

/**
 * The portable name grammar for topics and groups, the same on every transport: 1 to 100
 * characters of ASCII letters, digits, `-`, `_` and `.`; starting with a letter or digit; no
 * `..` and no trailing `.`. Names are case-sensitive. Adapters map valid names onto their
 * broker's rules without collisions; anything else is rejected here before a broker is touched.
 *
 * @throws CarrierError `INVALID_NAME` with the reason.
 */
export function validateName(kind: 'topic' | 'group', name: unknown): string {
  if (typeof name === 'string' && validNames.has(name)) return name;
  if (typeof name !== 'string' || name.length === 0) {
    throw new CarrierError('INVALID_NAME', `${kind} name must be a non-empty string`);
  }
  if (name.length > MAX_NAME_LENGTH) {
    throw new CarrierError('INVALID_NAME', `${kind} name is longer than ${MAX_NAME_LENGTH} characters`);
  }
  if (!NAME_PATTERN.test(name) || name.endsWith('.')) {
    throw new CarrierError(
      'INVALID_NAME',
      `${kind} name ${JSON.stringify(name)} is not portable: use letters, digits, '-', '_' and single '.', starting with a letter or digit`,
    );
  }
  // a process publishes to few names, again and again: each is checked once (bounded)
  if (validNames.size >= MAX_REMEMBERED_NAMES) validNames.clear();
  validNames.add(name);
  return name;
}

/** Names `validateName` accepted already (the grammar is the same for topics and groups). */
const validNames = new Set<string>();
const MAX_REMEMBERED_NAMES = 1_024;

/** Longest header key, in UTF-8 bytes: an AMQP field-table key is a short string (RabbitMQ). */
export const MAX_HEADER_KEY_BYTES = 255;
const RESERVED_HEADER_PREFIX = 'carrier-';
/** Keys that name Carrier metadata on the wire (W3C Trace Context): set them with `metadata` instead. */
const RESERVED_HEADER_KEYS = new Set(['traceparent', 'tracestate']);
const utf8 = new TextEncoder();

function validateHeaderKey(key: string): void {
  if (key.length === 0) throw new CarrierError('INVALID_ARGUMENT', 'header key must not be empty');
  if (!isWellFormed(key)) {
    throw new CarrierError(
      'INVALID_ARGUMENT',
      `header key ${JSON.stringify(key)} is not well-formed Unicode (it contains a lone surrogate)`,
    );
  }
  if (/[\r\n\0]/.test(key)) {
    throw new CarrierError('INVALID_ARGUMENT', `header key ${JSON.stringify(key)} contains CR, LF or NUL`);
  }
  if (utf8.encode(key).byteLength > MAX_HEADER_KEY_BYTES) {
    throw new CarrierError(
      'INVALID_ARGUMENT',
      `header key ${JSON.stringify(key.slice(0, 32))}… is longer than ${MAX_HEADER_KEY_BYTES} UTF-8 bytes`,
    );
  }
  if (key === '__proto__') {
    // a plain object cannot hold it as data (assigning it sets the prototype): it would vanish
    throw new CarrierError(
      'INVALID_ARGUMENT',
      "header key '__proto__' cannot be held by a JavaScript object",
    );
  }
  const lower = key.toLowerCase();
  if (lower.startsWith(RESERVED_HEADER_PREFIX)) {
    throw new CarrierError(
      'INVALID_ARGUMENT',
      `header key ${JSON.stringify(key)} uses the reserved prefix 'carrier-' (Carrier's own metadata)`,
    );
  }
  if (RESERVED_HEADER_KEYS.has(lower)) {
    throw new CarrierError(
      'INVALID_ARGUMENT',
      `header key ${JSON.stringify(key)} is reserved: pass trace context as metadata.${lower}`,
    );
  }
}

/**
 * Portable header keys: any well-formed Unicode text of 1 to 255 UTF-8 bytes without CR, LF or
 * NUL — spaces, `:`, `/`, `\\`, quotes, other control characters and non-ASCII letters included.
 * Every transport carries them byte for byte (escaping them on the wire where its broker needs
 * it: docs/wire-format.md). Refused, and why: CR, LF and NUL (header lines and C clients end a
 * name there), lone surrogates (brokers turn them into U+FFFD), more than 255 bytes (an AMQP
 * field-table key is a short string), keys starting with `carrier-` (any case; reserved for
 * Carrier's own wire metadata) and `traceparent` / `tracestate` (any case; Carrier's metadata
 * under their W3C names: use `metadata`). Keys are case-sensitive. Values are any well-formed
 * Unicode text (no lone surrogate) without CR, LF or NUL.
 *
 * @throws CarrierError `INVALID_ARGUMENT`.
 */
export function validateHeaders(headers: unknown): Record<string, string> {
  // small, so that the common case (no headers) is inlined where it is called: one check
  return headers === undefined ? {} : checkedHeaders(headers);
}

/** {@link validateHeaders} of given headers. */
function checkedHeaders(headers: unknown): Record<string, string> {
  if (headers === null || typeof headers !== 'object' || Array.isArray(headers)) {
    throw new CarrierError('INVALID_ARGUMENT', 'headers must be an object of string values');
  }
  const out: Record<string, string> = {};
  for (const [key, value] of Object.entries(headers)) {
    validateHeaderKey(key);
    if (typeof value !== 'string') {
      throw new CarrierError('INVALID_ARGUMENT', `header ${JSON.stringify(key)} must be a string`);
    }
    if (!isWellFormed(value)) {
      throw new CarrierError(
        'INVALID_ARGUMENT',
        `header ${JSON.stringify(key)} is not well-formed Unicode (it contains a lone surrogate)`,
      );
    }
    if (/[\r\n\0]/.test(value)) {
      throw new CarrierError('INVALID_ARGUMENT', `header ${JSON.stringify(key)} contains CR, LF or NUL`);
    }
    out[key] = value;
  }
  return out;
}

/** Printable ASCII, 1 to 255 characters: a MIME type with parameters (RFC 6838 names are ASCII). */
const CONTENT_TYPE_PATTERN = /^[\x20-\x7e]{1,255}$/;

/**
 * Check a publish's `contentType`: `undefined` (the codec picks one) or 1 to 255 printable ASCII
 * characters. It travels as a broker property (AMQP `content_type` is a short string of at most
 * 255 bytes) or a header, so anything else would be refused by one broker and silently changed by
 * another (a lone surrogate becomes U+FFFD on Kafka, RabbitMQ and NATS).
 *
 * @throws CarrierError `INVALID_ARGUMENT`.
 */
export function validateContentType(contentType: unknown): string | undefined {
  if (contentType === undefined) return undefined;
  if (typeof contentType !== 'string' || !CONTENT_TYPE_PATTERN.test(contentType)) {
    throw new CarrierError(
      'INVALID_ARGUMENT',
      'contentType must be 1 to 255 printable ASCII characters (a MIME type such as application/json)',
    );
  }
  return contentType;
}
