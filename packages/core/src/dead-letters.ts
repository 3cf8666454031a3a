import { decodeBody } from './codec.js';
import { toMessage } from './consumer.js';
import { CarrierError } from './errors.js';
import { KeyedScheduler } from './keyed-scheduler.js';
import type { DeadLetter, DeadLetterQueue, DeadLetterSubscribeOptions, Subscription } from './message.js';
import type { DeadLetterDelivery, Transport, TransportSubscription } from './transport.js';

/** How long a dead letter whose handler threw is held before it is given back. */
const HOLD_BEFORE_RELEASE_MS = 1_000;

function toDeadLetter(topic: string, delivery: DeadLetterDelivery): DeadLetter {
  const wire = delivery.message;
  let body: unknown;
  try {
    body = decodeBody(wire.body, wire.contentType);
  } catch {
    body = wire.body; // dead letters include undecodable bodies: hand over the bytes
  }
  return {
    message: toMessage(topic, wire, delivery.info.attempts, body),
    reason: delivery.info.reason,
    attempts: delivery.info.attempts,
    failedAt: delivery.info.failedAt,
  };
}

/** Reads the dead letters of one group; the shutdown contract is the same as a `Consumer`'s. */
class DeadLetterConsumer implements Subscription {
  readonly #scheduler: KeyedScheduler<DeadLetterDelivery>;
  #subscription: TransportSubscription | undefined;
  #closing = false;
  #closed: Promise<void> | undefined;
  readonly #holds = new Set<() => void>();

  constructor(
    private readonly transport: Transport,
    readonly topic: string,
    readonly group: string,
    concurrency: number,
    private readonly handler: (letter: DeadLetter) => Promise<void> | void,
    private readonly onError: (error: Error) => void,
    private readonly onClosed: (s: Subscription) => void,
  ) {
    this.#scheduler = new KeyedScheduler(concurrency, (d) => this.#process(d));
  }

  async start(prefetch: number): Promise<void> {
    this.#subscription = await this.transport.subscribeDeadLetters(
      this.topic,
      this.group,
      { prefetch },
      (d) => {
        if (this.#closing) void this.#settle(() => d.release());
        else this.#scheduler.push(undefined, d);
      },
    );
  }

  async #process(delivery: DeadLetterDelivery): Promise<void> {
    try {
      await this.handler(toDeadLetter(this.topic, delivery));
    } catch {
      if (!this.#closing) {
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
      await this.#settle(() => delivery.release());
      return;
    }
    await this.#settle(() => delivery.ack());
  }

  async #settle(settle: () => Promise<void>): Promise<void> {
    try {
      await settle();
    } catch (cause) {
      this.onError(
        new CarrierError('SETTLE_FAILED', `settling a dead letter of ${this.topic}/${this.group} failed`, {
          transport: this.transport.name,
          cause,
        }),
      );
    }
  }

  close(): Promise<void> {
    this.#closed ??= (async () => {
      this.#closing = true;
      try {
        await this.#subscription?.stop();
        for (const release of [...this.#holds]) release();
        await Promise.all(this.#scheduler.drainPending().map((d) => this.#settle(() => d.release())));
        await this.#scheduler.idle();
        await this.#subscription?.close();
      } finally {
        this.onClosed(this);
      }
    })();
    return this.#closed;
  }
}

/** Hooks the carrier gives a dead-letter queue handle. */
export interface DeadLetterQueueContext {
  readonly transport: Transport;
  readonly topic: string;
  readonly group: string;
  readonly onError: (error: Error) => void;
  readonly ensureOpen: () => void;
  readonly track: (s: Subscription) => void;
  readonly untrack: (s: Subscription) => void;
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
      const consumer = new DeadLetterConsumer(
        transport,
        topic,
        group,
        concurrency,
        handler,
        context.onError,
        context.untrack,
      );
      context.track(consumer);
      try {
        await consumer.start(concurrency);
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
      return transport.redrive(topic, group, max);
    },
  };
}
