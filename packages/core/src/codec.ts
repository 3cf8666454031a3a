import { CarrierError } from './errors.js';
import { type MessageMetadata, metadataHeaders } from './metadata.js';

/** Content type of `Uint8Array` bodies: passed through untouched. */
export const OCTET_STREAM = 'application/octet-stream';
/** Content type of string bodies: UTF-8 text. */
export const TEXT_UTF8 = 'text/plain; charset=utf-8';
/** Content type of every other body: JSON. */
export const JSON_TYPE = 'application/json';

const utf8Encoder = new TextEncoder();
const strictUtf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

/** A body after encoding: the bytes and the content type that says how to read them. */
export interface EncodedBody {
  readonly bytes: Uint8Array;
  readonly contentType: string;
}

/**
 * Encode a body: `Uint8Array` untouched (content type `contentType` if given, else
 * octet-stream), a string as UTF-8, anything else as JSON.
 *
 * @throws CarrierError `INVALID_ARGUMENT` when the value cannot be represented as JSON
 *   (undefined, a function, a BigInt, a cycle).
 */
export function encodeBody(body: unknown, contentType?: string): EncodedBody {
  if (body instanceof Uint8Array) return { bytes: body, contentType: contentType ?? OCTET_STREAM };
  if (typeof body === 'string')
    return { bytes: utf8Encoder.encode(body), contentType: contentType ?? TEXT_UTF8 };
  let text: string | undefined;
  try {
    text = JSON.stringify(body);
  } catch (cause) {
    throw new CarrierError('INVALID_ARGUMENT', 'body cannot be encoded as JSON', { cause });
  }
  if (text === undefined) {
    throw new CarrierError('INVALID_ARGUMENT', `body of type ${typeof body} cannot be encoded as JSON`);
  }
  return { bytes: utf8Encoder.encode(text), contentType: contentType ?? JSON_TYPE };
}

function mediaType(contentType: string): string {
  return (contentType.split(';')[0] ?? '').trim().toLowerCase();
}

/**
 * Decode received bytes by content type: JSON (`application/json` and `+json` types) to a value,
 * `text/*` to a string, anything else (including no content type) to the bytes themselves.
 * JSON keeps every field it carries, known or not, so forwarding a decoded body loses nothing;
 * forwarding `raw` is byte-exact.
 *
 * @throws CarrierError `DECODE_FAILED` when the bytes are not valid for their content type.
 */
export function decodeBody(bytes: Uint8Array, contentType: string): unknown {
  const type = mediaType(contentType);
  const isJson = type === JSON_TYPE || type.endsWith('+json');
  if (!isJson && !type.startsWith('text/')) return bytes;
  let text: string;
  try {
    text = strictUtf8.decode(bytes);
  } catch (cause) {
    throw new CarrierError('DECODE_FAILED', `body is not valid UTF-8 for content type ${type}`, { cause });
  }
  if (!isJson) return text;
  try {
    return JSON.parse(text) as unknown;
  } catch (cause) {
    throw new CarrierError('DECODE_FAILED', `body is not valid JSON: ${(cause as Error).message}`, { cause });
  }
}

/**
 * Bytes a message occupies for size limits: body, key, header keys and values, and the metadata
 * in its generic header form (`metadataHeaders`), all UTF-8.
 */
export function messageSize(
  body: Uint8Array,
  key: string | undefined,
  headers: Readonly<Record<string, string>>,
  metadata?: MessageMetadata | undefined,
): number {
  let size = body.byteLength + (key === undefined ? 0 : utf8Encoder.encode(key).byteLength);
  for (const [k, v] of [...Object.entries(headers), ...Object.entries(metadataHeaders(metadata))])
    size += utf8Encoder.encode(k).byteLength + utf8Encoder.encode(v).byteLength;
  return size;
}
