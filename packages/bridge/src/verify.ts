import { createHash } from 'node:crypto';
import { type Carrier, CarrierError, type Message, type Subscription, validateName } from '@carrier/core';
import { connectBoth, type TransportOverrides } from './connections.js';
import { parseRoutes, type TopicRoute } from './routes.js';

/** Options of {@link verify}. */
export interface VerifyOptions {
  /** Source broker URL. */
  readonly from: string;
  /** Target broker URL. */
  readonly to: string;
  /** The bridged topics (same forms as the bridge's `topics`). */
  readonly topics: readonly (string | TopicRoute)[];
  /**
   * The verify group: it must have been declared on both sides before the traffic to check (the
   * bridge's `verifyGroup` option does that). Verify consumes it on both sides, so each run
   * checks what arrived since the previous run.
   */
  readonly group: string;
  /** Judge only source messages published at or after this time. */
  readonly since?: Date | undefined;
  /** Judge only source messages published at or before this time. */
  readonly until?: Date | undefined;
  /** Stop reading once neither side delivered anything for this long (ms). Default 5000. */
  readonly idleMs?: number | undefined;
  /** Stop reading after this long (ms) even if messages still arrive; the report says so. Default 600000. */
  readonly maxWaitMs?: number | undefined;
  /** Deliveries read at once per side and topic. Default 256. */
  readonly concurrency?: number | undefined;
  /** Called about once a second with the counts read so far. */
  readonly onProgress?: ((read: { source: number; target: number }) => void) | undefined;
  /** Asynchronous problems (failed settlements). */
  readonly onError?: ((error: Error) => void) | undefined;
  /** Transport factories to use instead of the URL schemes (third-party transports, tests). */
  readonly transports?: TransportOverrides | undefined;
  /**
   * What the previous run could not settle (its report's `carryOver`): ids still missing, source
   * messages after its `until`, recent ids seen only on the target. They are judged again with
   * what this run reads, so repeated runs during a dual run never lose track of a message that
   * one run read on one side only.
   */
  readonly carryOver?: VerifyCarryOver | undefined;
}

/** What verify knows of one id on one side: deliveries seen, content digest, publish time (ms). */
export interface SeenEntry {
  count: number;
  digest: string;
  publishedAt: number;
}

/** Unsettled state handed from one verify run to the next (JSON-serialisable). */
export interface VerifyCarryOver {
  readonly version: 1;
  /** Per route, keyed `<from>:<to>`: the entries of each side still to be judged. */
  readonly routes: Record<
    string,
    { readonly source: Record<string, SeenEntry>; readonly target: Record<string, SeenEntry> }
  >;
}

/** How long an id seen only on the target is carried to later runs (its source copy may come late). */
export const TARGET_ONLY_CARRY_MS = 10 * 60_000;

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

/** What {@link verify} found. */
export interface VerifyReport {
  /** True when nothing is missing and nothing differs, on every topic. */
  readonly ok: boolean;
  /** False when `maxWaitMs` ended the reading while messages still arrived. */
  readonly complete: boolean;
  /** The window that was judged. */
  readonly window: { readonly since: Date | undefined; readonly until: Date | undefined };
  /** Per topic route. */
  readonly topics: readonly RouteVerifyReport[];
  /** Pass to the next run as `carryOver` (the CLI keeps it in `--state FILE`). */
  readonly carryOver: VerifyCarryOver;
}

const DEFAULT_IDLE_MS = 5_000;
const DEFAULT_MAX_WAIT_MS = 600_000;

/**
 * A digest of everything the bridge must carry unchanged: content type, key, headers (sorted) and
 * the body bytes. Two copies of a message with equal digests are byte-for-byte the same message.
 */
export function messageDigest(message: Pick<Message, 'contentType' | 'key' | 'headers' | 'raw'>): string {
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
  hash.update(message.raw);
  return hash.digest('hex');
}

