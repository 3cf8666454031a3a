import type { Codec, DecodeContext, EncodeContext, Encoded } from './codec-spi.js';
import { CarrierError } from './errors.js';

/**
 * Core's built-in codecs on the codec SPI: JSON, UTF-8 text, bytes, and the default that picks one
 * of them by the body's type on encode and by the content type on decode (what `publish` and
 * `subscribe` do without a `codec` option). All of them answer synchronously.
 */

/** Content type of `Uint8Array` bodies: passed through untouched. */
export const OCTET_STREAM = 'application/octet-stream';
/** Content type of string bodies: UTF-8 text. */
export const TEXT_UTF8 = 'text/plain; charset=utf-8';
/** Content type of every other body: JSON. */
export const JSON_TYPE = 'application/json';

const utf8Encoder = new TextEncoder();
const strictUtf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

/** Strict UTF-8 (no replacement characters, a BOM kept). @throws CarrierError `DECODE_FAILED`. */
function utf8(bytes: Uint8Array, contentType: string): string {
  try {
    return strictUtf8.decode(bytes);
  } catch (cause) {
    throw new CarrierError('DECODE_FAILED', `body is not valid UTF-8 for content type ${contentType}`, {
      cause,
    });
  }
}

/**
 * JSON (RFC 8259) in UTF-8, content type `application/json`. Decoding keeps every field the bytes
 * carry, known or not, so a decoded body forwarded on loses nothing.
 *
 * Errors: `encode` throws `INVALID_ARGUMENT` for a value JSON cannot represent (`undefined`, a
 * function, a BigInt, a cycle), as `publish` always has; `decode` throws `DECODE_FAILED` for bytes
 * that are not UTF-8 or not JSON.
 */
export const jsonCodec: Codec<unknown> = {
  name: 'json',
  contentType: JSON_TYPE,
  encode(value: unknown): Encoded {
    let text: string | undefined;
    try {
      text = JSON.stringify(value);
    } catch (cause) {
      throw new CarrierError('INVALID_ARGUMENT', 'body cannot be encoded as JSON', { cause });
    }
    if (text === undefined) {
      throw new CarrierError('INVALID_ARGUMENT', `body of type ${typeof value} cannot be encoded as JSON`);
    }
    return { bytes: utf8Encoder.encode(text), contentType: JSON_TYPE };
  },
  decode(bytes: Uint8Array, context: Pick<DecodeContext, 'contentType'>): unknown {
    const text = utf8(bytes, mediaType(context.contentType) || JSON_TYPE);
    try {
      return JSON.parse(text) as unknown;
    } catch (cause) {
      throw new CarrierError('DECODE_FAILED', `body is not valid JSON: ${(cause as Error).message}`, {
        cause,
      });
    }
  },
};

/**
 * UTF-8 text, content type `text/plain; charset=utf-8`. Errors: `encode` throws `INVALID_ARGUMENT`
 * for a value that is not a string; `decode` throws `DECODE_FAILED` for bytes that are not UTF-8.
 */
export const textCodec: Codec<string> = {
  name: 'text',
  contentType: TEXT_UTF8,
  encode(value: string): Encoded {
    if (typeof value !== 'string')
      throw new CarrierError('INVALID_ARGUMENT', `the text codec encodes strings, not ${typeof value}`);
    return { bytes: utf8Encoder.encode(value), contentType: TEXT_UTF8 };
  },
  decode(bytes: Uint8Array, context: Pick<DecodeContext, 'contentType'>): string {
    return utf8(bytes, mediaType(context.contentType) || 'text/plain');
  },
};

/**
 * Bytes as they are, content type `application/octet-stream`: `encode` returns the very array it
 * is given (no copy), `decode` the received bytes. Errors: `encode` throws `INVALID_ARGUMENT` for a
 * value that is not a `Uint8Array`.
 */
export const bytesCodec: Codec<Uint8Array> = {
  name: 'bytes',
  contentType: OCTET_STREAM,
  encode(value: Uint8Array): Encoded {
    if (!(value instanceof Uint8Array))
      throw new CarrierError('INVALID_ARGUMENT', 'the bytes codec encodes Uint8Array values');
    return { bytes: value, contentType: OCTET_STREAM };
  },
  decode(bytes: Uint8Array): Uint8Array {
    return bytes;
  },
};

/** The media type of a content type: lower case, parameters dropped (`application/json`). */
export function mediaType(contentType: string): string {
  return (contentType.split(';')[0] ?? '').trim().toLowerCase();
}

/** Whether a content type is read as JSON: `application/json` and every `+json` type. */
function isJson(type: string): boolean {
  return type === JSON_TYPE || type.endsWith('+json');
}

/**
 * The built-in codec for bytes written with `contentType`: JSON for `application/json` and `+json`
 * types (`application/cloudevents+json`), text for `text/*`, bytes for anything else (including no
 * content type, and every binary format: Avro, Protobuf).
 */
export function codecForContentType(contentType: string): Codec<unknown> {
  // a subscription mostly reads one content type: the last answer, without a lookup (small, so
  // that it is inlined where it is called)
  return contentType === lastContentType ? lastCodec : lookUpCodec(contentType);
}

/** {@link codecForContentType} of another content type than the last one. */
function lookUpCodec(contentType: string): Codec<unknown> {
  const known = byContentType.get(contentType);
  if (known) {
    lastContentType = contentType;
    lastCodec = known;
    return known;
  }
  const type = mediaType(contentType);
  const codec = isJson(type)
    ? jsonCodec
    : type.startsWith('text/')
      ? textCodec
      : (bytesCodec as Codec<unknown>);
  // a connection sees few distinct content types: remember them, bounded against a hostile stream
  if (byContentType.size >= MAX_REMEMBERED_CONTENT_TYPES) byContentType.clear();
  byContentType.set(contentType, codec);
  lastContentType = contentType;
  lastCodec = codec;
  return codec;
}

/** The content type {@link codecForContentType} answered last, and its codec. */
let lastContentType: string | undefined;
let lastCodec: Codec<unknown> = bytesCodec as Codec<unknown>;

/** Content types already read by {@link codecForContentType}: each is parsed once. */
const byContentType = new Map<string, Codec<unknown>>();
const MAX_REMEMBERED_CONTENT_TYPES = 256;

/** The built-in codec that encodes `value`: bytes for a `Uint8Array`, text for a string, else JSON. */
export function codecForValue(value: unknown): Codec<unknown> {
  if (value instanceof Uint8Array) return bytesCodec as Codec<unknown>;
  return typeof value === 'string' ? (textCodec as Codec<unknown>) : jsonCodec;
}

/**
 * What `publish` and `subscribe` do without a `codec` option. Encode by the value's type: a
 * `Uint8Array` untouched (`application/octet-stream`), a string as UTF-8 text
 * (`text/plain; charset=utf-8`), anything else as JSON (`application/json`). Decode by the content
 * type the message carries (see `codecForContentType`): JSON, text, else the bytes themselves. Its
 * own `contentType` is JSON's, the type of most bodies.
 *
 * Errors: as the codec it picks (`INVALID_ARGUMENT` for a value JSON cannot represent;
 * `DECODE_FAILED` for bytes that do not match their content type).
 */
export const defaultCodec: Codec<unknown> = {
  name: 'default',
  contentType: JSON_TYPE,
  encode(value: unknown, context: EncodeContext): Encoded {
    return codecForValue(value).encode(value, context) as Encoded;
  },
  decode(bytes: Uint8Array, context: DecodeContext): unknown {
    return codecForContentType(context.contentType).decode(bytes, context);
  },
};
