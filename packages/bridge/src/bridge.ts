import {
  type Carrier,
  CarrierError,
  type ConnectOptions,
  type Message,
  NonRetryableError,
  redactUrl,
  type Subscription,
  validateName,
} from '@carrier/core';
import { connectBoth, type TransportOverrides } from './connections.js';
import { Forwarder } from './forwarder.js';
import { isPermanentPublishError, republishProblem } from './portable.js';
import { type BridgeProgress, ProgressMeter } from './progress.js';
import { parseRoutes, type TopicRoute } from './routes.js';

/** A message the bridge dead-lettered on the source because the target can never accept it. */
export interface BridgeDeadLetterEvent {
  /** Source topic. */
  readonly topic: string;
  /** Message id. */
  readonly id: string;
  /** Why (also stored as the dead letter's reason). */
  readonly reason: string;
}

/** Options of {@link bridge}. */
export interface BridgeOptions {
  /** Source broker URL (`kafka://…`, `amqp://…`, `nats://…`, `sqs://…`, `memory://…`). */
  readonly from: string;
  /** Target broker URL. */
  readonly to: string;
  /** Topics to move: `orders`, `orders:orders-v2` (renamed on the target), or `{ from, to }`. */
  readonly topics: readonly (string | TopicRoute)[];
  /**
   * Durable group the bridge consumes the source with. Restarting a bridge with the same group
   * resumes where it stopped (or crashed); run several processes with one group to share the load.
   */
  readonly group: string;
  /**
   * A group declared, before anything moves, on every source topic and every target topic, so
   * that {@link verify} run later with this group sees every message of both sides from now on.
   * Needs `fanOut` on the source (the bridge's group and this one both read it). Default: none.
   */
  readonly verifyGroup?: string | undefined;
  /**
   * Groups to declare on each target topic before moving (the target's future consumers), so no
   * copied message is published to a topic nobody receives yet. Default: none.
   */
  readonly targetGroups?: readonly string[] | undefined;
  /** Messages copied at once per topic (handler concurrency and prefetch). Default 256. */
  readonly concurrency?: number | undefined;
  /** Most messages per target `publishBatch`. Default 256. */
  readonly maxBatch?: number | undefined;
  /**
   * Create the bridge's group (and the verify group) on the source at `startFrom: 'earliest'`, so the
   * first run also copies the history the source still retains, oldest first. Needs
   * `capabilities.replay` on the source (Kafka; NATS with `retention=limits`): elsewhere `bridge()`
   * rejects with `UNSUPPORTED` before declaring anything. It applies when the group is created: a
   * restarted bridge resumes where its group stopped. Default false (the group gets what is
   * published from its creation on).
   */
  readonly fromBeginning?: boolean | undefined;
  /** Ask the source for per-key order across all bridge processes (needs `perKeyOrder`). Default false. */
  readonly ordered?: boolean | undefined;
  /** Milliseconds between `onProgress` calls; 0 turns them off. Default 5000. */
  readonly progressIntervalMs?: number | undefined;
  /** Receives a progress snapshot every `progressIntervalMs`. Default: none. */
  readonly onProgress?: ((progress: BridgeProgress) => void) | undefined;
  /**
   * Receives problems that have no caller (failed target publishes being retried, failed
   * settlements). Default: each is printed with `console.error`, prefixed `[carrier bridge]`.
   */
  readonly onError?: ((error: Error) => void) | undefined;
  /** Called when a message is dead-lettered on the source (never silently dropped). Default: none. */
  readonly onDeadLetter?: ((event: BridgeDeadLetterEvent) => void) | undefined;
  /**
   * Transport factories to use instead of the URL schemes (third-party transports, tests).
   * Default: resolved from each URL's scheme.
   */
  readonly transports?: TransportOverrides | undefined;
  /**
   * OpenTelemetry providers for both connections, or `false` for none (`connect`'s `telemetry`,
   * docs/observability.md). A copied message keeps its `traceparent`, so its consumers on the
   * target continue the source's trace. Default: the global providers.
   */
  readonly telemetry?: ConnectOptions['telemetry'];
}

/** A running bridge. */
export interface Bridge {
  /** The source URL, credentials redacted. */
  readonly from: string;
  /** The target URL, credentials redacted. */
  readonly to: string;
  /** Source and target transport names (`kafka`, `rabbitmq`, …). */
  readonly transports: { readonly from: string; readonly to: string };
  /** The topic routes it moves. */
  readonly routes: readonly TopicRoute[];
  /** Current progress (the interval rate is the one of the last periodic snapshot). */
  progress(): BridgeProgress;
  /**
   * Clean stop: stop reading, finish every message in flight (publish it to the target, wait for
   * the confirmation, settle it on the source), give back what was fetched but not started, then
   * close both connections. Resolves with the final progress. Idempotent.
   */
  stop(): Promise<BridgeProgress>;
  /**
   * Crash stop: drop both connections without settling anything. Nothing is lost: every message
   * not yet settled is redelivered to the group (and may reach the target twice).
   */
  abort(): Promise<void>;
  /** Resolves with the final progress once the bridge stopped (by `stop()`). */
  readonly stopped: Promise<BridgeProgress>;
}

