import type { SpanContext } from '@opentelemetry/api';
import { boundReason, completeDeadLetterInfo } from './dead-letter-info.js';
import { CarrierError, isCarrierError } from './errors.js';
import { HandlerSignal } from './handler-signal.js';
import { KeyedScheduler } from './keyed-scheduler.js';
import type { Subscription } from './message.js';
import { type NativeToken, resolveNative } from './native.js';
import type { ProcessScope, SettleOperation } from './telemetry/process.js';
import type { ConsumerTelemetry } from './telemetry/telemetry.js';
import type {
  DeadLetterDelivery,
  DeadLetterInfo,
  Delivery,
  ReceiveCall,
  Transport,
  TransportSubscription,
  WireMessage,
} from './transport.js';

/**
 * Told of a delivery's first settle call (the engine's entry of that delivery: an object with a
 * method rather than a closure per delivery).
 */
export interface FirstSettle {
  firstSettle(): void;
}

/** A {@link FirstSettle} that calls `onFirst`. */
function calling(onFirst: () => void): FirstSettle {
  return { firstSettle: onFirst };
}

/** A settled promise, shared: returned where nothing is left to wait for. */
const SETTLED: Promise<void> = Promise.resolve();

/** The settle calls of the guard, one function each instead of a closure per settlement. */
const ACK = (raw: Delivery): Promise<void> => raw.ack();
const RELEASE = (raw: Delivery): Promise<void> => raw.release();

/**
 * The settle-at-most-once guard around one delivery: only the first call of `ack`/`retry`/
 * `deadLetter`/`release` reaches the transport; a later call is ignored and returns the first
 * call's promise (it resolves or rejects as the first settlement did). A synchronous throw of the
 * transport becomes a rejected promise. A class, so that a delivery costs one object, not a
 * closure per method.
 */
class GuardedDelivery implements Delivery {
  readonly message: WireMessage;
  readonly attempt: number;
  readonly lease: AbortSignal | undefined;
  readonly native: Delivery['native'];
  readonly #raw: Delivery;
  readonly #onFirst: FirstSettle;
  #first: Promise<void> | undefined;

  constructor(raw: Delivery, onFirst: FirstSettle) {
    this.message = raw.message;
    this.attempt = raw.attempt;
    this.lease = raw.lease;
    this.native = raw.native ? (token) => raw.native?.(token) : undefined;
    this.#raw = raw;
    this.#onFirst = onFirst;
  }

  /** Run `settle` unless a settlement ran already; the first settlement's promise either way. */
  #once(settle: (raw: Delivery) => Promise<void>): Promise<void> {
    if (this.#first) return this.#first;
    this.#onFirst.firstSettle();
    try {
      // Promise.resolve: a transport that returns no promise still settles (a native promise passes as is)
      this.#first = Promise.resolve(settle(this.#raw));
    } catch (error) {
      this.#first = Promise.reject(error);
    }
    return this.#first;
  }

  ack(): Promise<void> {
    return this.#once(ACK);
  }

  retry(delayMs: number): Promise<void> {
    return this.#once((raw) => raw.retry(delayMs));
  }

  deadLetter(info: DeadLetterInfo): Promise<void> {
    return this.#once((raw) => raw.deadLetter({ ...info, reason: boundReason(info.reason) }));
  }

  release(): Promise<void> {
    return this.#once(RELEASE);
  }
}

/**
 * The settle-at-most-once guard core puts around every delivery a transport hands it: only the
 * first call of `ack`/`retry`/`deadLetter`/`release` reaches the transport; a later call is ignored
 * and returns the first call's promise (it resolves or rejects as the first settlement did).
 * `deadLetter` also bounds the reason (see `boundReason`), once for every transport.
 */
export function settleOnce(delivery: Delivery, onFirst: FirstSettle | (() => void) = () => {}): Delivery {
  return new GuardedDelivery(delivery, typeof onFirst === 'function' ? calling(onFirst) : onFirst);
}

/**
 * Make `settle` callable once: the first call runs it, every later call returns the first call's
 * promise without running anything. A synchronous throw becomes a rejected promise.
 */
function firstCallOnly(onFirst: FirstSettle): (settle: () => Promise<void>) => Promise<void> {
  let first: Promise<void> | undefined;
  return (settle) => {
    if (first) return first;
    onFirst.firstSettle();
    try {
      first = Promise.resolve(settle());
    } catch (error) {
      first = Promise.reject(error);
    }
    return first;
  };
}

