import type { RetryPolicy } from './backoff.js';
import { decodeBody } from './codec.js';
import { isPromiseLike, isUnreadable } from './codec-options.js';
import type { Codec } from './codec-spi.js';
import { ACK, admit, type Decision, decide, failureReason, type Outcome } from './decision.js';
import { frozenMetadata, toMessage } from './delivered-message.js';
import {
  type ManagedSubscription,
  releaseDelivery,
  type Settle,
  SubscriptionEngine,
  settleOnce,
} from './engine.js';
import { isCarrierError, NonRetryableError } from './errors.js';
import type { HandlerSignal } from './handler-signal.js';
import type { Handler } from './message.js';
import type { NativeToken } from './native.js';
import { isExpired, isRequest, ReplyChannel } from './request.js';
import type { ConsumerTelemetry, Telemetry } from './telemetry/telemetry.js';
import type { Delivery, StartFrom, Transport, WireMessage } from './transport.js';

/** Settings of one consumer, resolved by the carrier. */
export interface ConsumerSettings {
  readonly topic: string;
  readonly group: string;
  readonly concurrency: number;
  readonly prefetch: number;
  readonly ordered: boolean;
  /** Absent: not asked for (a new group starts at `'now'`, an existing one is accepted as it is). */
  readonly startFrom: StartFrom | undefined;
  readonly retry: RetryPolicy;
  readonly deadLetter: boolean;
  readonly decode: boolean;
  /** Decodes bodies (when `decode`); absent: by content type. */
  readonly codec: Codec | undefined;
  /** Retry a request whose handler threw as any message (default false: its first failure is final). */
  readonly retryRequests: boolean;
  /** Serve messages with a reply address as requests (default true; false for forwarders). */
  readonly serveRequests: boolean;
  readonly onError: (error: Error) => void;
}

/** `delivery.ack()`: the settle call of every handled message, one function for all. */
const ackDelivery: Settle<Delivery> = (delivery) => delivery.ack();

/** The settle call that carries out `decision` (a new closure only for a retry or a dead letter). */
function settlementOf(decision: Decision): Settle<Delivery> {
  switch (decision.action) {
    case 'ack':
      return ackDelivery;
    case 'retry': {
      const delayMs = decision.delayMs;
      return (delivery) => delivery.retry(delayMs);
    }
    case 'deadLetter': {
      const info = { reason: decision.reason, attempts: decision.attempts, failedAt: new Date() };
      return (delivery) => delivery.deadLetter(info);
    }
  }
}

/**
 * A handler that threw, other than `NonRetryableError`, after its signal fired because the
 * subscription is closing: it stopped as asked; the message goes back unprocessed (no attempt).
 */
function gaveUpOnClose(error: unknown, cancel: HandlerSignal): boolean {
  return !(error instanceof NonRetryableError) && isCarrierError(cancel.reason, 'CLOSED');
}

/**
 * One subscription: on the shared engine (settle-once guard, scheduling under the concurrency limit
 * and per-key order, lease loss, shutdown), runs the handler and carries out what `decision.ts`
 * decides for each delivery — ack, retry after a delay, or dead letter, the last also without
 * running the handler for a delivery past `maxAttempts` (its consumers kept dying).
 */
export class Consumer implements ManagedSubscription {
  readonly topic: string;
  readonly group: string;
  readonly #engine: SubscriptionEngine<Delivery, Delivery>;
  readonly #telemetry: Telemetry | undefined;