const DEFAULT_CONCURRENCY = 256;
const DEFAULT_PROGRESS_MS = 5_000;
const RETRY_FIRST_MS = 100;
const RETRY_MAX_MS = 5_000;

function positive(name: string, value: number | undefined, fallback: number): number {
  const v = value ?? fallback;
  if (!Number.isInteger(v) || v < 1)
    throw new CarrierError('INVALID_ARGUMENT', `${name} must be a positive integer`);
  return v;
}

class RunningBridge implements Bridge {
  readonly from: string;
  readonly to: string;
  readonly routes: readonly TopicRoute[];
  readonly transports: { readonly from: string; readonly to: string };
  readonly stopped: Promise<BridgeProgress>;
  readonly #source: Carrier;
  readonly #target: Carrier;
  readonly #meter: ProgressMeter;
  readonly #subscriptions: Subscription[] = [];
  readonly #wakers = new Set<() => void>();
  readonly #options: BridgeOptions;
  readonly #forwarder: Forwarder;
  #state: BridgeProgress['state'] = 'running';
  #timer: NodeJS.Timeout | undefined;
  #stopping: Promise<BridgeProgress> | undefined;
  #resolveStopped!: (p: BridgeProgress) => void;

  constructor(options: BridgeOptions, routes: TopicRoute[], source: Carrier, target: Carrier) {
    this.#options = options;
    this.from = redactUrl(options.from);
    this.to = redactUrl(options.to);
    this.routes = routes;
    this.#source = source;
    this.#target = target;
    this.transports = { from: source.transportName, to: target.transportName };
    this.#meter = new ProgressMeter(routes);
    this.#forwarder = new Forwarder(target, positive('maxBatch', options.maxBatch, DEFAULT_CONCURRENCY));
    this.stopped = new Promise((resolve) => {
      this.#resolveStopped = resolve;
    });
  }

