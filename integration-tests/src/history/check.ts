import type { HandlerCall, History, PublishAttempt } from './history.js';

// The analysis of the history checker: from a History (history.ts), per group, what was lost,
// what appeared from nowhere, what was handled more than once and why, what was handled out of
// per-key order, and how long publishing and handling stood still.

/** Ids with how often; `extra` is the deliveries beyond the first. */
export interface Duplicates {
  /** Ids handled more than once. */
  readonly ids: readonly string[];
  /** Handler calls beyond the first per id. */
  readonly extra: number;
}

/** One per-key order violation: `id` was first handled before `after`, though `after` was confirmed before `id`'s publish began. */
export interface OrderViolation {
  readonly key: string;
  readonly id: string;
  readonly after: string;
}

/** A time span in epoch ms; `ms` = `to - from`. */
export interface Gap {
  readonly from: number;
  readonly to: number;
  readonly ms: number;
}

export interface GroupCheck {
  readonly group: string;
  /** Handler calls of this group. */
  readonly calls: number;
  /** Distinct ids handled. */
  readonly distinct: number;
  /** Ids with a confirmed publish that this group never handled. Must be empty. */
  readonly lost: readonly string[];
  /** Ids this group handled that were never attempted. Must be empty. */
  readonly phantom: readonly string[];
  /** Every id handled more than once … */
  readonly duplicates: Duplicates;
  /** … of which the id was published more than once (the test retried after `failed`/`unknown`). */
  readonly excused: Duplicates;
  /** … and the rest (redelivery: at-least-once allows them; they are printed). */
  readonly unexcused: Duplicates;
  /** Ids whose order was checked (confirmed publishes of ordered keys, never `failed` or `unknown`). */
  readonly orderChecked: number;
  /** Per-key order violations (empty when order is not checked). */
  readonly orderViolations: readonly OrderViolation[];
  /** Longest time without a handler call of this group, from the first confirmed publish to the last call. */
  readonly longestHandlerGap: Gap | undefined;
}

export interface PublishCheck {
  readonly attempts: number;
  /** Distinct ids attempted. */
  readonly ids: number;
  readonly confirmed: number;
  readonly failed: number;
  readonly unknown: number;
  /** Attempts that re-published an id after a `failed` or `unknown` attempt. */
  readonly retries: number;
  /** Ids attempted but never confirmed (not lost: nobody promised them). */
  readonly neverConfirmed: readonly string[];
  /** Longest time without a confirmed publish, from the first attempt's start to the last outcome. */
  readonly longestGap: Gap | undefined;
  /** Total ms during which the latest publish outcome was `failed` or `unknown` (until the next confirmation). */
  readonly failingMs: number;
}

export interface Check {
  readonly publishes: PublishCheck;
  readonly groups: readonly GroupCheck[];
  /** Whether per-key order was checked. */
  readonly ordered: boolean;
}

export interface CheckOptions {
  /**
   * Whether the transport promises per-key order for these messages: `true` for every key, a
   * predicate for some, `false` (default) for none. Messages without a key are never checked.
   */
  readonly order?: boolean | ((key: string) => boolean);
}

function duplicatesOf(counts: Map<string, number>, filter: (id: string) => boolean): Duplicates {
  const ids: string[] = [];
  let extra = 0;
  for (const [id, n] of counts) {
    if (n > 1 && filter(id)) {
      ids.push(id);
      extra += n - 1;
    }
  }
  return { ids, extra };
}

/** The longest gap between consecutive times (sorted ascending) within [start, end]. */
function longestGap(times: readonly number[], start: number, end: number): Gap | undefined {
  if (end < start) return undefined;
  let best: Gap | undefined;
  let prev = start;
  for (const t of [...times.filter((x) => x >= start && x <= end), end]) {
    if (!best || t - prev > best.ms) best = { from: prev, to: t, ms: t - prev };
    prev = Math.max(prev, t);
  }
  return best;
}

function checkPublishes(publishes: readonly PublishAttempt[]): PublishCheck {
  const by = (o: PublishAttempt['outcome']) => publishes.filter((p) => p.outcome === o).length;
  const confirmedIds = new Set(publishes.filter((p) => p.outcome === 'confirmed').map((p) => p.id));
  const ids = new Set(publishes.map((p) => p.id));
  const byOutcome = [...publishes].sort((a, b) => a.at - b.at);
  let failingMs = 0;
  let failingSince: number | undefined;
  for (const p of byOutcome) {
    if (p.outcome === 'confirmed') {
      if (failingSince !== undefined) failingMs += p.at - failingSince;
      failingSince = undefined;
    } else failingSince ??= p.at;
  }
  const last = byOutcome.at(-1)?.at ?? 0;
  if (failingSince !== undefined) failingMs += last - failingSince;
  const first = publishes.reduce((min, p) => Math.min(min, p.startedAt), Number.POSITIVE_INFINITY);
  return {
    attempts: publishes.length,
    ids: ids.size,
    confirmed: by('confirmed'),
    failed: by('failed'),
    unknown: by('unknown'),
    retries: publishes.filter((p) => p.retry).length,
    neverConfirmed: [...ids].filter((id) => !confirmedIds.has(id)),
    longestGap: publishes.length
      ? longestGap(
          byOutcome.filter((p) => p.outcome === 'confirmed').map((p) => p.at),
          first,
          last,
        )
      : undefined,
    failingMs,
  };
}

