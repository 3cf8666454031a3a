import { CarrierError } from '@carrier/core';
import { describe, expect, it } from 'vitest';
import { check, expectClean, History, outcomeOf, report } from '../src/history/index.js';

// The history checker (src/history/) on crafted histories: no broker is used, so this spec runs in
// any CARRIER_TEST_ONLY selection. Every report field is shown to catch what it is about, and
// expectClean() to fail on it.

/** A history of `n` sequential confirmed publishes of one key each 10 ms apart, from t = 1000. */
function sequential(n: number, key = 'k'): History {
  const h = new History({ groups: ['g'] });
  for (let i = 0; i < n; i++)
    h.publish({ id: `m-${i}`, key, outcome: 'confirmed', startedAt: 1000 + i * 10, at: 1005 + i * 10 });
  return h;
}

function handleAll(h: History, ids: readonly string[], group = 'g', from = 2000): void {
  ids.forEach((id, i) => {
    h.handled({ group, member: 'a', id, key: 'k', attempt: 1, at: from + i });
  });
}

describe('history checker', () => {
  it('a history where every confirmed publish is handled once in order is clean', () => {
    const h = sequential(5);
    handleAll(h, ['m-0', 'm-1', 'm-2', 'm-3', 'm-4']);
    const r = report(h, { order: true });
    const g = r.groups[0]!;
    expect(g).toMatchObject({ group: 'g', calls: 5, distinct: 5, lost: [], phantom: [], orderChecked: 5 });
    expect(g.duplicates).toEqual({ ids: [], extra: 0 });
    expect(g.orderViolations).toEqual([]);
    expect(r.publishes).toMatchObject({
      attempts: 5,
      ids: 5,
      confirmed: 5,
      failed: 0,
      unknown: 0,
      retries: 0,
    });
    expectClean(r, { order: true, noUnexcusedDuplicates: true });
    expect(r.summary).toContain('group g: 5 handler calls, 5 distinct; lost 0, phantom 0');
  });

  it('a confirmed publish never handled is lost, and expectClean fails on it', () => {
    const h = sequential(3);
    handleAll(h, ['m-0', 'm-2']);
    const r = report(h);
    expect(r.groups[0]!.lost).toEqual(['m-1']);
    expect(r.summary).toContain('lost 1 (m-1)');
    expect(() => expectClean(r, { order: false })).toThrow(/lost in group g/);
  });

  it('a group that handled nothing loses every confirmed publish', () => {
    const h = sequential(2);
    const r = report(h);
    expect(r.groups.map((g) => [g.group, g.lost])).toEqual([['g', ['m-0', 'm-1']]]);
  });

  it('failed and unknown publishes never confirmed are not lost, but are counted as never confirmed', () => {
    const h = new History({ groups: ['g'] });
    h.publish({ id: 'a', outcome: 'failed', at: 1 });
    h.publish({ id: 'b', outcome: 'unknown', at: 2 });
    h.handled({ group: 'g', member: 'x', id: 'b', at: 3 }); // an unknown outcome may have been stored
    const r = report(h);
    expect(r.groups[0]!.lost).toEqual([]);
    expect(r.groups[0]!.phantom).toEqual([]);
    expect(r.publishes.neverConfirmed).toEqual(['a', 'b']);
    expectClean(r, { order: false });
  });

  it('a handled id that was never attempted is phantom, and expectClean fails on it', () => {
    const h = sequential(1);
    handleAll(h, ['m-0', 'ghost']);
    const r = report(h);
    expect(r.groups[0]!.phantom).toEqual(['ghost']);
    expect(() => expectClean(r, { order: false })).toThrow(/phantom in group g/);
  });

  it('duplicates of a retried id are excused, redeliveries are not', () => {
    const h = new History({ groups: ['g'] });
    h.publish({ id: 'r', outcome: 'unknown', at: 1 });
    const retry = h.publish({ id: 'r', outcome: 'confirmed', at: 2 });
    h.publish({ id: 'f', outcome: 'failed', at: 3 });
    h.publish({ id: 'f', outcome: 'confirmed', at: 4 });
    h.publish({ id: 'x', outcome: 'confirmed', at: 5 });
    expect(retry.retry).toBe(true);
    for (const id of ['r', 'r', 'f', 'f', 'f', 'x', 'x']) h.handled({ group: 'g', member: 'a', id, at: 10 });
    const g = check(h).groups[0]!;
    expect(g.duplicates).toEqual({ ids: ['r', 'f', 'x'], extra: 4 });
    expect(g.excused).toEqual({ ids: ['r', 'f'], extra: 3 });
    expect(g.unexcused).toEqual({ ids: ['x'], extra: 1 });
    expect(check(h).publishes.retries).toBe(2);
    const r = report(h);
    expectClean(r, { order: false }); // at-least-once allows redelivery
    expect(() => expectClean(r, { order: false, noUnexcusedDuplicates: true })).toThrow(
      /unexcused duplicates/,
    );
  });

  it('a publish after a confirmed one of the same id is not a retry', () => {
    const h = new History({ groups: ['g'] });
    h.publish({ id: 'a', outcome: 'confirmed', at: 1 });
    expect(h.publish({ id: 'a', outcome: 'confirmed', at: 2 }).retry).toBe(false);
  });

  it('a later publish of a key handled before an earlier one is an order violation, and expectClean fails on it', () => {
    const h = sequential(4);
    handleAll(h, ['m-0', 'm-2', 'm-1', 'm-3']);
    const r = report(h, { order: true });
    expect(r.groups[0]!.orderViolations).toEqual([{ key: 'k', id: 'm-2', after: 'm-1' }]);
    expect(r.summary).toContain('order violations 1 of 4 checked');
    expect(() => expectClean(r, { order: true })).toThrow(/order in group g/);
    // without order the same history passes: the transport did not promise it
    expectClean(report(h), { order: false });
  });

  it('order is judged by the first handling of each id: a redelivery of an earlier message is no violation', () => {
    const h = sequential(3);
    handleAll(h, ['m-0', 'm-1', 'm-2', 'm-0', 'm-1', 'm-2']);
    expect(check(h, { order: true }).groups[0]!.orderViolations).toEqual([]);
  });

  it('order is checked per key, only for keys the predicate names, only between publishes that did not overlap', () => {
    const h = new History({ groups: ['g'] });
    h.publish({ id: 'a1', key: 'a', outcome: 'confirmed', startedAt: 0, at: 10 });
    h.publish({ id: 'b1', key: 'b', outcome: 'confirmed', startedAt: 11, at: 20 });
    h.publish({ id: 'a2', key: 'a', outcome: 'confirmed', startedAt: 21, at: 30 });
    h.publish({ id: 'b2', key: 'b', outcome: 'confirmed', startedAt: 31, at: 40 });
    // overlapping publishes of key c: the transport owes them no order
    h.publish({ id: 'c1', key: 'c', outcome: 'confirmed', startedAt: 50, at: 60 });
    h.publish({ id: 'c2', key: 'c', outcome: 'confirmed', startedAt: 55, at: 65 });
    for (const id of ['b2', 'a2', 'a1', 'b1', 'c2', 'c1'])
      h.handled({ group: 'g', member: 'm', id, at: 100 });
    const all = check(h, { order: true }).groups[0]!;
    expect(all.orderViolations).toEqual([
      { key: 'a', id: 'a2', after: 'a1' },
      { key: 'b', id: 'b2', after: 'b1' },
    ]);
    expect(all.orderChecked).toBe(6);
    const onlyA = check(h, { order: (key) => key === 'a' }).groups[0]!;
    expect(onlyA.orderViolations).toEqual([{ key: 'a', id: 'a2', after: 'a1' }]);
    expect(onlyA.orderChecked).toBe(2);
  });

  it('ids with a failed or unknown attempt are left out of the order check, the others still checked', () => {
    const h = new History({ groups: ['g'] });
    h.publish({ id: 'u', key: 'k', outcome: 'unknown', startedAt: 0, at: 5 });
    h.publish({ id: 'v', key: 'k', outcome: 'confirmed', startedAt: 6, at: 8 });
    h.publish({ id: 'u', key: 'k', outcome: 'confirmed', startedAt: 9, at: 10 });
    h.publish({ id: 'f', key: 'k', outcome: 'failed', startedAt: 11, at: 12 });
    h.publish({ id: 'w', key: 'k', outcome: 'confirmed', startedAt: 13, at: 14 });
    h.publish({ id: 'f', key: 'k', outcome: 'confirmed', startedAt: 15, at: 16 });
    // u and f may have been stored by their first attempts: handled early, they are no violation
    for (const id of ['u', 'f', 'v', 'w']) h.handled({ group: 'g', member: 'm', id, at: 100 });
    const clean = check(h, { order: true }).groups[0]!;
    expect(clean.orderChecked).toBe(2);
    expect(clean.orderViolations).toEqual([]);
    h.calls.reverse(); // w, v, f, u: w before v is
    expect(check(h, { order: true }).groups[0]!.orderViolations).toEqual([{ key: 'k', id: 'w', after: 'v' }]);
  });

  it('groups are reported separately: one group clean, the other losing a message', () => {
    const h = sequential(2);
    handleAll(h, ['m-0', 'm-1'], 'g');
    handleAll(h, ['m-0'], 'h');
    const r = report(h);
    expect(r.groups.map((g) => [g.group, g.lost.length])).toEqual([
      ['g', 0],
      ['h', 1],
    ]);
    expect(() => expectClean(r, { order: false })).toThrow(/lost in group h/);
  });

  it('unavailability: the longest gap without a confirmed publish and the time publishes were failing', () => {
    const h = new History({ groups: ['g'] });
    h.publish({ id: 'a', outcome: 'confirmed', startedAt: 0, at: 100 });
    h.publish({ id: 'b', outcome: 'unknown', startedAt: 100, at: 400 });
    h.publish({ id: 'c', outcome: 'failed', startedAt: 400, at: 500 });
    h.publish({ id: 'b', outcome: 'confirmed', startedAt: 500, at: 1100 });
    h.publish({ id: 'd', outcome: 'failed', startedAt: 1100, at: 1200 });
    h.publish({ id: 'e', outcome: 'confirmed', startedAt: 1200, at: 1300 });
    const p = check(h).publishes;
    expect(p.longestGap).toEqual({ from: 100, to: 1100, ms: 1000 });
    expect(p.failingMs).toBe(700 + 100); // 400 → 1100 and 1200 → 1300
    expect(p).toMatchObject({ confirmed: 3, failed: 2, unknown: 1, retries: 1 });
    expect(report(h).summary).toContain(
      'longest gap without a confirmed publish 1000 ms, publishes failing for 800 ms',
    );
  });

  it('unavailability: publishes still failing at the end count until the last outcome', () => {
    const h = new History({ groups: [] });
    h.publish({ id: 'a', outcome: 'confirmed', startedAt: 0, at: 10 });
    h.publish({ id: 'b', outcome: 'unknown', startedAt: 10, at: 50 });
    h.publish({ id: 'c', outcome: 'unknown', startedAt: 50, at: 90 });
    const p = check(h).publishes;
    expect(p.failingMs).toBe(40);
    expect(p.longestGap).toEqual({ from: 10, to: 90, ms: 80 });
  });

  it('unavailability: the longest gap without a handler call, from the first confirmed publish', () => {
    const h = sequential(1); // confirmed at 1005
    for (const at of [1010, 1020, 3020, 3030]) h.handled({ group: 'g', member: 'm', id: 'm-0', at });
    expect(check(h).groups[0]!.longestHandlerGap).toEqual({ from: 1020, to: 3020, ms: 2000 });
    expect(report(h).summary).toContain('longest gap without a handler call 2000 ms');
  });

  it('track() records a resolved batch as confirmed, a PUBLISH_FAILED by entry, anything else as unknown', async () => {
    const h = new History({ groups: ['g'] });
    await h.track([{ id: 'a', key: 'k' }, { id: 'b' }], async () => {});
    const partial = new CarrierError('PUBLISH_FAILED', 'one failed', {
      failures: [{ index: 1, id: 'd', error: new Error('nack') }],
    });
    await expect(
      h.track([{ id: 'c' }, { id: 'd' }], async () => {
        throw partial;
      }),
    ).rejects.toBe(partial);
    await expect(
      h.track([{ id: 'd' }], async () => {
        throw new CarrierError('TIMEOUT', 'no answer');
      }),
    ).rejects.toThrow('no answer');
    await expect(
      h.track([{ id: 'e' }], async () => {
        throw new CarrierError('PUBLISH_FAILED', 'naming none');
      }),
    ).rejects.toThrow('naming none');
    expect(h.publishes.map((p) => [p.id, p.outcome, p.retry, p.error ?? ''])).toEqual([
      ['a', 'confirmed', false, ''],
      ['b', 'confirmed', false, ''],
      ['c', 'confirmed', false, ''],
      ['d', 'failed', false, 'PUBLISH_FAILED'],
      ['d', 'unknown', true, 'TIMEOUT'],
      ['e', 'unknown', false, 'PUBLISH_FAILED'],
    ]);
    expect(h.publishes[0]!.key).toBe('k');
    expect(outcomeOf(partial, 'd')).toBe('failed');
    expect(outcomeOf(partial, 'c')).toBe('unknown');
    expect(outcomeOf(new Error('x'), 'd')).toBe('unknown');
  });

  it('expectClean({ order: true }) refuses a report made without order', () => {
    expect(() => expectClean(report(sequential(1)), { order: true })).toThrow(/made without order/);
  });
});
