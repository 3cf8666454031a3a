import { describe, expect, it } from 'vitest';
import { decodeFrame, encodeFrame, encodeMessageIndexes } from './framing.js';
import { rejection } from './test-support/registries.js';

// Vectors from Confluent's "Wire format" (Schema Registry: Formats, Serializers, and
// Deserializers): byte 0 is the magic byte 0, bytes 1-4 the schema id big-endian, then for
// Protobuf the message indexes: "the above array [1, 0] is encoded as the variable length ints
// 2,1,0 where the first 2 is the length" (zig-zag varints: 0x04 0x02 0x00), and "[0] ... a single
// 0". The Avro payload below is the Avro spec's encoding of the string "foo" (06 66 6f 6f).

describe('Confluent wire framing', () => {
  it('writes magic byte 0 and the schema id as 4 big-endian bytes before the payload', () => {
    const payload = Uint8Array.of(0x06, 0x66, 0x6f, 0x6f);
    expect([...encodeFrame(1, payload)]).toEqual([0, 0, 0, 0, 1, 0x06, 0x66, 0x6f, 0x6f]);
    expect([...encodeFrame(0x01020304, Uint8Array.of())]).toEqual([0, 1, 2, 3, 4]);
    expect([...encodeFrame(0xffffffff, Uint8Array.of(9))]).toEqual([0, 0xff, 0xff, 0xff, 0xff, 9]);
  });

  it('reads the schema id and the payload back', () => {
    const frame = decodeFrame(Uint8Array.of(0, 0, 0, 0x01, 0x2c, 0x06, 0x66, 0x6f, 0x6f));
    expect(frame.schemaId).toBe(300);
    expect([...frame.payload]).toEqual([0x06, 0x66, 0x6f, 0x6f]);
    expect(frame.messageIndexes).toBeUndefined();
  });

  it('writes the first message of a file, [0], as the single byte 0', () => {
    expect([...encodeMessageIndexes([0])]).toEqual([0]);
    expect([...encodeFrame(7, Uint8Array.of(0x08, 0x01), [0])]).toEqual([0, 0, 0, 0, 7, 0, 0x08, 0x01]);
  });

  it("writes [1, 0] as the zig-zag varints 2, 1, 0 (bytes 04 02 00), as in Confluent's example", () => {
    expect([...encodeMessageIndexes([1, 0])]).toEqual([0x04, 0x02, 0x00]);
  });

  it('writes indexes past 63 as multi-byte varints', () => {
    // 64 zig-zags to 128: 0x80 0x01
    expect([...encodeMessageIndexes([64])]).toEqual([0x02, 0x80, 0x01]);
    expect([...encodeMessageIndexes([0, 2, 1])]).toEqual([0x06, 0x00, 0x04, 0x02]);
  });

  it('reads message indexes back, the single 0 as [0]', () => {
    for (const indexes of [[0], [1, 0], [0, 2, 1], [64], [5, 300, 70000]]) {
      const bytes = encodeFrame(42, Uint8Array.of(0xaa), indexes);
      const frame = decodeFrame(bytes, { messageIndexes: true });
      expect(frame.schemaId).toBe(42);
      expect(frame.messageIndexes).toEqual(indexes);
      expect([...frame.payload]).toEqual([0xaa]);
    }
    expect(
      decodeFrame(Uint8Array.of(0, 0, 0, 0, 1, 0x04, 0x02, 0x00, 0x08), { messageIndexes: true }),
    ).toEqual({
      schemaId: 1,
      messageIndexes: [1, 0],
      payload: Uint8Array.of(0x08),
    });
  });

  it('refuses a body shorter than the header with DECODE_FAILED', async () => {
    for (const bytes of [Uint8Array.of(), Uint8Array.of(0), Uint8Array.of(0, 0, 0, 1)]) {
      expect((await rejection(() => decodeFrame(bytes))).code).toBe('DECODE_FAILED');
    }
  });

  it('refuses a body without the magic byte with DECODE_FAILED, naming the byte', async () => {
    const json = new TextEncoder().encode('{"id":1}');
    const error = await rejection(() => decodeFrame(json));
    expect(error.code).toBe('DECODE_FAILED');
    expect(error.message).toContain('0x7b');
  });

  it('refuses truncated or malformed message indexes with DECODE_FAILED', async () => {
    const cases = [
      Uint8Array.of(0, 0, 0, 0, 1), // no index list at all
      Uint8Array.of(0, 0, 0, 0, 1, 0x04, 0x02), // count 2, one index
      Uint8Array.of(0, 0, 0, 0, 1, 0x80), // varint cut short
      Uint8Array.of(0, 0, 0, 0, 1, 0x03, 0x00), // count -2
      Uint8Array.of(0, 0, 0, 0, 1, 0x02, 0x01), // index -1
      Uint8Array.of(0, 0, 0, 0, 1, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01), // varint longer than 5 bytes
      Uint8Array.of(0, 0, 0, 0, 1, 0x7e, 0x00), // count 63 with 1 byte left
    ];
    for (const bytes of cases) {
      expect((await rejection(() => decodeFrame(bytes, { messageIndexes: true }))).code).toBe(
        'DECODE_FAILED',
      );
    }
  });

  it('refuses ids and indexes out of range with INVALID_ARGUMENT', async () => {
    for (const id of [-1, 1.5, 2 ** 32, Number.NaN]) {
      expect((await rejection(() => encodeFrame(id, Uint8Array.of()))).code).toBe('INVALID_ARGUMENT');
    }
    expect((await rejection(() => encodeMessageIndexes([-1]))).code).toBe('INVALID_ARGUMENT');
  });

  it('reads a frame that is a view into a larger buffer', () => {
    const backing = Uint8Array.of(9, 9, 0, 0, 0, 0, 5, 1, 2, 9);
    const frame = decodeFrame(backing.subarray(2, 9));
    expect(frame.schemaId).toBe(5);
    expect([...frame.payload]).toEqual([1, 2]);
  });
});
