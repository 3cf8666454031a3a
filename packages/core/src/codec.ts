import type { DecodeContext, EncodeContext } from './codec-spi.js';
import { bytesCodec, codecForContentType, codecForValue, OCTET_STREAM } from './codecs.js';
import { type MessageMetadata, metadataHeaders } from './metadata.js';

export { JSON_TYPE, OCTET_STREAM, TEXT_UTF8 } from './codecs.js';

/** The built-in codecs ignore the topic: the context `encodeBody` gives them. */
const NO_TOPIC: EncodeContext = Object.freeze({ topic: '' });
const NO_METADATA: MessageMetadata = Object.freeze({});

/** A body after encoding: the bytes and the content type that says how to read them. */
export interface EncodedBody {
  readonly bytes: Uint8Array;
  readonly contentType: string;
}

/**
 * Encode a body with `defaultCodec`: `Uint8Array` untouched (content type `contentType` if given,
 * else octet-stream), a string as UTF-8, anything else as JSON; `contentType`, given, replaces the
 * codec's label.
 *
 * @throws CarrierError `INVALID_ARGUMENT` when the value cannot be represented as JSON
 *   (undefined, a function, a BigInt, a cycle).
 */
export function encodeBody(body: unknown, contentType?: string): EncodedBody {
  // bytes (the bytes codec's case) in one small step, inlined where it is called
  if (body instanceof Uint8Array) return { bytes: body, contentType: contentType ?? OCTET_STREAM };
  const encoded = codecForValue(body).encode(body, NO_TOPIC) as EncodedBody;
  return contentType === undefined ? encoded : { bytes: encoded.bytes, contentType };
}

/**
 * Decode received bytes by content type, as `defaultCodec` does: JSON (`application/json` and
 * `+json` types) to a value, `text/*` to a string, anything else (including no content type) to
 * the bytes themselves. JSON keeps every field it carries, known or not, so forwarding a decoded
 * body loses nothing; forwarding `raw` is byte-exact.
 *
 * @throws CarrierError `DECODE_FAILED` when the bytes are not valid for their content type.
 */
export function decodeBody(bytes: Uint8Array, contentType: string): unknown {
  const codec = codecForContentType(contentType);
  // the bytes codec returns its input: no context to build
  if (codec === bytesCodec) return bytes;
  const context: DecodeContext = { topic: '', contentType, metadata: NO_METADATA };
  return codec.decode(bytes, context);
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
  let size = body.byteLength + (key === undefined ? 0 : utf8Length(key));
  for (const k in headers) size += utf8Length(k) + utf8Length(headers[k]!);
  if (metadata) {
    const fields = metadataHeaders(metadata);
    for (const k in fields) size += utf8Length(k) + utf8Length(fields[k]!);
  }
  return size;
}

/**
 * Bytes of `text` in UTF-8, without encoding it (a lone surrogate counts 3 bytes, as the encoder
 * writes U+FFFD for it).
 */
export function utf8Length(text: string): number {
  let bytes = text.length;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c < 0x80) continue;
    if (c < 0x800) bytes += 1;
    else if (c >= 0xd800 && c <= 0xdbff && i + 1 < text.length) {
      const next = text.charCodeAt(i + 1);
      if (next >= 0xdc00 && next <= 0xdfff) {
        bytes += 2; // a pair: 4 bytes for 2 code units
        i++;
      } else bytes += 2;
    } else bytes += 2;
  }
  return bytes;
}
