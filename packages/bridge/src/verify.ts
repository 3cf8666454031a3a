import { type Carrier, CarrierError, type Subscription, validateName } from '@carrier/core';
import { carryOverOf, compareSides, type RouteVerifyReport, record, type SeenEntry } from './compare.js';
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
  /** Judge only source messages published at or after this time. Default: no lower bound. */
  readonly since?: Date | undefined;
  /** Judge only source messages published at or before this time. Default: no upper bound. */
  readonly until?: Date | undefined;
  /** Stop reading once neither side delivered anything for this long (ms). Default 5000. */
  readonly idleMs?: number | undefined;
  /** Stop reading after this long (ms) even if messages still arrive; the report says so. Default 600000. */
  readonly maxWaitMs?: number | undefined;
  /** Deliveries read at once per side and topic. Default 256. */
  readonly concurrency?: number | undefined;
  /** Called about once a second with the deliveries read so far per side. Default: none. */
  readonly onProgress?: ((read: { source: number; target: number }) => void) | undefined;
  /**
   * Asynchronous problems (failed settlements). Default: each is printed with `console.error`,
   * prefixed `[carrier verify]`.
   */
  readonly onError?: ((error: Error) => void) | undefined;
  /** Transport factories to use instead of the URL schemes (third-party transports, tests). Default: by scheme. */
  readonly transports?: TransportOverrides | undefined;
  /**
   * What the previous run could not settle (its report's `carryOver`): ids still missing, source
   * messages after its `until`, recent ids seen only on the target. They are judged again with
   * what this run reads, so repeated runs during a dual run never lose track of a message that
   * one run read on one side only. Default: none (a first run).
   */
  readonly carryOver?: VerifyCarryOver | undefined;
}

/**
 * Unsettled state handed from one verify run to the next (JSON-serialisable). Ids seen only on the
 * target are carried for 10 minutes after their publication, then dropped.
 */
export interface VerifyCarryOver {
  readonly version: 1;
  /** Per route, keyed `<from>:<to>`: the entries of each side still to be judged. */
  readonly routes: Record<
    string,
    { readonly source: Record<string, SeenEntry>; readonly target: Record<string, SeenEntry> }
  >;
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
const DEFAULT_CONCURRENCY = 256;

const routeKey = (route: TopicRoute) => `${route.from}:${route.to}`;

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
 * @throws CarrierError `INVALID_ARGUMENT`/`INVALID_NAME` for bad options (or a `carryOver` of an
 *   unknown version), `CONNECTION` when a broker cannot be reached.
 */
export async function verify(options: VerifyOptions): Promise<VerifyReport> {
  const settings = settingsOf(options);
  const onError = options.onError ?? ((error: Error) => console.error(`[carrier verify] ${String(error)}`));
  const { source, target } = await connectBoth(options.from, options.to, onError, options.transports);
  const seen = settings.routes.map((route) => carriedOver(options.carryOver, route));
  const reading: Reading = {
    started: Date.now(),
    lastActivity: Date.now(),
    read: { source: 0, target: 0 },
    subscriptions: [],
  };
  let complete: boolean;
  try {
    for (const [i, route] of settings.routes.entries()) {
      await listen(reading, settings, source, route.from, 'source', seen[i]!.source);
      await listen(reading, settings, target, route.to, 'target', seen[i]!.target);
    }
    complete = await readUntilIdle(reading, settings, options.onProgress);
  } finally {
    await Promise.allSettled(reading.subscriptions.map((s) => s.close()));
    await Promise.allSettled([source.close(), target.close()]);
  }
  return reportOf(settings.routes, seen, { since: options.since, until: options.until }, complete);
}

/** The validated options of one verify run, defaults applied. */
interface Settings {
  readonly routes: readonly TopicRoute[];
  readonly group: string;
  readonly idleMs: number;
  readonly maxWaitMs: number;
  readonly concurrency: number;
}

/** What each side saw of one route, keyed by message id. */
interface RouteSeen {
  readonly source: Map<string, SeenEntry>;
  readonly target: Map<string, SeenEntry>;
}

/** The progress of the reading, shared by the handlers of both sides. */
interface Reading {
  /** When the reading began, before subscribing (epoch ms): `maxWaitMs` counts from here. */
  readonly started: number;
  /** When a delivery last arrived on either side (epoch ms). */
  lastActivity: number;
  /** Deliveries read so far per side. */
  read: { source: number; target: number };
  readonly subscriptions: Subscription[];
}

/** @throws CarrierError `INVALID_ARGUMENT`/`INVALID_NAME` for bad options. */
function settingsOf(options: VerifyOptions): Settings {
  const routes = parseRoutes(options.topics);
  validateName('group', options.group);
  const idleMs = options.idleMs ?? DEFAULT_IDLE_MS;
  const maxWaitMs = options.maxWaitMs ?? DEFAULT_MAX_WAIT_MS;
  const concurrency = options.concurrency ?? DEFAULT_CONCURRENCY;
  if (!(idleMs > 0) || !(maxWaitMs > 0) || !Number.isInteger(concurrency) || concurrency < 1) {
    throw new CarrierError(
      'INVALID_ARGUMENT',
      'idleMs and maxWaitMs must be positive, concurrency a positive integer',
    );
  }
  if (options.carryOver !== undefined && options.carryOver.version !== 1) {
    throw new CarrierError('INVALID_ARGUMENT', 'unknown verify carry-over version');
  }
  return { routes, group: options.group, idleMs, maxWaitMs, concurrency };
}

/** The entries of `route` carried over from the previous run (copies), or empty maps. */
function carriedOver(carryOver: VerifyCarryOver | undefined, route: TopicRoute): RouteSeen {
  const carried = carryOver?.routes[routeKey(route)];
  const entries = (side: Record<string, SeenEntry> | undefined) =>
    new Map(Object.entries(side ?? {}).map(([id, e]) => [id, { ...e }] as const));
  return { source: entries(carried?.source), target: entries(carried?.target) };
}

/** Consume the verify group of `topic` on one side, recording each delivery into `into`. */
async function listen(
  reading: Reading,
  settings: Settings,
  carrier: Carrier,
  topic: string,
  side: 'source' | 'target',
  into: Map<string, SeenEntry>,
): Promise<void> {
  const { group, concurrency } = settings;
  reading.subscriptions.push(
    await carrier.subscribe(
      topic,
      { group, concurrency, prefetch: concurrency, decode: false, serveRequests: false },
      (message) => {
        reading.lastActivity = Date.now();
        reading.read = { ...reading.read, [side]: reading.read[side] + 1 };
        record(into, message);
      },
    ),
  );
}

/**
 * Wait until neither side delivered anything for `idleMs` (resolves true) or `maxWaitMs` passed
 * (resolves false), reporting progress about once a second.
 */
async function readUntilIdle(
  reading: Reading,
  { idleMs, maxWaitMs }: Settings,
  onProgress: VerifyOptions['onProgress'],
): Promise<boolean> {
  reading.lastActivity = Date.now();
  let lastProgress = 0;
  for (;;) {
    const now = Date.now();
    if (now - reading.lastActivity >= idleMs) return true;
    if (now - reading.started >= maxWaitMs) return false;
    if (onProgress && now - lastProgress >= 1_000) {
      lastProgress = now;
      onProgress(reading.read);
    }
    await new Promise((resolve) => setTimeout(resolve, Math.min(200, idleMs)));
  }
}

/** Judge every route and build what the next run needs. */
function reportOf(
  routes: readonly TopicRoute[],
  seen: readonly RouteSeen[],
  window: VerifyReport['window'],
  complete: boolean,
): VerifyReport {
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
