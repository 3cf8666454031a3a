/**
 * Random UUIDs (RFC 9562 version 4, lower-case `xxxxxxxx-xxxx-4xxx-Vxxx-xxxxxxxxxxxx` with `V` one
 * of 8, 9, a, b), as `crypto.randomUUID()` makes them, for a third of its instructions: the
 * default message id is made for every message published.
 *
 * The 122 random bits of each UUID come from `crypto.getRandomValues` (the platform's CSPRNG, as
 * `randomUUID`'s), drawn for {@link UUID_BATCH} UUIDs at a time. The batch is formatted into one
 * string at once (hex pairs written as 16-bit words, decoded by one `TextDecoder` call), and each
 * UUID is a 36-character slice of it. `crypto.randomUUID()` instead reads the global `crypto`
 * through Node's lazy getter and joins 20 strings per UUID.
 *
 * A slice keeps its batch's string (36 × {@link UUID_BATCH} bytes) alive as long as it lives
 * itself; ids normally die with their messages.
 */

/** UUIDs drawn and formatted at a time: a 2,304-byte string, 1 KiB of random bits. */
export const UUID_BATCH = 64;

/** Fills `words` with random bits (`crypto.getRandomValues`). */
export type RandomFill = (words: Uint32Array) => void;

const HEX = '0123456789abcdef';

/**
 * Little tables of two characters as one 16-bit word in the platform's byte order (written bytes,
 * read through a `Uint16Array`, so the output buffer, viewed the same way, gets them in order):
 * `PAIR[b]` the two hex digits of byte `b`; `DASH[n]` a dash then the digit `n`; `END[n]` the digit
 * `n` then a dash.
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
 * Write the UUID of the random words `w0`–`w3` as 18 words (36 ASCII characters) into `chars` at
 * `at`. Bits used: all of `w0` and `w3`, `w1` but bits 12–15, `w2` but bits 16–17 (122 bits);
 * the version digit is 4 and the variant digit `8 | (w2 >>> 30)`.
 */
function format(chars: Uint16Array, at: number, w0: number, w1: number, w2: number, w3: number): void {
  // xxxxxxxx-
  chars[at] = PAIR[w0 >>> 24]!;
  chars[at + 1] = PAIR[(w0 >>> 16) & 255]!;
  chars[at + 2] = PAIR[(w0 >>> 8) & 255]!;
  chars[at + 3] = PAIR[w0 & 255]!;
  // -xxxx- (bits 31–16 of w1)
  chars[at + 4] = DASH[w1 >>> 28]!;
  chars[at + 5] = PAIR[(w1 >>> 20) & 255]!;
  chars[at + 6] = END[(w1 >>> 16) & 15]!;
  // 4xxx (bits 11–0 of w1)
  chars[at + 7] = PAIR[0x40 | ((w1 >>> 8) & 15)]!;
  chars[at + 8] = PAIR[w1 & 255]!;
  // -Vxxx- (bits 31–18 of w2)
  chars[at + 9] = DASH[8 | (w2 >>> 30)]!;
  chars[at + 10] = PAIR[(w2 >>> 22) & 255]!;
  chars[at + 11] = END[(w2 >>> 18) & 15]!;
  // xxxxxxxxxxxx (bits 15–0 of w2, w3)
  chars[at + 12] = PAIR[(w2 >>> 8) & 255]!;
  chars[at + 13] = PAIR[w2 & 255]!;
  chars[at + 14] = PAIR[w3 >>> 24]!;
  chars[at + 15] = PAIR[(w3 >>> 16) & 255]!;
  chars[at + 16] = PAIR[(w3 >>> 8) & 255]!;
  chars[at + 17] = PAIR[w3 & 255]!;
}

/** Characters of one UUID. */
const UUID_LENGTH = 36;

/**
 * A source of random UUIDs: `batch` at a time from `fill` (default `crypto.getRandomValues`).
 * Tests give their own `fill` and a small `batch`; core uses {@link randomUuid}.
 */
export function uuidSource(
  batch: number = UUID_BATCH,
  fill: RandomFill = (words) => {
    globalThis.crypto.getRandomValues(words);
  },
): () => string {
  if (!Number.isInteger(batch) || batch < 1)
    throw new RangeError(`batch must be an integer ≥ 1, not ${batch}`);
  const words = new Uint32Array(4 * batch);
  const chars = new Uint16Array((UUID_LENGTH / 2) * batch);
  const bytes = new Uint8Array(chars.buffer);
  const decoder = new TextDecoder();
  let text = '';
  let next = batch;
  const refill = () => {
    fill(words);
    for (let k = 0; k < batch; k++) {
      const w = 4 * k;
      format(chars, (UUID_LENGTH / 2) * k, words[w]!, words[w + 1]!, words[w + 2]!, words[w + 3]!);
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
