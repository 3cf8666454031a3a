import { expect } from 'vitest';
import { type Check, type CheckOptions, check, type Duplicates, type Gap, type GroupCheck } from './check.js';
import type { History } from './history.js';

// The report of the history checker: the structured check (check.ts) plus the same facts as text,
// in one vocabulary for every durability spec, and expectClean() for the assertions.

export interface Report extends Check {
  /** One line per group plus one for the publishes, e.g. for console.log. */
  readonly lines: readonly string[];
  /** The lines joined with "; ". */
  readonly summary: string;
}

const EXAMPLES = 10;

function some(ids: readonly string[]): string {
  return ids.length === 0
    ? ''
    : ` (${ids.slice(0, EXAMPLES).join(', ')}${ids.length > EXAMPLES ? ', …' : ''})`;
}

function gap(g: Gap | undefined): string {
  return g ? `${g.ms} ms` : '-';
}

function dups(d: Duplicates): string {
  return `${d.ids.length} ids/${d.extra} extra`;
}

function groupLine(g: GroupCheck, ordered: boolean): string {
  const order = ordered
    ? `order violations ${g.orderViolations.length} of ${g.orderChecked} checked${some(g.orderViolations.map((v) => `${v.id} before ${v.after} (key ${v.key})`))}`
    : 'order not checked';
  return (
    `group ${g.group}: ${g.calls} handler calls, ${g.distinct} distinct; lost ${g.lost.length}${some(g.lost)}, ` +
    `phantom ${g.phantom.length}${some(g.phantom)}, duplicates ${dups(g.duplicates)} ` +
    `(excused ${dups(g.excused)}, unexcused ${dups(g.unexcused)}); ${order}; ` +
    `longest gap without a handler call ${gap(g.longestHandlerGap)}`
  );
}

/** Checks `history` and describes the result. */
export function report(history: History, options: CheckOptions = {}): Report {
  const c = check(history, options);
  const p = c.publishes;
  const lines = [
    `publishes: ${p.attempts} attempts of ${p.ids} ids, ${p.confirmed} confirmed, ${p.failed} failed, ` +
      `${p.unknown} unknown, ${p.retries} retries, ${p.neverConfirmed.length} never confirmed${some(p.neverConfirmed)}; ` +
      `longest gap without a confirmed publish ${gap(p.longestGap)}, publishes failing for ${p.failingMs} ms`,
    ...c.groups.map((g) => groupLine(g, c.ordered)),
  ];
  return { ...c, lines, summary: lines.join('; ') };
}

export interface CleanOptions {
  /** Assert no per-key order violations (the report must have been made with `order`). */
  readonly order: boolean;
  /** Assert no unexcused duplicates (at-least-once allows them; default false). */
  readonly noUnexcusedDuplicates?: boolean;
}

/**
 * Asserts (vitest `expect`) what every durability spec promises: in every group nothing lost and
 * nothing phantom; with `order`, no per-key order violations; optionally no unexcused duplicates.
 * Failure messages carry the report's summary.
 */
export function expectClean(r: Report, options: CleanOptions): void {
  if (options.order && !r.ordered)
    throw new Error('expectClean({ order: true }) on a report made without order');
  for (const g of r.groups) {
    expect(g.lost, `lost in group ${g.group}: ${r.summary}`).toEqual([]);
    expect(g.phantom, `phantom in group ${g.group}: ${r.summary}`).toEqual([]);
    if (options.order) expect(g.orderViolations, `order in group ${g.group}: ${r.summary}`).toEqual([]);
    if (options.noUnexcusedDuplicates)
      expect(g.unexcused.ids, `unexcused duplicates in group ${g.group}: ${r.summary}`).toEqual([]);
  }
}