  async start(): Promise<void> {
    const { group, verifyGroup, targetGroups = [] } = this.#options;
    const concurrency = positive('concurrency', this.#options.concurrency, DEFAULT_CONCURRENCY);
    const sourceGroups = verifyGroup ? [group, verifyGroup] : [group];
    const targetDeclared = [...targetGroups, ...(verifyGroup ? [verifyGroup] : [])];
    const startFrom = this.#startFrom();
    for (const route of this.routes) {
      await this.#source.declare(route.from, sourceGroups, { startFrom });
      if (targetDeclared.length > 0) await this.#target.declare(route.to, targetDeclared);
    }
    // Retries are the bridge's own (it waits for the target while it runs); core only redelivers
    // a message whose copy was interrupted by a stop, and dead-letters only NonRetryableError.
    const maxDelayMs = Math.min(RETRY_MAX_MS, this.#source.capabilities.maxDelayMs);
    const retry = {
      maxAttempts: Number.MAX_SAFE_INTEGER,
      initialDelayMs: Math.min(RETRY_FIRST_MS, maxDelayMs),
      maxDelayMs,
    };
    for (const route of this.routes) {
      const subscription = await this.#source.subscribe(
        route.from,
        {
          group,
          concurrency,
          prefetch: concurrency,
          ordered: this.#options.ordered ?? false,
          retry,
          deadLetter: true,
          decode: false,
          // a request is copied as it is (deadline, reply address), never answered or expired here
          serveRequests: false,
        },
        (message) => this.#copy(route, message),
      );
      this.#subscriptions.push(subscription);
    }
    const interval = this.#options.progressIntervalMs ?? DEFAULT_PROGRESS_MS;
    const onProgress = this.#options.onProgress;
    if (interval > 0 && onProgress) {
      this.#timer = setInterval(() => onProgress(this.#meter.snapshot(this.#state, true)), interval);
      this.#timer.unref();
    }
  }

  /** `'earliest'` for `fromBeginning` (refused without `replay` on the source), else absent. */
  #startFrom(): 'earliest' | undefined {
    if (!this.#options.fromBeginning) return undefined;
    const { capabilities, transportName } = this.#source;
    if (!capabilities.replay) {
      throw new CarrierError(
        'UNSUPPORTED',
        `--from-beginning: the source (${transportName}) keeps no history a new group could start from (capabilities.replay is false); only Kafka and NATS with retention=limits do`,
        { transport: transportName },
      );
    }
    return 'earliest';
  }

  async #copy(route: TopicRoute, message: Message): Promise<void> {
    this.#meter.begin();
    try {
      const problem = republishProblem(message, this.#target.capabilities.maxMessageBytes);
      if (problem !== undefined) this.#deadLetter(route, message, problem);
      let delay = RETRY_FIRST_MS;
      for (;;) {
        try {
          await this.#forwarder.send(route.to, {
            body: message.raw,
            contentType: message.contentType,
            id: message.id,
            key: message.key,
            headers: message.headers,
            metadata: message.metadata,
          });
          this.#meter.moved(route.from, message.publishedAt);
          return;
        } catch (error) {
          if (isPermanentPublishError(error)) this.#deadLetter(route, message, (error as Error).message);
          this.#meter.publishError();
          this.#report(
            new CarrierError(
              'PUBLISH_FAILED',
              `bridge: publishing ${message.id} to ${route.to} failed; retrying`,
              {
                transport: this.#target.transportName,
                cause: error,
              },
            ),
          );
          // Stopping: give the message back to the source group (redelivered later, never lost).
          if (this.#state !== 'running') throw error;
          await this.#pause(delay);
          delay = Math.min(delay * 2, RETRY_MAX_MS);
        }
      }
    } finally {
      this.#meter.end();
    }
  }

  #deadLetter(route: TopicRoute, message: Message, problem: string): never {
    const reason = `carrier bridge: cannot republish to ${this.#target.transportName} topic ${route.to}: ${problem}`;
    this.#meter.deadLettered(route.from);
    this.#options.onDeadLetter?.({ topic: route.from, id: message.id, reason });
    throw new NonRetryableError(reason);
  }

  #report(error: Error): void {
    this.#options.onError?.(error);
  }

  #pause(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const wake = () => {
        clearTimeout(timer);
        this.#wakers.delete(wake);
        resolve();
      };
      const timer = setTimeout(wake, ms);
      this.#wakers.add(wake);
    });
  }

  progress(): BridgeProgress {
    return this.#meter.snapshot(this.#state, false);
  }

  stop(): Promise<BridgeProgress> {
    this.#stopping ??= (async () => {
      this.#state = 'stopping';
      for (const wake of [...this.#wakers]) wake();
      if (this.#timer) clearInterval(this.#timer);
      try {
        await Promise.allSettled(this.#subscriptions.map((s) => s.close()));
        await this.#source.close();
      } finally {
        await this.#target.close();
        this.#state = 'stopped';
      }
      const final = this.#meter.snapshot('stopped', false);
      this.#resolveStopped(final);
      return final;
    })();
    return this.#stopping;
  }

  async abort(): Promise<void> {
    this.#state = 'stopping';
    for (const wake of [...this.#wakers]) wake();
    if (this.#timer) clearInterval(this.#timer);
    await Promise.allSettled([this.#source.abort(), this.#target.abort()]);
    this.#state = 'stopped';
  }
}

/**
 * Start moving messages from one broker to another. Consumes each source topic with the durable
 * `group` and publishes each message to the target with the same body bytes, key, headers, id and
 * content type (never decoded and re-encoded); the source message is acknowledged only after the
 * target confirmed the copy, so a crash at any point loses nothing (the unsettled messages are
 * redelivered and may reach the target twice: at-least-once). While the target refuses or does
 * not confirm, the bridge keeps retrying (with backoff) and holds the message; a message the
 * target can never take (headers outside the portable grammar, id too long, too large) is
 * dead-lettered on the source group with the reason (`carrier dlq list` shows it).
 *
 * Resolves once every group is durably in place on both sides and consumption started.
 *
 * @throws CarrierError `INVALID_ARGUMENT`/`INVALID_NAME` for bad options, `CONNECTION` when a
 *   broker cannot be reached, `UNSUPPORTED` when the source cannot fan out to a verify group or
 *   cannot start a group at its history (`fromBeginning` without `capabilities.replay`);
 *   `TOPOLOGY_CONFLICT` when `fromBeginning` names a group the source recorded with another start
 *   (NATS).
 */
export async function bridge(options: BridgeOptions): Promise<Bridge> {
  const routes = parseRoutes(options.topics);
  validateName('group', options.group);
  if (options.verifyGroup !== undefined) {
    validateName('group', options.verifyGroup);
    if (options.verifyGroup === options.group) {
      throw new CarrierError('INVALID_ARGUMENT', 'the verify group must differ from the bridge group');
    }
  }
  for (const g of options.targetGroups ?? []) validateName('group', g);
  positive('concurrency', options.concurrency, DEFAULT_CONCURRENCY);
  positive('maxBatch', options.maxBatch, DEFAULT_CONCURRENCY);
  const onError = options.onError ?? ((error: Error) => console.error(`[carrier bridge] ${String(error)}`));
  const { source, target } = await connectBoth(
    options.from,
    options.to,
    onError,
    options.transports,
    options.telemetry,
  );
  const running = new RunningBridge({ ...options, onError }, routes, source, target);
  try {
    await running.start();
  } catch (error) {
    await running.stop().catch(() => undefined);
    throw error;
  }
  return running;
}
