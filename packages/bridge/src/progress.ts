/** Counters of one topic route of a running bridge. */
export interface RouteProgress {
  /** Source topic. */
  readonly from: string;
  /** Target topic. */
  readonly to: string;
  /** Messages confirmed by the target (a redelivered message that is copied again counts again). */
  readonly moved: number;
  /** Messages the bridge dead-lettered on the source because the target can never take them. */
  readonly deadLettered: number;
}

/** A snapshot of a bridge's progress. */
export interface BridgeProgress {
  /** Milliseconds since the bridge started. */
  readonly elapsedMs: number;
  /** Messages confirmed by the target, all topics. */
  readonly moved: number;
  /** Messages dead-lettered on the source (see {@link RouteProgress.deadLettered}). */
  readonly deadLettered: number;
  /** Failed target publishes that the bridge is retrying (target down, unconfirmed). */
  readonly publishErrors: number;
  /** Messages being copied right now (received, not yet confirmed by the target). */
  readonly inFlight: number;
  /** Messages per second over the last interval between two snapshots. */
  readonly rate: number;
  /** Messages per second since the start. */
  readonly averageRate: number;
  /**
   * Time lag in milliseconds: how long after its publication on the source the most recently
   * moved message was confirmed by the target (how far behind the source the bridge runs). Every
   * transport can tell this; `undefined` until a message moved. It keeps its last value while
   * nothing moves. A backlog count (messages not yet read) is not available through Carrier's
   * transport SPI.
   */
  readonly lagMs: number | undefined;
  /** `running`, `stopping` (finishing in-flight work) or `stopped`. */
  readonly state: 'running' | 'stopping' | 'stopped';
  /** Per route counters. */
  readonly topics: readonly RouteProgress[];
}

/** Counts messages and computes rates; one per bridge. */
export class ProgressMeter {
  readonly #started: number;
  readonly #now: () => number;
  readonly #routes = new Map<string, { from: string; to: string; moved: number; deadLettered: number }>();
  #publishErrors = 0;
  #inFlight = 0;
  #lagMs: number | undefined;
  #lastSnapshot: { at: number; moved: number };

  constructor(routes: readonly { from: string; to: string }[], now: () => number = Date.now) {
    this.#now = now;
    this.#started = now();
    this.#lastSnapshot = { at: this.#started, moved: 0 };
    for (const r of routes) this.#routes.set(r.from, { from: r.from, to: r.to, moved: 0, deadLettered: 0 });
  }

  /** A message of `from` entered the bridge. */
  begin(): void {
    this.#inFlight++;
  }

  /** A message left the bridge (moved, dead-lettered, or given back). */
  end(): void {
    this.#inFlight--;
  }

  /** The target confirmed a message of `from` published at `publishedAt`. */
  moved(from: string, publishedAt: Date): void {
    const route = this.#routes.get(from);
    if (route) route.moved++;
    const t = publishedAt.getTime();
    if (Number.isFinite(t)) this.#lagMs = Math.max(0, this.#now() - t);
  }

  /** A message of `from` was dead-lettered on the source. */
  deadLettered(from: string): void {
    const route = this.#routes.get(from);
    if (route) route.deadLettered++;
  }

  /** A target publish failed and will be retried. */
  publishError(): void {
    this.#publishErrors++;
  }

  /** Total moved so far. */
  get totalMoved(): number {
    let n = 0;
    for (const r of this.#routes.values()) n += r.moved;
    return n;
  }

  /**
   * Take a snapshot. The interval rate is measured since the last snapshot taken with `advance`;
   * `advance` starts a new interval (the periodic reporter does that).
   */
  snapshot(state: BridgeProgress['state'], advance: boolean): BridgeProgress {
    const now = this.#now();
    const moved = this.totalMoved;
    let deadLettered = 0;
    for (const r of this.#routes.values()) deadLettered += r.deadLettered;
    const intervalMs = now - this.#lastSnapshot.at;
    const rate = intervalMs > 0 ? ((moved - this.#lastSnapshot.moved) * 1000) / intervalMs : 0;
    if (advance) this.#lastSnapshot = { at: now, moved };
    const elapsedMs = now - this.#started;
    return {
      elapsedMs,
      moved,
      deadLettered,
      publishErrors: this.#publishErrors,
      inFlight: this.#inFlight,
      rate: Math.round(rate),
      averageRate: elapsedMs > 0 ? Math.round((moved * 1000) / elapsedMs) : 0,
      lagMs: this.#lagMs,
      state,
      topics: [...this.#routes.values()].map((r) => ({ ...r })),
    };
  }
}
