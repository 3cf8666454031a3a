import kafkajs, { type Message, type PartitionMetadata } from 'kafkajs';
import { describe, expect, it } from 'vitest';
import { pinnedPartitioner } from './producer.js';

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
