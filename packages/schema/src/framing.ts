import { CarrierError } from '@carrier/core';

/**
 * The Confluent wire format, the framing every schema codec of this package writes in front of its
 * payload, on every broker ({@link https://docs.confluent.io/platform/current/schema-registry/fundamentals/serdes-develop/index.html#wire-format | Confluent: Wire format}):
 *
 * | bytes | content |
 * | --- | --- |
 * | 0 | magic byte `0` (format version) |
 * | 1–4 | schema id, unsigned 32-bit big-endian, as the registry assigned it |
 * | 5– | Protobuf only: the message-index list, then the payload; other formats: the payload |
 *
 * The message-index list locates the message type in its `.proto` file: the path of indexes from
 * the file's top-level messages down through nested messages (`[0]` is the first message of the
 * file, `[1, 0]` the first message nested in the second). It is written as zig-zag varints (as
 * Avro's `int`): the count, then each index; the common `[0]` is written as the single byte `0`.
 */

/** First byte of every framed body (Confluent's format version 0). */
export const MAGIC_BYTE = 0;

/** Bytes before the payload (Avro, JSON Schema) or before the message-index list (Protobuf). */
export const HEADER_BYTES = 5;

const MAX_SCHEMA_ID = 0xffff_ffff;

/** A framed body taken apart by {@link decodeFrame}. */
export interface Frame {
  /** The registry's schema id (bytes 1–4). */
  readonly schemaId: number;
  /** Protobuf only: the path of the message type in its file (`[0]`: the first message). */
  readonly messageIndexes?: readonly number[] | undefined;
  /** The encoded value: the bytes after the header (and after the message-index list). */
  readonly payload: Uint8Array;
}

/** Options of {@link decodeFrame}. */
export interface DecodeFrameOptions {
  /** Read a Protobuf message-index list after the schema id. Default `false` (Avro, JSON Schema). */
  readonly messageIndexes?: boolean | undefined;
}

/**
 * Frame `payload` with `schemaId`, and for Protobuf with `messageIndexes` (omit it for Avro and
 * JSON Schema).
 *
 * @throws CarrierError `INVALID_ARGUMENT` when `schemaId` is not an integer in 0…2³²−1 or an index
 *   is not an integer in 0…2³¹−1.
 */
export function encodeFrame(
  schemaId: number,
  payload: Uint8Array,
  messageIndexes?: readonly number[],
): Uint8Array {
  if (!Number.isInteger(schemaId) || schemaId < 0 || schemaId > MAX_SCHEMA_ID) {
    throw new CarrierError('INVALID_ARGUMENT', `schema id ${schemaId} is not an unsigned 32-bit integer`);
  }
  const indexes = messageIndexes === undefined ? [] : encodeMessageIndexes(messageIndexes);
  const out = new Uint8Array(HEADER_BYTES + indexes.length + payload.length);
  out[0] = MAGIC_BYTE;
  new DataView(out.buffer).setUint32(1, schemaId, false);
  out.set(indexes, HEADER_BYTES);
  out.set(payload, HEADER_BYTES + indexes.length);
  return out;
}

/**
 * Take a framed body apart. The payload is a view into `bytes`, not a copy.
 *
 * @throws CarrierError `DECODE_FAILED` when the body is shorter than the header, does not start
 *   with the magic byte `0`, or (with `messageIndexes`) the index list is truncated or malformed.
 */
export function decodeFrame(bytes: Uint8Array, options: DecodeFrameOptions = {}): Frame {
  if (bytes.length < HEADER_BYTES) {
    throw new CarrierError(
      'DECODE_FAILED',
      `body is not in the Confluent wire format: ${bytes.length} bytes, the header alone has ${HEADER_BYTES}`,
    );
  }
  if (bytes[0] !== MAGIC_BYTE) {
    throw new CarrierError(
      'DECODE_FAILED',
      `body is not in the Confluent wire format: it starts with byte 0x${hex(bytes[0] ?? 0)}, not the magic byte 0x00`,
    );
  }
  const schemaId = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength).getUint32(1, false);
  if (!options.messageIndexes) return { schemaId, payload: bytes.subarray(HEADER_BYTES) };
  const reader = { bytes, offset: HEADER_BYTES };
  const messageIndexes = readMessageIndexes(reader);
  return { schemaId, messageIndexes, payload: bytes.subarray(reader.offset) };
}

/**
 * The message-index list as bytes: zig-zag varints, the count first; `[0]` (and `[]`, which
 * Confluent's readers also take as the first message) as the single byte `0`.
 *
 * @throws CarrierError `INVALID_ARGUMENT` for an index that is not an integer in 0…2³¹−1.
 */
export function encodeMessageIndexes(indexes: readonly number[]): Uint8Array {
  for (const index of indexes) {
    if (!Number.isInteger(index) || index < 0 || index > 0x7fff_ffff) {
      throw new CarrierError('INVALID_ARGUMENT', `message index ${index} is not an integer in 0…2147483647`);
    }
  }
  if (indexes.length === 0 || (indexes.length === 1 && indexes[0] === 0)) return Uint8Array.of(0);
  const out: number[] = [];
  writeZigZagVarint(out, indexes.length);
  for (const index of indexes) writeZigZagVarint(out, index);
  return Uint8Array.from(out);
}

interface Reader {
  readonly bytes: Uint8Array;
  offset: number;
}

function readMessageIndexes(reader: Reader): number[] {
  const count = readZigZagVarint(reader, 'message-index count');
  if (count === 0) return [0];
  const left = reader.bytes.length - reader.offset;
  if (count < 0 || count > left) {
    throw new CarrierError(
      'DECODE_FAILED',
      `body is not in the Confluent wire format: message-index count ${count} with ${left} bytes left`,
    );
  }
  const indexes: number[] = [];
  for (let i = 0; i < count; i++) {
    const index = readZigZagVarint(reader, 'message index');
    if (index < 0) {
      throw new CarrierError(
        'DECODE_FAILED',
        `body is not in the Confluent wire format: message index ${index}`,
      );
    }
    indexes.push(index);
  }
  return indexes;
}

/** Zig-zag encode a 32-bit signed integer, then write it as a little-endian base-128 varint. */
function writeZigZagVarint(out: number[], value: number): void {
  let v = ((value << 1) ^ (value >> 31)) >>> 0;
  while (v > 0x7f) {
    out.push((v & 0x7f) | 0x80);
    v >>>= 7;
  }
  out.push(v);
}

/** Read a varint of at most 5 bytes (a 32-bit value) and undo the zig-zag encoding. */
function readZigZagVarint(reader: Reader, what: string): number {
  let raw = 0;
  for (let shift = 0; shift < 35; shift += 7) {
    const byte = reader.bytes[reader.offset];
    if (byte === undefined) {
      throw new CarrierError(
        'DECODE_FAILED',
        `body is not in the Confluent wire format: ${what} is truncated`,
      );
    }
    reader.offset++;
    raw |= (byte & 0x7f) << shift;
    if ((byte & 0x80) === 0) return (raw >>> 1) ^ -(raw & 1);
  }
  throw new CarrierError(
    'DECODE_FAILED',
    `body is not in the Confluent wire format: ${what} is longer than 5 bytes`,
  );
}

function hex(byte: number): string {
  return byte.toString(16).padStart(2, '0');
}