/** A dead letter after core's guard: settled at most once, its metadata complete. */
export interface GuardedDeadLetterDelivery extends DeadLetterDelivery {
  readonly info: DeadLetterInfo;
}

/** {@link settleOnce} for dead letters; also completes missing metadata (`completeDeadLetterInfo`). */
export function settleDeadLetterOnce(
  delivery: DeadLetterDelivery,
  onFirst: FirstSettle | (() => void) = () => {},
): GuardedDeadLetterDelivery {
  const once = firstCallOnly(typeof onFirst === 'function' ? calling(onFirst) : onFirst);
  return {
    message: delivery.message,
    info: completeDeadLetterInfo(delivery.info, delivery.message),
    ack: () => once(() => delivery.ack()),
    release: () => once(() => delivery.release()),
  };
}

/** A settle call of the engine: settles `delivery` (one function for every delivery, no closure each). */
export type Settle<D> = (delivery: D) => Promise<void>;

/** `delivery.release()`. */
export function releaseDelivery(delivery: EngineDelivery): Promise<void> {
  return delivery.release();
}

/**
 * A delivery the engine accepted and whose first settle call has not come yet: its handler's
 * cancellation and its place in the engine's list of such deliveries. A doubly linked list rather
 * than a `Map` keyed by delivery: adding and removing one costs a few stores, not a hash of a new
 * object and a table that grows and shrinks with the number in flight. The guard tells it of the
 * first settle call (`firstSettle`), which takes it off the list (`forget`, the engine's).
 */
class Active<D> implements FirstSettle {
  readonly cancel = new HandlerSignal();
  delivery: D | undefined = undefined;
  prev: Active<D> | undefined = undefined;
  next: Active<D> | undefined = undefined;

  constructor(private readonly forget: (active: Active<D>) => void) {}

  firstSettle(): void {
    this.forget(this);
  }
}

/** What the engine needs of a delivery. */
export interface EngineDelivery {
  readonly message: WireMessage;
  /** The delivery's attempt (1 for the first), where there is one. */
  readonly attempt?: number | undefined;
  readonly lease?: AbortSignal | undefined;
  release(): Promise<void>;
}

/** A subscription the carrier can abort with its connection. */
export interface ManagedSubscription extends Subscription {
  /** The connection is gone without settling anything: stop touching deliveries, abort handlers. */
  markAborted(): void;
}

/** How one subscription plugs into the engine. */
export interface EngineOptions<Raw, D extends EngineDelivery> {
  readonly transport: Transport;
  /** Shown in errors, e.g. `orders/billing` or `dead letters of orders/billing`. */
  readonly label: string;
  readonly concurrency: number;
  readonly onError: (error: Error) => void;
  /** Wrap a raw delivery in the settle-once guard, telling `onFirst` of its first settle call. */
  readonly guard: (raw: Raw, onFirst: FirstSettle) => D;
  /** Ordering key: deliveries of one key run one at a time, in arrival order. */
  readonly keyOf: (delivery: D) => string | undefined;
  /**
   * Run the handler and settle: a promise while the handler runs, or undefined when it ended
   * already (a synchronous handler); the settlement itself may go on (see `track`). `cancel` aborts on lease loss (`LEASE_LOST`), when close() begins
   * and on carrier abort (both `CLOSED`); its `signal` is made only when read.
   */
  readonly process: (delivery: D, cancel: HandlerSignal) => Promise<void> | undefined;
  /** OpenTelemetry of the subscription, if on: process and settle spans, consumer metrics. */
  readonly telemetry?: ConsumerTelemetry | undefined;
  /** Called once close() has stopped fetching, before queued deliveries are given back. */
  readonly onClosing?: (() => void) | undefined;
  /** Called when the subscription is closed or aborted. */
  readonly onClosed: () => void;
}

/**
 * The engine shared by `Consumer` and the dead-letter consumer: guards each delivery, schedules it
 * under the concurrency limit and per-key order, turns a lost lease into the handler's
 * cancellation signal and one `LEASE_LOST` report, reports failed settlements as `SETTLE_FAILED`
 * (a throwing `onError` cannot break it), and runs the shutdown sequence: stop fetching, give
 * back what never started, wait for in-flight handlers and their settlements, close.
 */
