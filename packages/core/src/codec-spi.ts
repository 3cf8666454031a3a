import type { MessageMetadata } from './metadata.js';

/**
 * Codec SPI: how a body becomes bytes and back. Core's built-in codecs (JSON, text, bytes, and
 * the default that picks one by the body's type) implement it, and so do the schema codecs of
 * `@carrier/schema` (Avro, Protocol Buffers, JSON Schema, with the Confluent wire format). Codecs
 * run in core, never in an adapter: the bytes a codec writes are the bytes every broker carries.
 *
 * A codec may answer synchronously or with a promise (a schema codec looks up its registry the
 * first time); core awaits only what is a promise.
 */

/** What a codec is told when it encodes a body. */
export interface EncodeContext {
  /** Topic the message is published to (a schema codec derives its registry subject from it). */
  readonly topic: string;
  /** Fires when the publish is cancelled; a codec that calls a registry passes it on. */
  readonly signal?: AbortSignal | undefined;
}

/** What a codec is told when it decodes a body. */
export interface DecodeContext {
  /** Topic the message was published to. */
  readonly topic: string;
  /** Content type the body was published with. */
  readonly contentType: string;
  /** The message's Carrier metadata (`schemaId` among it). */
  readonly metadata: MessageMetadata;
  /** Fires when the delivery is cancelled. */
  readonly signal?: AbortSignal | undefined;
}

/** A body after encoding. */
export interface Encoded {
  /** The bytes to send: the whole body, framing included. */
  readonly bytes: Uint8Array;
  /** Content type that says how to read them (sent with the message). */
  readonly contentType: string;
  /**
   * Identity of the schema the bytes follow (a registry id as decimal text, or a URI), sent as
   * `metadata.schemaId` for readers that do not parse bodies. Absent for schema-less codecs.
   */
  readonly schemaId?: string | undefined;
}

/**
 * Turns bodies of type `T` into bytes and back.
 *
 * Errors: `encode` throws `CarrierError` `INVALID_MESSAGE` (with `issues`) when the value does not
 * fit the codec's schema and `ENCODE_FAILED` for any other failure (registry unreachable, schema
 * refused), `SCHEMA_INCOMPATIBLE` when the registry refuses the schema under its compatibility
 * rule; `decode` throws `DECODE_FAILED` when the bytes cannot be read (bad framing, unknown schema
 * id, bytes that do not match the writer's schema). A message whose body cannot be decoded is
 * dead-lettered with the error's message as the reason, never retried.
 */
export interface Codec<T = unknown> {
  /** Short name for errors and docs, e.g. `json`, `avro`. */
  readonly name: string;
  /** Content type this codec writes, e.g. `application/json`, `application/vnd.apache.avro+binary`. */
  readonly contentType: string;
  /** Encode `value`. May return a promise. */
  encode(value: T, context: EncodeContext): Encoded | Promise<Encoded>;
  /** Decode bytes this codec (or a compatible writer) produced. May return a promise. */
  decode(bytes: Uint8Array, context: DecodeContext): T | Promise<T>;
}