  constructor(
    private readonly transport: Transport,
    private readonly settings: ConsumerSettings,
    private readonly handler: Handler,
    onClosed: (consumer: Consumer) => void,
    telemetry?: ConsumerTelemetry,
  ) {
    this.topic = settings.topic;
    this.group = settings.group;
    this.#telemetry = telemetry?.telemetry;
    this.#engine = new SubscriptionEngine<Delivery, Delivery>({
      transport,
      label: `${settings.topic}/${settings.group}`,
      concurrency: settings.concurrency,
      onError: settings.onError,
      guard: settleOnce,
      keyOf: (delivery) => delivery.message.key,
      process: (delivery, cancel) => this.#process(delivery, cancel),
      telemetry,
      onClosed: () => onClosed(this),
    });
  }

  /** Subscribe on the transport; resolves once the group is durably in place. */
  start(): Promise<void> {
    const starting = this.transport
      .subscribe(
        this.topic,
        this.group,
        {
          prefetch: this.settings.prefetch,
          ordered: this.settings.ordered,
          startFrom: this.settings.startFrom,
          onReceive: this.#engine.onReceive,
        },
        (delivery) => this.#engine.accept(delivery),
      )
      .then((subscription) => this.#engine.attach(subscription));
    this.#engine.starting(starting);
    return starting;
  }

  /**
   * Decode, run the handler, decide and settle. A promise while the codec or the handler is still
   * working, undefined when the handler returned synchronously: its slot is free at once.
   */
  #process(delivery: Delivery, cancel: HandlerSignal): Promise<void> | undefined {
    const wire = delivery.message;
    const channel = isRequest(wire.metadata)
      ? new ReplyChannel(this.transport, wire.metadata, this.#telemetry)
      : undefined;
    // served as a request only where replies can be sent (elsewhere message.reply says UNSUPPORTED)
    // and unless the subscription forwards requests rather than serving them
    const serve = this.settings.serveRequests && this.transport.capabilities.requestReply;
    const request = serve ? channel : undefined;
    // nobody waits for the reply of an expired request: settle it without running the handler
    if (request && isExpired(wire.metadata)) return this.#execute(delivery, ACK);
    const refused = admit(delivery.attempt, this.settings);
    if (refused) return this.#execute(delivery, refused);
    let body: unknown = wire.body;
    try {
      if (this.settings.decode) body = this.#decode(wire, cancel);
    } catch (error) {
      this.#undecoded(delivery, request, cancel, error);
      return undefined;
    }
    if (!isPromiseLike(body)) return this.#handle(delivery, request, channel, cancel, body);
    return Promise.resolve(body).then(
      (decoded) => this.#handle(delivery, request, channel, cancel, decoded),
      (error: unknown) => this.#undecoded(delivery, request, cancel, error),
    );
  }

  /** The codec failed: dead letter an unreadable body, else retry as a handler's failure. */
  #undecoded(
    delivery: Delivery,
    request: ReplyChannel | undefined,
    cancel: HandlerSignal,
    error: unknown,
  ): void {
    if (isUnreadable(error)) {
      this.#engine.failed(delivery, error, true);
      const decision = decide({ kind: 'undecodable', error }, delivery.attempt, this.settings);
      this.#track(this.#failRequest(request, error).then(() => this.#execute(delivery, decision)));
      return;
    }
    // the codec failed for another reason (a registry it could not reach): retried as a
    // handler's failure would be, the handler not called
    this.#threw(delivery, request, cancel, error);
  }

  /** Run the handler on the decoded body; undefined when it returned synchronously. */
  #handle(
    delivery: Delivery,
    request: ReplyChannel | undefined,
    channel: ReplyChannel | undefined,
    cancel: HandlerSignal,
    body: unknown,
  ): Promise<void> | undefined {
    let result: unknown;
    try {
      const message = toMessage(
        this.topic,
        delivery.message,
        delivery.attempt,
        body,
        cancel,
        this.transport.name,
        delivery,
        channel?.reply,
      );
      result = this.handler(message);
    } catch (error) {
      this.#threw(delivery, request, cancel, error);
      return undefined;
    }
    // The slot is free as soon as the handler returned: the settlement (a broker round trip on
    // most transports) runs on its own, still bounded by the transport's prefetch, and close()
    // waits for it.
    if (!isPromiseLike(result)) {
      this.#handled(delivery);
      return undefined;
    }
    return Promise.resolve(result).then(
      () => this.#handled(delivery),
      (error: unknown) => this.#threw(delivery, request, cancel, error),
    );
  }

  /**
   * The handler returned: acknowledge, as `decide` answers for every handled message (a request's
   * too), without building the outcome and asking it.
   */
  #handled(delivery: Delivery): void {
    this.#engine.settleTracked('ack', ackDelivery, delivery);
  }

  /** The handler (or the codec) threw: give back on close, else decide and settle. */
  #threw(delivery: Delivery, request: ReplyChannel | undefined, cancel: HandlerSignal, error: unknown): void {
    this.#engine.failed(delivery, error);
    if (gaveUpOnClose(error, cancel)) {
      this.#engine.settleTracked('release', releaseDelivery, delivery);
      return;
    }
    this.#conclude(delivery, request, { kind: 'threw', error });
  }

  /** The body of `wire`: by the subscription's codec (maybe a promise), else by content type. */
  #decode(wire: WireMessage, cancel: HandlerSignal): unknown {
    const codec = this.settings.codec;
    if (!codec) return decodeBody(wire.body, wire.contentType);
    const context = {
      topic: this.topic,
      contentType: wire.contentType,
      metadata: frozenMetadata(wire.metadata),
      signal: cancel.signal,
    };
    return codec.decode(wire.body, context);
  }

  /** Decide after the handler ran (or the codec failed) and settle, the request's error reply first. */
  #conclude(delivery: Delivery, request: ReplyChannel | undefined, outcome: Outcome): void {
    const decision = this.#decision(request, outcome, delivery.attempt);
    if (request && decision.action !== 'retry' && outcome.kind === 'threw') {
      // the request's failure is final: the requester learns it now (REQUEST_FAILED)
      this.#track(this.#failRequest(request, outcome.error).then(() => this.#execute(delivery, decision)));
      return;
    }
    this.#engine.settleTracked(decision.action, settlementOf(decision), delivery);
  }

  /**
   * `decide`, except that a request whose handler threw is not retried (unless `retryRequests`): a
   * retry that outlives the requester's deadline helps no one. Its failure is final at once, as a
   * `NonRetryableError`'s: dead-lettered, or acknowledged when the group has no dead letters.
   */
  #decision(channel: ReplyChannel | undefined, outcome: Outcome, attempt: number): Decision {
    const decision = decide(outcome, attempt, this.settings);
    if (!channel || outcome.kind !== 'threw' || this.settings.retryRequests || decision.action !== 'retry')
      return decision;
    if (!this.settings.deadLetter) return { action: 'ack' };
    return { action: 'deadLetter', reason: failureReason(outcome.error), attempts: attempt };
  }

  /** Send a request's error reply (unless the handler replied); a failure goes to onError. */
  async #failRequest(channel: ReplyChannel | undefined, error: unknown): Promise<void> {
    if (!channel) return;
    try {
      await channel.fail(failureReason(error));
    } catch (failure) {
      this.settings.onError(failure instanceof Error ? failure : new Error(String(failure)));
    }
  }

  /**
   * Carry out a decision with the delivery's settle method, through the engine: a failure is
   * reported to onError as `SETTLE_FAILED`, never thrown.
   */
  #execute(delivery: Delivery, decision: Decision): Promise<void> {
    return this.#engine.settle(decision.action, settlementOf(decision), delivery);
  }

  /** A settlement that no longer holds the handler's slot; close() still waits for it. */
  #track(settlement: Promise<void>): void {
    this.#engine.track(settlement);
  }

  /** Stop fetching, give back what never started, let in-flight handlers finish and settle, close. */
  close(): Promise<void> {
    return this.#engine.close();
  }

  as<T>(token: NativeToken<T, 'subscription'>): T {
    return this.#engine.as(token);
  }

  /** The connection is gone without settling anything: stop touching deliveries. */
  markAborted(): void {
    this.#engine.markAborted();
  }
}
