import { describe, expect, it } from 'vitest';
import { randomUuid, UUID_BATCH, uuidSource } from './uuid.js';

/** RFC 9562 version 4, variant 10xx, lower case. */
const V4 = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

/** A fill that writes the same word everywhere, counting its calls. */
function constantFill(word: number) {
  const calls = { count: 0 };
  return {
    calls,
    fill: (words: Uint32Array) => {
      calls.count++;
      words.fill(word);
    },
  };
}

describe('randomUuid', () => {
  it('makes version 4 UUIDs with the RFC 9562 variant', () => {
    for (let i = 0; i < 3 * UUID_BATCH + 1; i++) expect(randomUuid()).toMatch(V4);
  });

  it('never repeats an id over 100,000 ids (across many refills of its pool)', () => {
    const seen = new Set<string>();
    for (let i = 0; i < 100_000; i++) seen.add(randomUuid());
    expect(seen.size).toBe(100_000);
  });

  it('gives every random digit all 16 values and the variant digit 8, 9, a and b', () => {
    const values = Array.from({ length: 36 }, () => new Set<string>());
    for (let i = 0; i < 5_000; i++) {
      const id = randomUuid();
      for (let c = 0; c < 36; c++) values[c]!.add(id[c]!);
    }
    for (let c = 0; c < 36; c++) {
      const expected = c === 8 || c === 13 || c === 18 || c === 23 ? 1 : c === 14 ? 1 : c === 19 ? 4 : 16;
      expect(values[c]!.size, `character ${c}`).toBe(expected);
    }
    expect([...values[19]!].sort()).toEqual(['8', '9', 'a', 'b']);
  });

  it('is as crypto.randomUUID in form: 36 characters, one-byte text', () => {
    const id = randomUuid();
    expect(id).toHaveLength(crypto.randomUUID().length);
    expect(new TextEncoder().encode(id)).toHaveLength(36);
  });
});

describe('uuidSource', () => {
  it('formats all-zero and all-one random bits with only the version and variant set', () => {
    expect(uuidSource(1, constantFill(0).fill)()).toBe('00000000-0000-4000-8000-000000000000');
    expect(uuidSource(1, constantFill(0xffffffff).fill)()).toBe('ffffffff-ffff-4fff-bfff-ffffffffffff');
  });

  it('puts each random word where it belongs', () => {
    const next = uuidSource(1, (words) => words.set([0x01234567, 0x89abcdef, 0xfedcba98, 0x76543210]));
    // w0 | w1 bits 31–16 | 4, w1 bits 11–0 | 8 + w2 bits 31–30 (b), w2 bits 29–18 (fb7) | w2 bits
    // 15–0, w3; w1 bits 15–12 (c) and w2 bits 17–16 (0) are the 6 bits not used
    expect(next()).toBe('01234567-89ab-4def-bfb7-ba9876543210');
  });

  it('draws random bits once per batchesPerDraw batches, and no id repeats across draws', () => {
    for (const [batchesPerDraw, draws] of [
      [1, 4],
      [2, 2],
      [8, 1],
    ] as const) {
      const { calls, fill } = constantFill(0);
      let word = 0;
      const next = uuidSource(
        3,
        (words) => {
          fill(words);
          for (let i = 0; i < words.length; i++) words[i] = ++word;
        },
        batchesPerDraw,
      );
      const ids = Array.from({ length: 10 }, () => next());
      expect(calls.count, `${batchesPerDraw} batches per draw`).toBe(draws);
      expect(new Set(ids).size).toBe(10);
      for (const id of ids) expect(id).toMatch(V4);
    }
  });

  it('uses every drawn word once: consecutive ids of one draw follow the words in order', () => {
    const next = uuidSource(
      1,
      (words) => {
        for (let i = 0; i < words.length; i++) words[i] = i < 4 ? 0 : 0xffffffff;
      },
      2,
    );
    expect(next()).toBe('00000000-0000-4000-8000-000000000000');
    expect(next()).toBe('ffffffff-ffff-4fff-bfff-ffffffffffff');
  });

  it('refuses a batch that is not a positive integer', () => {
    expect(() => uuidSource(0)).toThrow(RangeError);
    expect(() => uuidSource(1.5)).toThrow(RangeError);
    expect(() => uuidSource(1, undefined, 0)).toThrow(RangeError);
  });
});
