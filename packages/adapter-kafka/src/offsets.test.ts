import { describe, expect, it } from 'vitest';
import { PartitionOffsets } from './offsets.js';

describe('PartitionOffsets', () => {
  it('commits only up to the first record not done', () => {
    const p = new PartitionOffsets();
    expect(p.committable()).toBeUndefined();
    for (const o of [10, 11, 12, 13]) p.handed(o);
    expect(p.committable()).toBe(10);
    p.done(11);
    p.done(13);
    expect(p.committable()).toBe(10);
    p.done(10);
    expect(p.committable()).toBe(12);
    p.done(12);
    expect(p.committable()).toBe(14);
  });

  it('reports a position once until it moves', () => {
    const p = new PartitionOffsets();
    p.handed(0);
    p.done(0);
    expect(p.pending()).toBe(1);
    p.committed(1);
    expect(p.pending()).toBeUndefined();
    p.handed(1);
    expect(p.pending()).toBeUndefined(); // still 1: record 1 is outstanding
    p.done(1);
    expect(p.pending()).toBe(2);
  });

  it('a record given back holds the position for good', () => {
    const p = new PartitionOffsets();
    for (const o of [5, 6, 7]) p.handed(o);
    p.done(5);
    p.done(7); // 6 is given back: never marked done
    expect(p.committable()).toBe(6);
  });
});