/**
 * Per-key order of one group: for two confirmed publishes A and B of one key where A's
 * confirmation came before B's attempt began (so the transport had to order them), B's first
 * handling must not come before A's. Ids with a `failed` or `unknown` attempt are left out: such an
 * attempt may have been stored at its own, earlier, position (a `PUBLISH_FAILED` entry also stands
 * for a confirmation that never came). Ids never handled are lost, not out of order.
 */
function orderViolations(
  publishes: readonly PublishAttempt[],
  firstHandled: Map<string, number>,
  ordered: (key: string) => boolean,
): { checked: number; violations: OrderViolation[] } {
  const ambiguous = new Set(publishes.filter((p) => p.outcome !== 'confirmed').map((p) => p.id));
  const perKey = new Map<string, PublishAttempt[]>();
  const seen = new Set<string>();
  for (const p of publishes) {
    if (p.outcome !== 'confirmed' || p.key === undefined || seen.has(p.id) || ambiguous.has(p.id)) continue;
    if (!ordered(p.key)) continue;
    seen.add(p.id);
    const list = perKey.get(p.key) ?? [];
    list.push(p);
    perKey.set(p.key, list);
  }
  const violations: OrderViolation[] = [];
  for (const [key, list] of perKey) {
    const byStart = [...list].sort((a, b) => a.startedAt - b.startedAt);
    const byConfirm = [...list].sort((a, b) => a.at - b.at);
    // the predecessor (confirmed before the current attempt began) handled latest so far
    let latest: { id: string; position: number } | undefined;
    let next = 0;
    for (const p of byStart) {
      while (next < byConfirm.length && byConfirm[next]!.at < p.startedAt) {
        const q = byConfirm[next++]!;
        const position = firstHandled.get(q.id);
        if (position !== undefined && (!latest || position > latest.position))
          latest = { id: q.id, position };
      }
      const position = firstHandled.get(p.id);
      if (position !== undefined && latest && position < latest.position)
        violations.push({ key, id: p.id, after: latest.id });
    }
  }
  return { checked: seen.size, violations };
}

function checkGroup(
  group: string,
  history: History,
  calls: readonly HandlerCall[],
  ordered: ((key: string) => boolean) | undefined,
): GroupCheck {
  const counts = new Map<string, number>();
  const firstHandled = new Map<string, number>();
  calls.forEach((c, i) => {
    counts.set(c.id, (counts.get(c.id) ?? 0) + 1);
    if (!firstHandled.has(c.id)) firstHandled.set(c.id, i);
  });
  const attempted = new Map<string, number>();
  const retried = new Set<string>();
  const confirmed = new Set<string>();
  for (const p of history.publishes) {
    attempted.set(p.id, (attempted.get(p.id) ?? 0) + 1);
    if (p.retry) retried.add(p.id);
    if (p.outcome === 'confirmed') confirmed.add(p.id);
  }
  const order = ordered
    ? orderViolations(history.publishes, firstHandled, ordered)
    : { checked: 0, violations: [] };
  const firstConfirmed = history.publishes
    .filter((p) => p.outcome === 'confirmed')
    .reduce((min, p) => Math.min(min, p.at), Number.POSITIVE_INFINITY);
  const callTimes = calls.map((c) => c.at).sort((a, b) => a - b);
  return {
    group,
    calls: calls.length,
    distinct: counts.size,
    lost: [...confirmed].filter((id) => !counts.has(id)),
    phantom: [...counts.keys()].filter((id) => !attempted.has(id)),
    duplicates: duplicatesOf(counts, () => true),
    excused: duplicatesOf(counts, (id) => retried.has(id)),
    unexcused: duplicatesOf(counts, (id) => !retried.has(id)),
    orderChecked: order.checked,
    orderViolations: order.violations,
    longestHandlerGap:
      Number.isFinite(firstConfirmed) && callTimes.length
        ? longestGap(callTimes, firstConfirmed, Math.max(firstConfirmed, callTimes.at(-1)!))
        : undefined,
  };
}

/** Analyses a history: the publishes, and every group the history names or that handled something. */
export function check(history: History, options: CheckOptions = {}): Check {
  const order = options.order ?? false;
  const ordered = order === false ? undefined : order === true ? () => true : order;
  const groups = [...new Set([...history.groups, ...history.calls.map((c) => c.group)])];
  return {
    publishes: checkPublishes(history.publishes),
    groups: groups.map((g) =>
      checkGroup(
        g,
        history,
        history.calls.filter((c) => c.group === g),
        ordered,
      ),
    ),
    ordered: ordered !== undefined,
  };
}
