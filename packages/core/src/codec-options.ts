import type { Codec, EncodeContext, Encoded } from './codec-spi.js';
import { CarrierError, isCarrierError } from './errors.js';
import type { MessageMetadata } from './metadata.js';
import { validateContentType } from './names.js';
import { isWellFormed } from './unicode.js';

/**
 * The `codec` option of `publish`, `publishBatch`, `request`, `message.reply`, `subscribe` and the
 * dead-letter readers: checked, run (a promise awaited only when the codec returns one, so a
 * synchronous codec costs no extra turn of the event loop), its result checked, its schema id put
 * into the metadata.
 */

/** Whether `value` is a promise (or any thenable): the only case core awaits. */
export function isPromiseLike<T>(value: T | PromiseLike<T>): value is PromiseLike<T> {
  return (
    typeof value === 'object' && value !== null && typeof (value as { then?: unknown }).then === 'function'
  );
}

/** `value`, a codec option, checked. @throws CarrierError `INVALID_ARGUMENT` naming `what`. */
export function checkCodec(value: unknown, what = 'codec'): Codec | undefined {
  if (value === undefined) return undefined;
  const codec = value as Partial<Codec> | null;
  if (
    typeof codec !== 'object' ||
    codec === null ||
    typeof codec.encode !== 'function' ||
    typeof codec.decode !== 'function'
  ) {
    throw new CarrierError('INVALID_ARGUMENT', `${what} must be a Codec (an object with encode and decode)`);
  }
  return codec as Codec;
}

/** The codec's result, checked: bytes a `Uint8Array`, a valid content type, a header-safe schema id. */
function checkEncoded(codec: Codec, encoded: Encoded): Encoded {
  const name = codec.name || 'codec';
  if (!encoded || !(encoded.bytes instanceof Uint8Array))
    throw new CarrierError('ENCODE_FAILED', `the ${name} codec returned no Uint8Array bytes`);
  if (typeof encoded.contentType !== 'string' || encoded.contentType.length === 0)
    throw new CarrierError('ENCODE_FAILED', `the ${name} codec returned no content type`);
  try {
    validateContentType(encoded.contentType);
  } catch (cause) {
    throw new CarrierError('ENCODE_FAILED', `the ${name} codec returned an invalid content type`, { cause });
  }
  const id = encoded.schemaId;
  if (id !== undefined && (typeof id !== 'string' || !headerSafe(id)))
    throw new CarrierError(
      'ENCODE_FAILED',
      `the ${name} codec returned a schema id that is not non-empty header-safe text`,
    );
  return encoded;
}

function headerSafe(text: string): boolean {
  return text.length > 0 && isWellFormed(text) && !/[\r\n\0]/.test(text);
}

/**
 * Encode `value` with `codec`. Synchronous when the codec is; errors propagate as the codec threw
 * them (`INVALID_MESSAGE`, `ENCODE_FAILED`, `SCHEMA_INCOMPATIBLE`, …), except a result that is not
 * an `Encoded` (`ENCODE_FAILED`).
 */
export function encodeWith(
  codec: Codec,
  value: unknown,
  context: EncodeContext,
): Encoded | PromiseLike<Encoded> {
  const encoded = codec.encode(value, context);
  return isPromiseLike(encoded) ? encoded.then((e) => checkEncoded(codec, e)) : checkEncoded(codec, encoded);
}

/**
 * `metadata` with the codec's schema id. The codec's id wins over one the caller set: the bytes
 * follow the codec's schema, and an id copied from a forwarded message (`metadata:
 * message.metadata`) names the schema the message was read with, not the one it is written with.
 * Without a codec id the caller's stays as given.
 */
export function withSchemaId(
  metadata: MessageMetadata | undefined,
  schemaId: string | undefined,
): MessageMetadata | undefined {
  if (schemaId === undefined || metadata?.schemaId === schemaId) return metadata;
  return { ...metadata, schemaId };
}

/**
 * Whether a decode error means the body can never be read (dead-letter it at once): `DECODE_FAILED`
 * and `INVALID_MESSAGE` (a typed topic's validator refused it). Anything else a codec throws (a
 * registry it could not reach: `CONNECTION`, `TIMEOUT`, `ENCODE_FAILED`) may pass on a later
 * attempt, and is retried as a handler's failure.
 */
export function isUnreadable(error: unknown): boolean {
  return isCarrierError(error, 'DECODE_FAILED') || isCarrierError(error, 'INVALID_MESSAGE');
}
