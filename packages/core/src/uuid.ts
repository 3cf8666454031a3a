/**
 * Random UUIDs (RFC 9562 version 4, lower-case `xxxxxxxx-xxxx-4xxx-Vxxx-xxxxxxxxxxxx` with `V` one
 * of 8, 9, a, b), as `crypto.randomUUID()` makes them, for about a quarter of its instructions
 * (valgrind, Node 20: ~450 against ~1,900 per id): the default message id is made for every message
 * published.
 *
 * The 122 random bits of each UUID come from `crypto.getRandomValues` (the platform's CSPRNG, as
 * `randomUUID`'s), drawn for {@link UUID_BATCH} × {@link UUID_BATCHES_PER_DRAW} UUIDs at a time
 * (16 KiB). {@link UUID_BATCH} UUIDs at a time are formatted into one string (four characters a
 * 32-bit store, decoded by one `TextDecoder` call), and each UUID is a 36-character slice of it.
 * `crypto.randomUUID()` instead reads the global `crypto` through Node's lazy getter and joins 20
 * strings per UUID.
 *
 * A slice keeps its batch's string (36 × {@link UUID_BATCH} = 576 bytes) alive as long as it
 * lives itself: an id kept alone (say, in a map of failed ids) holds 576 bytes rather than about
 * 56. The batch is small to bound that: valgrind counts per message on the core e2e loop
 * (`npm run bench:core`, 2026-12-01) were 13,483 instructions with batches of 128 (4,608 bytes
 * held), 13,554 with 16, 13,751 with 4, and 13,927 with one `String.fromCharCode` per id (a string
 * of its own); `crypto.randomUUID()`, 17,051.
 */

/** UUIDs formatted at a time: a 576-byte string. */
export const UUID_BATCH = 16;

/** Fills `words` with random bits (`crypto.getRandomValues`). */
export type RandomFill = (words: Uint32Array) => void;

const HEX = '0123456789abcdef';

/**
 * Little tables of two characters as one 16-bit word in the platform's byte order (written as
 * bytes, read through a `Uint16Array`): `PAIR[b]` the two hex digits of byte `b`; `DASH[n]` a dash
 * then the digit `n`; `END[n]` the digit `n` then a dash.
 */
function wordTable(count: number, first: (i: number) => number, second: (i: number) => number): Uint16Array {
  const bytes = new Uint8Array(2 * count);
  for (let i = 0; i < count; i++) {
    bytes[2 * i] = first(i);
    bytes[2 * i + 1] = second(i);
  }
  return new Uint16Array(bytes.buffer);
}
const digit = (n: number): number => HEX.charCodeAt(n);
const DASH_CODE = 45;
const PAIR = wordTable(
  256,
  (b) => digit(b >> 4),
  (b) => digit(b & 15),
);
const DASH = wordTable(16, () => DASH_CODE, digit);
const END = wordTable(16, digit, () => DASH_CODE);

/**
 * Shifts that put two 16-bit words (two characters each) into one 32-bit word in memory order:
 * the first word at the lower address.
 */
const LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;
const FIRST = LITTLE_ENDIAN ? 0 : 16;
const SECOND = LITTLE_ENDIAN ? 16 : 0;

/** The 32-bit word of characters `a` then `b` (16-bit words of two characters each). */
function four(a: number, b: number): number {
  return (a << FIRST) | (b << SECOND);
}

/**
 * Write the UUID of the random words `w0`–`w3` as 9 words of four ASCII characters (36) into
 * `chars` at `at`. Bits used: all of `w0` and `w3`, `w1` but bits 12–15, `w2` but bits 16–17 (122
 * bits); the version digit is 4 and the variant digit `8 | (w2 >>> 30)`.
 */
function format(chars: Uint32Array, at: number, w0: number, w1: number, w2: number, w3: number): void {
  // xxxxxxxx
  chars[at] = four(PAIR[w0 >>> 24]!, PAIR[(w0 >>> 16) & 255]!);
  chars[at + 1] = four(PAIR[(w0 >>> 8) & 255]!, PAIR[w0 & 255]!);
  // -xxx x- (bits 31–16 of w1)
  chars[at + 2] = four(DASH[w1 >>> 28]!, PAIR[(w1 >>> 20) & 255]!);
  chars[at + 3] = four(END[(w1 >>> 16) & 15]!, PAIR[0x40 | ((w1 >>> 8) & 15)]!);
  // 4x (bits 11–8 of w1 above) xx (bits 7–0) -V (bits 31–30 of w2)
  chars[at + 4] = four(PAIR[w1 & 255]!, DASH[8 | (w2 >>> 30)]!);
  // xxx- (bits 29–18 of w2)
  chars[at + 5] = four(PAIR[(w2 >>> 22) & 255]!, END[(w2 >>> 18) & 15]!);
  // xxxxxxxxxxxx (bits 15–0 of w2, w3)
  chars[at + 6] = four(PAIR[(w2 >>> 8) & 255]!, PAIR[w2 & 255]!);
  chars[at + 7] = four(PAIR[w3 >>> 24]!, PAIR[(w3 >>> 16) & 255]!);
  chars[at + 8] = four(PAIR[(w3 >>> 8) & 255]!, PAIR[w3 & 255]!);
}

/** Characters of one UUID. */
const UUID_LENGTH = 36;

/**
 * Batches whose random bits are drawn in one `fill` call: each call of `getRandomValues` costs
 * about 10,000 instructions besides its bytes (16 KiB is well below its 64 KiB limit).
 */
export const UUID_BATCHES_PER_DRAW = 64;

/**
 * A source of random UUIDs, formatted `batch` at a time, their random bits drawn from `fill`
 * (default `crypto.getRandomValues`) for `batchesPerDraw` batches at a time. Tests give their own
 * `fill` and small numbers; core uses {@link randomUuid}.
 */
export function uuidSource(
  batch: number = UUID_BATCH,
  fill: RandomFill = (words) => {
    globalThis.crypto.getRandomValues(words);
  },
  batchesPerDraw: number = UUID_BATCHES_PER_DRAW,
): () => string {
  if (!Number.isInteger(batch) || batch < 1)
    throw new RangeError(`batch must be an integer ≥ 1, not ${batch}`);
  if (!Number.isInteger(batchesPerDraw) || batchesPerDraw < 1)
    throw new RangeError(`batchesPerDraw must be an integer ≥ 1, not ${batchesPerDraw}`);
  const words = new Uint32Array(4 * batch * batchesPerDraw);
  let drawn = words.length;
  const chars = new Uint32Array((UUID_LENGTH / 4) * batch);
  const bytes = new Uint8Array(chars.buffer);
  const decoder = new TextDecoder();
  let text = '';
  let next = batch;
  const refill = () => {
    if (drawn === words.length) {
      fill(words);
      drawn = 0;
    }
    const first = drawn;
    drawn += 4 * batch;
    for (let k = 0; k < batch; k++) {
      const w = first + 4 * k;
      format(chars, (UUID_LENGTH / 4) * k, words[w]!, words[w + 1]!, words[w + 2]!, words[w + 3]!);
    }
    text = decoder.decode(bytes);
    next = 0;
  };
  return () => {
    if (next === batch) refill();
    const at = UUID_LENGTH * next++;
    return text.slice(at, at + UUID_LENGTH);
  };
}

/** A new random (version 4) UUID, as `crypto.randomUUID()` gives. */
export const randomUuid: () => string = uuidSource();