export class SubscriptionEngine<Raw, D extends EngineDelivery> {
  readonly #options: EngineOptions<Raw, D>;
  readonly #scheduler: KeyedScheduler<Active<D>>;
  #subscription: TransportSubscription | undefined;
  /** The transport subscribe under way (see `starting`): close() waits for it. */
  #starting: Promise<unknown> | undefined;
  /** Settlements running outside a handler slot (see `track`), counted. */
  #settling = 0;
  /** close() waiting for the tracked settlements to end. */
  readonly #allSettled: (() => void)[] = [];
  /**
   * Accepted and not yet settled (no settle call yet): the list of their `Active` entries, from
   * this sentinel (`#active.next` the oldest); an entry off the list has `prev` undefined.
   */
  readonly #active = new Active<D>(() => {});
  /** Telemetry of the deliveries whose handler started, until their first settlement. */
  readonly #scopes = new Map<D, ProcessScope>();
  /** The span context of the receive whose deliveries the transport is handing over now, if any. */
  #receiving: SpanContext | undefined;
  /** The receive that brought each delivery (its process span links to it), until its handler starts. */
  readonly #receivedBy = new WeakMap<D, SpanContext>();
  /** Lease signals watched, with the unsettled deliveries they cover and the one listener. */
  readonly #leases = new Map<AbortSignal, { deliveries: Set<Active<D>>; listener: () => void }>();
  #closing = false;
  /**
   * Deliveries the transport handed over after close() began and before its subscription stopped.
   * Given back only once it has: a release before that could go straight back to this member (the
   * memory broker does so at once), which would give it back again, and so on without end.
   */
  readonly #late: D[] = [];
  /** The transport subscription has stopped (or none was ever made): late deliveries go back at once. */
  #stopped = false;
  #aborted = false;
  #closed: Promise<void> | undefined;

  constructor(options: EngineOptions<Raw, D>) {
    this.#options = options;
    this.#scheduler = new KeyedScheduler(options.concurrency, (active) => this.#run(active));
    this.#active.prev = this.#active;
    this.#active.next = this.#active;
  }

  /** True once close() began (or the carrier aborted). */
  get closing(): boolean {
    return this.#closing;
  }

  /** `subscription.as(token)`: asks the transport subscription, once there is one. */
  as<T>(token: NativeToken<T, 'subscription'>): T {
    const subscription = this.#subscription;
    const name = this.#options.transport.name;
    return resolveNative(token, 'subscription', name, subscription?.native?.bind(subscription));
  }

  /** The transport subscription, once `subscribe` resolved. */
  attach(subscription: TransportSubscription): void {
    this.#subscription = subscription;
  }

  /**
   * The transport subscribe under way, which ends with `attach` when it resolves: a close() that
   * begins meanwhile waits for it, then closes the subscription it produced (so none is left at
   * the broker).
   */
  starting(start: Promise<void>): void {
    this.#starting = start.catch(() => {});
  }

  /**
   * `TransportSubscribeOptions.onReceive` for this subscription: absent without telemetry (the
   * transport then reports nothing).
   */
  get onReceive(): (() => ReceiveCall) | undefined {
    const telemetry = this.#options.telemetry;
    if (!telemetry) return undefined;
    return () =>
      telemetry.startReceive((context) => {
        this.#receiving = context;
      });
  }