function record(into: Map<string, SeenEntry>, message: Message): void {
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

const routeKey = (route: TopicRoute) => `${route.from}:${route.to}`;

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

/**
 * Dual-run verification of a bridge. Reads the verify group on both sides of every topic until
 * both sides are idle (nothing delivered for `idleMs`), then reports per topic: ids seen on
 * each side, ids missing on the target, duplicates on each side, and ids whose copy differs in
 * bytes, key, headers or content type. Only source messages published within the window are
 * judged; target copies are matched by id (ids pass through the bridge unchanged).
 *
 * Run it once the bridge has caught up with the window (its lag is past `until`): a message
 * still in flight would be reported missing. Verify consumes (acknowledges) what it reads from the
 * verify group, never from the bridge's or applications' groups.
 *
 * @throws CarrierError `INVALID_ARGUMENT`/`INVALID_NAME` for bad options, `CONNECTION` when a
 *   broker cannot be reached.
 */
export async function verify(options: VerifyOptions): Promise<VerifyReport> {
  const routes = parseRoutes(options.topics);
  validateName('group', options.group);
  const idleMs = options.idleMs ?? DEFAULT_IDLE_MS;
  const maxWaitMs = options.maxWaitMs ?? DEFAULT_MAX_WAIT_MS;
  const concurrency = options.concurrency ?? 256;
  if (!(idleMs > 0) || !(maxWaitMs > 0) || !Number.isInteger(concurrency) || concurrency < 1) {
    throw new CarrierError(
      'INVALID_ARGUMENT',
      'idleMs and maxWaitMs must be positive, concurrency a positive integer',
    );
  }
  if (options.carryOver !== undefined && options.carryOver.version !== 1) {
    throw new CarrierError('INVALID_ARGUMENT', 'unknown verify carry-over version');
  }
  const onError = options.onError ?? ((error: Error) => console.error(`[carrier verify] ${String(error)}`));
  const { source, target } = await connectBoth(options.from, options.to, onError, options.transports);
  const seen = routes.map((route) => {
    const carried = options.carryOver?.routes[routeKey(route)];
    const entries = (side: Record<string, SeenEntry> | undefined) =>
      new Map(Object.entries(side ?? {}).map(([id, e]) => [id, { ...e }] as const));
    return { source: entries(carried?.source), target: entries(carried?.target) };
  });
  let lastActivity = Date.now();
  let read = { source: 0, target: 0 };
  const subscriptions: Subscription[] = [];
  const started = Date.now();
  let complete = true;
  try {
    const listen = async (
      carrier: Carrier,
      topic: string,
      side: 'source' | 'target',
      into: Map<string, SeenEntry>,
    ) => {
      subscriptions.push(
        await carrier.subscribe(
          topic,
          { group: options.group, concurrency, prefetch: concurrency, decode: false },
          (message) => {
            lastActivity = Date.now();
            read = { ...read, [side]: read[side] + 1 };
            record(into, message);
          },
        ),
      );
    };
    for (const [i, route] of routes.entries()) {
      await listen(source, route.from, 'source', seen[i]!.source);
      await listen(target, route.to, 'target', seen[i]!.target);
    }
    lastActivity = Date.now();
    let lastProgress = 0;
    for (;;) {
      const now = Date.now();
      if (now - lastActivity >= idleMs) break;
      if (now - started >= maxWaitMs) {
        complete = false;
        break;
      }
      if (options.onProgress && now - lastProgress >= 1_000) {
        lastProgress = now;
        options.onProgress(read);
      }
      await new Promise((resolve) => setTimeout(resolve, Math.min(200, idleMs)));
    }
  } finally {
    await Promise.allSettled(subscriptions.map((s) => s.close()));
    await Promise.allSettled([source.close(), target.close()]);
  }
  const window = { since: options.since, until: options.until };
  const topics = routes.map((route, i) => compareSides(route, seen[i]!.source, seen[i]!.target, window));
  const ok = topics.every((t) => t.missing.length === 0 && t.mismatched.length === 0);
  const now = Date.now();
  const carryOver: VerifyCarryOver = {
    version: 1,
    routes: Object.fromEntries(
      routes.map((route, i) => [routeKey(route), carryOverOf(seen[i]!.source, seen[i]!.target, window, now)]),
    ),
  };
  return { ok, complete, window, topics, carryOver };
}
