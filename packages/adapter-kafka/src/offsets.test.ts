import { describe, expect, it } from 'vitest';
import { decodeLedger, encodeLedger, MAX_METADATA_CHARS, PartitionOffsets } from './offsets.js';

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

  it('reports a commit once until the position or the delivery counts change', () => {
    const p = new PartitionOffsets();
    p.handed(0);
    p.done(0);
    const first = p.pending();
    expect(first?.offset).toBe(1);
    p.committed(first!);
    expect(p.pending()).toBeUndefined();
    p.handed(1);
    const handed = p.pending(); // same position, but record 1 is now counted as delivered once
    expect(handed?.offset).toBe(1);
    expect(decodeLedger(1, handed!.metadata)?.deliveries.get(1)).toBe(1);
    p.committed(handed!);
    expect(p.pending()).toBeUndefined();
    p.done(1);
    expect(p.pending()?.offset).toBe(2);
  });

  it('a released record holds the position and its delivery is not counted', () => {
    const p = new PartitionOffsets();
    for (const o of [5, 6, 7]) p.handed(o);
    p.done(5);
    p.done(7);
    p.released(6);
    expect(p.committable()).toBe(6);
    const ledger = decodeLedger(6, p.pending()!.metadata)!;
    expect(ledger.end).toBe(8);
    expect(ledger.deliveries.get(6)).toBe(0);
    expect(ledger.deliveries.has(7)).toBe(false); // done: the next owner skips it
  });

  it('the next owner adds one to unsettled records and skips the ones done', () => {
    const before = new PartitionOffsets();
    for (const o of [20, 21, 22, 23]) before.handed(o);
    before.done(21);
    before.done(23);
    const commit = before.pending()!;
    expect(commit.offset).toBe(20);
    // the member dies here; the next owner reads from 20 with the ledger
    const after = new PartitionOffsets();
    after.restore(decodeLedger(commit.offset, commit.metadata));
    expect(after.plan(20)).toEqual({ deliver: true, previous: 1 });
    after.handed(20, 2);
    expect(after.plan(21)).toEqual({ deliver: false });
    after.skipped(21);
    expect(after.plan(22)).toEqual({ deliver: true, previous: 1 });
    after.handed(22, 2);
    expect(after.plan(23)).toEqual({ deliver: false });
    after.skipped(23);
    expect(after.plan(24)).toEqual({ deliver: true, previous: 0 });
    // a commit before everything was read again keeps what is still unread from the ledger
    const partial = new PartitionOffsets();
    partial.restore(decodeLedger(commit.offset, commit.metadata));
    partial.handed(20, 2);
    const kept = decodeLedger(20, partial.pending()!.metadata)!;
    expect([...kept.deliveries]).toEqual([
      [20, 2],
      [22, 1],
    ]);
    expect(kept.end).toBe(24);
  });

  it('a record whose settlement failed is handed out again when read again, others are not', () => {
    const p = new PartitionOffsets();
    for (const o of [0, 1, 2]) p.handed(o);
    p.failed(1);
    p.done(2);
    expect(p.firstAgain()).toBe(1);
    expect(p.plan(0)).toEqual({ deliver: false }); // still in flight here
    expect(p.plan(1)).toEqual({ deliver: true, previous: 1 });
    p.handed(1, 2);
    expect(p.plan(2)).toEqual({ deliver: false }); // done
    expect(p.firstAgain()).toBeUndefined();
  });

  it('a hand-out that could not be recorded is forgotten', () => {
    const p = new PartitionOffsets();
    p.handed(0);
    p.done(0);
    const mark = p.mark();
    p.handed(1);
    p.done(1);
    p.rewind(mark);
    expect(p.committable()).toBe(1);
    expect(p.plan(1)).toEqual({ deliver: true, previous: 0 });
  });
});

describe('delivery ledger in the commit metadata', () => {
  it('round-trips runs of offsets with counts', () => {
    const deliveries = new Map([
      [100, 1],
      [101, 1],
      [102, 1],
      [105, 3],
      [140, 1],
    ]);
    const text = encodeLedger(100, 150, deliveries);
    expect(text.length).toBeLessThan(40);
    const back = decodeLedger(100, text)!;
    expect(back.end).toBe(150);
    expect([...back.deliveries]).toEqual([...deliveries]);
  });

  it('ignores metadata it did not write', () => {
    expect(decodeLedger(0, '')).toBeUndefined();
    expect(decodeLedger(0, null)).toBeUndefined();
    expect(decodeLedger(0, 'event-id-3')).toBeUndefined();
  });

  it('stays under the limit by moving the end down (undercount, never a wrong skip)', () => {
    const deliveries = new Map<number, number>();
    for (let o = 0; o < 5_000; o += 2) deliveries.set(o, 1 + (o % 5));
    const text = encodeLedger(0, 5_000, deliveries);
    expect(text.length).toBeLessThanOrEqual(MAX_METADATA_CHARS);
    const back = decodeLedger(0, text)!;
    expect(back.end).toBeLessThan(5_000);
    for (let o = 0; o < back.end; o += 2) expect(back.deliveries.get(o)).toBe(1 + (o % 5));
  });
});