  /** The transport's sink. */
  accept(raw: Raw): void {
    const active = new Active<D>(this.#forgetActive);
    const delivery: D = this.#options.guard(raw, active);
    if (this.#aborted) return;
    if (this.#receiving) this.#receivedBy.set(delivery, this.#receiving);
    if (this.#closing) {
      if (this.#stopped) this.settleTracked('release', releaseDelivery, delivery);
      else this.#late.push(delivery);
      return;
    }
    active.delivery = delivery;
    const last = this.#active.prev!;
    active.prev = last;
    active.next = this.#active;
    last.next = active;
    this.#active.prev = active;
    const lease = delivery.lease;
    if (lease?.aborted) this.#leaseLost(active, lease);
    else if (lease) this.#watch(active, lease);
    this.#scheduler.push(this.#options.keyOf(delivery), active);
  }

  /** Start the handler of a delivery: a promise of its end, or undefined when it ended already. */
  #run(active: Active<D>): Promise<void> | undefined {
    const delivery = active.delivery!;
    // its first settle call came already: nothing to run
    if (this.#aborted || active.prev === undefined) return undefined;
    const cancel = active.cancel;
    if (cancel.aborted || this.#closing) {
      // The lease was lost before the handler started (the broker redelivers it anyway), or
      // close() began while it waited for a slot: no handler starts after close(), give it back.
      return this.settle('release', releaseDelivery, delivery);
    }
    const scope = this.#options.telemetry?.startProcess(
      delivery.message,
      delivery.attempt,
      this.#receivedBy.get(delivery),
    );
    if (!scope) return this.#options.process(delivery, cancel);
    this.#scopes.set(delivery, scope);
    let running: Promise<void> | undefined;
    try {
      running = scope.run(() => this.#options.process(delivery, cancel));
    } catch (error) {
      scope.end();
      throw error;
    }
    if (!running) {
      scope.end();
      return undefined;
    }
    return running.finally(() => scope.end());
  }

  /** The handler of `delivery` failed (`decode`: its body could not be decoded): for its process span. */
  failed(delivery: D, error: unknown, decode = false): void {
    this.#scopes.get(delivery)?.fail(error, decode);
  }

  #watch(active: Active<D>, lease: AbortSignal): void {
    let watched = this.#leases.get(lease);
    if (!watched) {
      const listener = () => {
        const entry = this.#leases.get(lease);
        this.#leases.delete(lease);
        for (const d of entry?.deliveries ?? []) this.#leaseLost(d, lease);
      };
      watched = { deliveries: new Set(), listener };
      this.#leases.set(lease, watched);
      lease.addEventListener('abort', listener, { once: true });
    }
    watched.deliveries.add(active);
  }

  #unwatch(active: Active<D>): void {
    const lease = active.delivery?.lease;
    const watched = lease && this.#leases.get(lease);
    if (!lease || !watched) return;
    watched.deliveries.delete(active);
    if (watched.deliveries.size === 0) {
      lease.removeEventListener('abort', watched.listener);
      this.#leases.delete(lease);
    }
  }

  #leaseLost(active: Active<D>, lease: AbortSignal): void {
    const cancel = active.cancel;
    if (this.#aborted || active.prev === undefined || isCarrierError(cancel.reason, 'LEASE_LOST')) return;
    const error = new CarrierError(
      'LEASE_LOST',
      `lost the lease on message ${active.delivery!.message.id} of ${this.#options.label} before settling it; the broker may deliver it again, possibly to another member`,
      { transport: this.#options.transport.name, cause: lease.reason },
    );
    // already aborted with CLOSED (the subscription is closing): the report still counts
    if (!cancel.aborted) cancel.abort(error);
    this.#report(error);
  }

  /** {@link SubscriptionEngine.#forget}, one function for every entry. */
  readonly #forgetActive = (active: Active<D>): void => this.#forget(active);

  /** The delivery's first settle call: it no longer needs a signal or a lease watch. */
  #forget(active: Active<D>): void {
    const prev = active.prev;
    if (prev === undefined) return;
    const next = active.next!;
    prev.next = next;
    next.prev = prev;
    active.prev = undefined;
    active.next = undefined;
    this.#unwatch(active);
  }

  /** The handler signals of the deliveries accepted and not settled, oldest first. */
  #activeSignals(): HandlerSignal[] {
    const signals: HandlerSignal[] = [];
    for (let a = this.#active.next!; a !== this.#active; a = a.next!) signals.push(a.cancel);
    return signals;
  }

  /**
   * A settlement that runs outside a handler slot (the slot was freed already): close() waits for
   * it before closing the transport subscription. `settlement` must never reject (see `settle`).
   */
  track(settlement: Promise<void>): void {
    this.#settling++;
    settlement.then(this.#settled, this.#settled);
  }

  /** One tracked settlement ended: wake close() once none is left. */
  readonly #settled = (): void => {
    this.#settling--;
    if (this.#settling === 0 && this.#allSettled.length > 0)
      for (const resolve of this.#allSettled.splice(0)) resolve();
  };

  /** Resolves once no tracked settlement is running. */
  #noneSettling(): Promise<void> {
    if (this.#settling === 0) return SETTLED;
    return new Promise((resolve) => this.#allSettled.push(resolve));
  }

  #report(error: Error): void {
    try {
      this.#options.onError(error);
    } catch {
      // a throwing onError must not turn a settlement into an unhandled rejection
    }
  }

  /**
   * Run one settlement, `settle(delivery)`; a failure goes to onError as `SETTLE_FAILED`. Never
   * rejects. The settlement of a delivery whose handler ran gets its settle span (child of the
   * process span).
   */
  settle(what: SettleOperation, settle: Settle<D>, delivery: D): Promise<void> {
    if (this.#aborted) return SETTLED;
    const settling = this.#startSettle(what, settle, delivery);
    if (!settling) return SETTLED;
    return settling.then(undefined, (cause) => this.#settleFailed(what, delivery, cause));
  }

  /**
   * `track(settle(what, settle, delivery))` in one step: one reaction on the settlement's promise
   * instead of two chained ones (this runs for every delivery).
   */
  settleTracked(what: SettleOperation, settle: Settle<D>, delivery: D): void {
    if (this.#aborted) return;
    const settling = this.#startSettle(what, settle, delivery);
    if (!settling) return;
    this.#settling++;
    settling.then(this.#settled, (cause) => {
      this.#settleFailed(what, delivery, cause);
      this.#settled();
    });
  }

  /**
   * Call `settle(delivery)`, in its settle span if any: its promise, or undefined when it threw
   * (reported). `settle` calls a settle method of the guard, whose promise is always a native one
   * (`GuardedDelivery`, `settleDeadLetterOnce`), as the span's is.
   */
  #startSettle(what: SettleOperation, settle: Settle<D>, delivery: D): Promise<void> | undefined {
    const scopes = this.#scopes;
    const scope = scopes.size === 0 ? undefined : scopes.get(delivery);
    try {
      if (!scope) return settle(delivery);
      scopes.delete(delivery);
      return scope.settle(what, () => settle(delivery));
    } catch (cause) {
      this.#settleFailed(what, delivery, cause);
      return undefined;
    }
  }

  #settleFailed(what: SettleOperation, delivery: D, cause: unknown): void {
    if (this.#aborted) return;
    this.#report(
      new CarrierError(
        'SETTLE_FAILED',
        `${what} of message ${delivery.message.id} failed on ${this.#options.label}; the broker will deliver it again`,
        { transport: this.#options.transport.name, cause },
      ),
    );
  }

  close(): Promise<void> {
    this.#closed ??= this.#shutdown();
    return this.#closed;
  }

  async #shutdown(): Promise<void> {
    this.#closing = true;
    const closing = new CarrierError('CLOSED', `${this.#options.label} is closing`, {
      transport: this.#options.transport.name,
    });
    for (const cancel of this.#activeSignals()) cancel.abort(closing);
    try {
      await this.#starting;
      const subscription = this.#subscription;
      if (subscription) await subscription.stop();
      this.#stopped = true;
      this.#options.onClosing?.();
      const unstarted = [...this.#scheduler.drainPending().map((a) => a.delivery!), ...this.#late.splice(0)];
      await Promise.all(unstarted.map((d) => this.settle('release', releaseDelivery, d)));
      await this.#scheduler.idle();
      while (this.#settling > 0) await this.#noneSettling();
      if (subscription) await subscription.close();
    } finally {
      this.#options.onClosed();
    }
  }

  /** The connection is gone without settling anything: stop touching deliveries, abort handlers. */
  markAborted(): void {
    if (this.#aborted) return;
    this.#aborted = true;
    this.#closing = true;
    this.#closed ??= Promise.resolve();
    this.#scheduler.drainPending();
    this.#late.length = 0;
    this.#scopes.clear();
    const reason = new CarrierError('CLOSED', `the carrier was aborted; ${this.#options.label} stopped`, {
      transport: this.#options.transport.name,
    });
    for (const cancel of this.#activeSignals()) cancel.abort(reason);
    for (let a = this.#active.next!; a !== this.#active; ) {
      const next: Active<D> = a.next!;
      a.prev = undefined;
      a.next = undefined;
      a = next;
    }
    this.#active.prev = this.#active;
    this.#active.next = this.#active;
    for (const [lease, watched] of this.#leases) lease.removeEventListener('abort', watched.listener);
    this.#leases.clear();
    this.#options.onClosing?.();
    this.#options.onClosed();
  }
}
