import kafkajs, { type Message, type PartitionMetadata } from 'kafkajs';
import { describe, expect, it } from 'vitest';
import { pinnedPartitioner, unconfirmed } from './producer.js';

const { Partitioners } = kafkajs;

const partitionMetadata: PartitionMetadata[] = [0, 1, 2].map((partitionId) => ({
  partitionId,
  leader: 1,
  partitionErrorCode: 0,
  replicas: [1],
  isr: [1],
}));

describe('pinnedPartitioner', () => {
  it('a keyless record keeps its partition when kafkajs partitions it again for a retry', () => {
    const partition = pinnedPartitioner();
    const records: Message[] = Array.from({ length: 6 }, (_, i) => ({ key: null, value: `m-${i}` }));
    const first = records.map((message) => partition({ topic: 't', partitionMetadata, message }));
    expect(new Set(first).size).toBe(3); // still round-robin over the partitions
    const retried = records.map((message) => partition({ topic: 't', partitionMetadata, message }));
    expect(retried).toEqual(first);
  });

  it('a keyed record goes where the default (murmur2) partitioner puts it', () => {
    const partition = pinnedPartitioner();
    const reference = Partitioners.DefaultPartitioner();
    for (const key of ['a', 'customer-7', 'kü😀']) {
      const message: Message = { key, value: 'x' };
      expect(partition({ topic: 't', partitionMetadata, message })).toBe(
        reference({ topic: 't', partitionMetadata, message: { key, value: 'x' } }),
      );
    }
  });
});

describe('unconfirmed', () => {
  it('names the records whose partition has no result (kafkajs skipped a broker that answered before the leader moved)', () => {
    const partition = pinnedPartitioner();
    const records: Message[] = Array.from({ length: 6 }, (_, i) => ({ key: null, value: `m-${i}` }));
    const chosen = records.map((message) => partition({ topic: 't', partitionMetadata, message }));
    const written = chosen[0]!;
    const result = [{ partition: written }];
    const expected = chosen.flatMap((p, i) => (p === written ? [] : [i]));
    expect(expected.length).toBeGreaterThan(0);
    expect(unconfirmed(records, result)).toEqual(expected);
    expect(
      unconfirmed(
        records,
        [0, 1, 2].map((p) => ({ partition: p })),
      ),
    ).toEqual([]);
  });

  it('counts a record the partitioner never saw as unconfirmed', () => {
    expect(unconfirmed([{ key: 'a', value: 'x' }], [{ partition: 0 }])).toEqual([0]);
  });
});
