import { describe, expect, it } from 'vitest';
import { claimOrder, fairShare, OUTBOX_PARTITIONS } from './partitions.js';

describe('partition sharing', () => {
  it('gives one relay every partition', () => {
    expect(fairShare(1)).toBe(OUTBOX_PARTITIONS);
  });

  it('rounds the share up so that every partition can have an owner', () => {
    for (let members = 1; members <= 20; members++) {
      expect(fairShare(members) * members).toBeGreaterThanOrEqual(OUTBOX_PARTITIONS);
      expect(fairShare(members)).toBeLessThanOrEqual(OUTBOX_PARTITIONS);
    }
    expect(fairShare(3)).toBe(6);
  });

  it('treats a count of zero members (not yet visible) as one', () => {
    expect(fairShare(0)).toBe(OUTBOX_PARTITIONS);
  });

  it('tries every partition once, starting where asked', () => {
    const order = claimOrder(13);
    expect(order[0]).toBe(13);
    expect([...order].sort((a, b) => a - b)).toEqual([...Array(OUTBOX_PARTITIONS).keys()]);
    expect(claimOrder(-1)[0]).toBe(OUTBOX_PARTITIONS - 1);
  });
});
