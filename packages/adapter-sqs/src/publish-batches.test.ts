import { describe, expect, it } from 'vitest';
import { batchFailures, chunk, type Entry } from './publish-batches.js';

function entry(index: number, size: number): Entry {
  return {
    index,
    message: {
      id: `m${index}`,
      headers: {},
      contentType: 'text/plain',
      body: new Uint8Array(),
      publishedAt: new Date(),
    },
    encoded: { body: '', attributes: {}, size },
  };
}

describe('publish batches', () => {
  it('splits by 10 entries and by the request size limit, keeping the order', () => {
    const entries = Array.from({ length: 25 }, (_, i) => entry(i, 10));
    expect(chunk(entries, 1_000).map((c) => c.length)).toEqual([10, 10, 5]);
    const big = [entry(0, 600), entry(1, 300), entry(2, 200), entry(3, 1_000), entry(4, 1)];
    expect(chunk(big, 1_000).map((c) => c.map((e) => e.index))).toEqual([[0, 1], [2], [3], [4]]);
  });

  it('maps per-entry failures to exactly those messages', () => {
    const c = [entry(10, 1), entry(11, 1), entry(12, 1), entry(13, 1)];
    const failed = batchFailures(
      c,
      [{ Id: '10' }, { Id: '12' }],
      [{ Id: '11', Code: 'InvalidParameter', Message: 'bad attribute' }],
    );
    expect([...failed.keys()]).toEqual([11, 13]);
    expect(failed.get(11)!.message).toBe('InvalidParameter: bad attribute');
    expect(failed.get(13)!.message).toMatch(/no confirmation/);
  });
});
