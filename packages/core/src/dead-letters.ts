import { decodeBody } from './codec.js';
import { checkCodec, isPromiseLike } from './codec-options.js';
import type { Codec } from './codec-spi.js';
import { toMessage } from './delivered-message.js';
import {
  type GuardedDeadLetterDelivery,
  type ManagedSubscription,
  releaseDelivery,
  SubscriptionEngine,
  settleDeadLetterOnce,
} from './engine.js';
import { CarrierError } from './errors.js';
import type { HandlerSignal } from './handler-signal.js';
import type { DeadLetter, DeadLetterQueue, DeadLetterSubscribeOptions } from './message.js';
import type { NativeToken } from './native.js';
import type { ConsumerTelemetry, Telemetry } from './telemetry/telemetry.js';
import type { DeadLetterDelivery, Transport, WireMessage } from './transport.js';

/** How long a dead letter whose handler threw is held before it is given back. */
const HOLD_BEFORE_RELEASE_MS = 1_000;

/**
 * The body of a dead letter: decoded by `codec` (awaited only when it answers with a promise) or
 * by content type; the bytes when it cannot be decoded (dead letters include undecodable bodies).
 */
function letterBody(
  topic: string,
  wire: WireMessage,
  codec: Codec | undefined,
  cancel: HandlerSignal,
): unknown | Promise<unknown> {
  try {
    if (!codec) return decodeBody(wire.body, wire.contentType);
    const metadata = wire.metadata ?? {};
    const body = codec.decode(wire.body, {
      topic,
      contentType: wire.contentType,
      metadata,
      signal: cancel.signal,
    });
    return isPromiseLike(body) ? Promise.resolve(body).catch(() => wire.body) : body;
  } catch {
    return wire.body;
  }
}

function toDeadLetter(
  topic: string,
  delivery: GuardedDeadLetterDelivery,
  body: unknown,
  cancel: HandlerSignal,
  transport: string,
): DeadLetter {
  const wire = delivery.message;
  return {
    // no native record for a dead letter: its message's as() throws UNSUPPORTED
    message: toMessage(topic, wire, delivery.info.attempts, body, cancel, transport, undefined),
    reason: delivery.info.reason,
    attempts: delivery.info.attempts,
    failedAt: delivery.info.failedAt,
  };
}

/**
 * Reads the dead letters of one group, on the same engine as `Consumer`: settle-once guard,
 * `onError` guard, shutdown contract, and aborted with the carrier.
 */
class DeadLetterConsumer implements ManagedSubscription {
  readonly #engine: SubscriptionEngine<DeadLetterDelivery, GuardedDeadLetterDelivery>;
  readonly #holds = new Set<() => void>();

  constructor(
    private readonly transport: Transport,
    readonly topic: string,
    readonly group: string,
    concurrency: number,
    private readonly handler: (letter: DeadLetter) => Promise<void> | void,
    private readonly codec: Codec | undefined,
    onError: (error: Error) => void,
    onClosed: (s: ManagedSubscription) => void,
    telemetry?: ConsumerTelemetry,
  ) {
    this.#engine = new SubscriptionEngine<DeadLetterDelivery, GuardedDeadLetterDelivery>({
      transport,
      label: `the dead letters of ${topic}/${group}`,
      concurrency,
      onError,
      guard: settleDeadLetterOnce,
      keyOf: () => undefined,
      process: (delivery, cancel) => this.#process(delivery, cancel),
      telemetry,
      onClosing: () => {
        for (const release of [...this.#holds]) release();
      },
      onClosed: () => onClosed(this),
    });
  }

  async start(prefetch: number): Promise<void> {
    const subscription = await this.transport.subscribeDeadLetters(
      this.topic,
      this.group,
      { prefetch, onReceive: this.#engine.onReceive },
      (d) => this.#engine.accept(d),
    );
    this.#engine.attach(subscription);
  }

  async #process(delivery: GuardedDeadLetterDelivery, cancel: HandlerSignal): Promise<void> {
    try {
      let body = letterBody(this.topic, delivery.message, this.codec, cancel);
      if (body instanceof Promise) body = await body;
      await this.handler(toDeadLetter(this.topic, delivery, body, cancel, this.transport.name));
    } catch (error) {
      this.#engine.failed(delivery, error);
      if (!this.#engine.closing) {
        await new Promise<void>((resolve) => {
          const done = () => {
            clearTimeout(timer);
            this.#holds.delete(done);
            resolve();
          };
          const timer = setTimeout(done, HOLD_BEFORE_RELEASE_MS);
          this.#holds.add(done);
        });
      }
      await this.#engine.settle('release', releaseDelivery, delivery);
      return;
    }
    await this.#engine.settle('ack', (d) => d.ack(), delivery);
  }

  close(): Promise<void> {
    return this.#engine.close();
  }

  as<T>(token: NativeToken<T, 'subscription'>): T {
    return this.#engine.as(token);
  }

  markAborted(): void {
    this.#engine.markAborted();
  }
}

/** Hooks the carrier gives a dead-letter queue handle. */
export interface DeadLetterQueueContext {
  readonly transport: Transport;
  readonly topic: string;
  readonly group: string;
  readonly onError: (error: Error) => void;
  /**
   * The connection's telemetry, if on: the readers' receive, process (`carrier.dead_letter=true`)
   * and settle spans, the redrive span and `carrier.redrives`.
   */
  readonly telemetry?: Telemetry | undefined;
  readonly ensureOpen: () => void;
  /** `starting`, or a `CLOSED` rejection as soon as the carrier is aborted. */
  readonly unlessAborted: (starting: Promise<void>) => Promise<void>;
  readonly track: (s: ManagedSubscription) => void;
  readonly untrack: (s: ManagedSubscription) => void;
}

/** Create the handle returned by `carrier.deadLetters(topic, group)`. */
export function deadLetterQueue(context: DeadLetterQueueContext): DeadLetterQueue {
  const { transport, topic, group } = context;
  return {
    async subscribe(handler, options: DeadLetterSubscribeOptions = {}) {
      context.ensureOpen();
      const concurrency = options.concurrency ?? 1;
      if (!Number.isInteger(concurrency) || concurrency < 1) {
        throw new CarrierError('INVALID_ARGUMENT', 'concurrency must be a positive integer');
      }
      const codec = checkCodec(options.codec);
      const consumer = new DeadLetterConsumer(
        transport,
        topic,
        group,
        concurrency,
        handler,
        codec,
        context.onError,
        context.untrack,
        context.telemetry?.consumer(topic, group, true),
      );
      context.track(consumer);
      try {
        await context.unlessAborted(consumer.start(concurrency));
      } catch (error) {
        context.untrack(consumer);
        throw error;
      }
      return consumer;
    },
    async redrive(options = {}) {
      context.ensureOpen();
      if (!transport.capabilities.redrive) {
        throw new CarrierError('UNSUPPORTED', `${transport.name} cannot redrive dead letters`, {
          transport: transport.name,
        });
      }
      const max = options.max ?? Number.MAX_SAFE_INTEGER;
      if (!Number.isInteger(max) || max < 0)
        throw new CarrierError('INVALID_ARGUMENT', 'max must be a non-negative integer');
      const telemetry = context.telemetry;
      if (!telemetry) return transport.redrive(topic, group, max);
      return telemetry.redrive(topic, group, () => transport.redrive(topic, group, max));
    },
  };
}
