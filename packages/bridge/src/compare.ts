import { createHash } from 'node:crypto';
import type { Message, MessageMetadata } from '@carrier/core';
import { metadataHeaders } from '@carrier/core/kit';
import type { TopicRoute } from './routes.js';

// The judging half of verify (pure): what each side saw, compared per id, and what is carried
// to the next run. verify.ts does the reading.

/** What verify knows of one id on one side: deliveries seen, content digest, publish time (ms). */
export interface SeenEntry {
  count: number;
  digest: string;
  publishedAt: number;
}

/** How long an id seen only on the target is carried to later runs (its source copy may come late). */
const TARGET_ONLY_CARRY_MS = 10 * 60_000;

/** An id delivered more than once on one side. */
export interface DuplicateId {
  readonly id: string;
  /** Deliveries of it seen by this run. */
  readonly count: number;
}

/** The verification of one topic route. */
export interface RouteVerifyReport {
  /** Source topic. */
  readonly from: string;
  /** Target topic. */
  readonly to: string;
  /** Source side: distinct ids in the window, deliveries read, ids outside the window (not judged). */
  readonly source: { readonly ids: number; readonly deliveries: number; readonly outsideWindow: number };
  /** Target side: distinct ids read, deliveries read. */
  readonly target: { readonly ids: number; readonly deliveries: number };
  /** Ids seen on the source (in the window) and never on the target. */
  readonly missing: readonly string[];
  /** Ids seen more than once on the source (in the window) and on the target. */
  readonly duplicates: { readonly source: readonly DuplicateId[]; readonly target: readonly DuplicateId[] };
  /** Ids on both sides whose bytes, key, headers or content type differ. */
  readonly mismatched: readonly string[];
  /** Ids on the target that the source never showed (published to the target directly, or read by an earlier run). */
  readonly unexpected: readonly string[];
}

/**
 * A digest of everything the bridge must carry unchanged: content type, key, headers (sorted),
 * metadata (its header form, sorted; when there is any) and the body bytes. Two copies of a message
 * with equal digests are byte-for-byte the same message. The W3C trace context (`traceparent`,
 * `tracestate`) is left out: it says where the copy was published from, not what it says, and a
 * bridge with telemetry on gives a copy whose source had none a context of its own
 * (docs/observability.md).
 */
export function messageDigest(
  message: Pick<Message, 'contentType' | 'key' | 'headers' | 'raw'> & { readonly metadata?: MessageMetadata },
): string {
  const hash = createHash('sha256');
  hash.update(message.contentType);
  hash.update('\0');
  hash.update(message.key === undefined ? '\u0001' : `k${message.key}`);
  hash.update('\0');
  const headers = Object.keys(message.headers)
    .sort()
    .map((k) => [k, message.headers[k]]);
  hash.update(JSON.stringify(headers));
  hash.update('\0');
  const metadata = Object.entries(metadataHeaders(withoutTraceContext(message.metadata))).sort(([a], [b]) =>
    a < b ? -1 : a > b ? 1 : 0,
  );
  if (metadata.length > 0) hash.update(`m${JSON.stringify(metadata)}\0`);
  hash.update(message.raw);
  return hash.digest('hex');
}

function withoutTraceContext(metadata: MessageMetadata | undefined): MessageMetadata | undefined {
  if (metadata?.traceparent === undefined && metadata?.tracestate === undefined) return metadata;
  const { traceparent: _traceparent, tracestate: _tracestate, ...rest } = metadata;
  return rest;
}

/** Count one delivery of `message` into `into` (the first delivery of an id also records its digest and publish time). */
export function record(into: Map<string, SeenEntry>, message: Message): void {
  const seen = into.get(message.id);
  if (seen) seen.count++;
  else
    into.set(message.id, {
      count: 1,
      digest: messageDigest(message),
      publishedAt: message.publishedAt.getTime(),
    });
}

/**
 * Compare what the source and the target sides of a route received (pure; exported for tests
 * and for callers that collect the messages themselves).
 */
export function compareSides(
  route: TopicRoute,
  source: ReadonlyMap<string, SeenEntry>,
  target: ReadonlyMap<string, SeenEntry>,
  window: { since?: Date | undefined; until?: Date | undefined },
): RouteVerifyReport {
  const since = window.since?.getTime() ?? Number.NEGATIVE_INFINITY;
  const until = window.until?.getTime() ?? Number.POSITIVE_INFINITY;
  const inWindow = (s: SeenEntry) => s.publishedAt >= since && s.publishedAt <= until;
  let ids = 0;
  let deliveries = 0;
  let outsideWindow = 0;
  const missing: string[] = [];
  const mismatched: string[] = [];
  const sourceDuplicates: DuplicateId[] = [];
  for (const [id, s] of source) {
    if (!inWindow(s)) {
      outsideWindow++;
      continue;
    }
    ids++;
    deliveries += s.count;
    if (s.count > 1) sourceDuplicates.push({ id, count: s.count });
    const t = target.get(id);
    if (!t) missing.push(id);
    else if (t.digest !== s.digest) mismatched.push(id);
  }
  let targetDeliveries = 0;
  const targetDuplicates: DuplicateId[] = [];
  const unexpected: string[] = [];
  for (const [id, t] of target) {
    targetDeliveries += t.count;
    const s = source.get(id);
    if (s && !inWindow(s)) continue;
    if (t.count > 1) targetDuplicates.push({ id, count: t.count });
    if (!s && t.publishedAt >= since) unexpected.push(id);
  }
  return {
    from: route.from,
    to: route.to,
    source: { ids, deliveries, outsideWindow },
    target: { ids: target.size, deliveries: targetDeliveries },
    missing,
    duplicates: { source: sourceDuplicates, target: targetDuplicates },
    mismatched,
    unexpected,
  };
}

/**
 * What a run hands to the next one: source ids not yet found on the target (missing, or published
 * after `until`), and target ids whose source copy was not seen (if recent) or is after `until`.
 * Matched ids and source ids before `since` are settled and dropped.
 */
export function carryOverOf(
  source: ReadonlyMap<string, SeenEntry>,
  target: ReadonlyMap<string, SeenEntry>,
  window: { since?: Date | undefined; until?: Date | undefined },
  now: number,
): { source: Record<string, SeenEntry>; target: Record<string, SeenEntry> } {
  const since = window.since?.getTime() ?? Number.NEGATIVE_INFINITY;
  const until = window.until?.getTime() ?? Number.POSITIVE_INFINITY;
  const carried = { source: {} as Record<string, SeenEntry>, target: {} as Record<string, SeenEntry> };
  for (const [id, s] of source) {
    if (s.publishedAt < since) continue;
    const after = s.publishedAt > until;
    if (after || !target.has(id)) carried.source[id] = { ...s };
    if (after && target.has(id)) carried.target[id] = { ...target.get(id)! };
  }
  for (const [id, t] of target) {
    if (!source.has(id) && now - t.publishedAt < TARGET_ONLY_CARRY_MS) carried.target[id] = { ...t };
  }
  return carried;
}
