import type { RetryPolicy } from './backoff.js';
import { retryDelay } from './backoff.js';
import { decodeBody } from './codec.js';
import { CarrierError, NonRetryableError } from './errors.js';
import { KeyedScheduler } from './keyed-scheduler.js';
import type { Handler, Message, Subscription } from './message.js';
import type { Delivery, Transport, TransportSubscription, WireMessage } from './transport.js';

/** Settings of one consumer, resolved by the carrier. */
export interface ConsumerSettings {
  readonly topic: string;
  readonly group: string;
  readonly concurrency: number;
  readonly prefetch: number;
  readonly ordered: boolean;
  readonly retry: RetryPolicy;
  readonly deadLetter: boolean;
  readonly decode: boolean;
  readonly onError: (error: Error) => void;
}

/** Turn a wire message into the user's `Message`. */
export function toMessage(topic: string, wire: WireMessage, attempt: number, body: unknown): Message {
  return {
    id: wire.id,
    topic,
    key: wire.key,
    headers: wire.headers,
    body,
    raw: wire.body,
    contentType: wire.contentType,
    attempt,
    publishedAt: wire.publishedAt,
  };
}

/** The message of an error, as recorded in a dead letter. */
export function failureReason(error: unknown): string {
  if (error instanceof Error) return error.message || error.name;
  return String(error);
}

/**
 * The engine of one subscription: schedules deliveries under the concurrency limit and per-key
 * order, runs the handler, and settles each delivery once — ack on success, retry with backoff
 * on failure, dead letter when the policy says so. Shutdown: stop fetching, give back what never
 * started, wait for in-flight handlers, settle them, then release the consumer.
 */
export class Consumer implements Subscription {
  readonly topic: string;
  readonly group: string;
  readonly #scheduler: KeyedScheduler<Delivery>;
  #transportSubscription: TransportSubscription | undefined;
  /** Settlements under way: they no longer hold a handler slot, but close() waits for them. */
  readonly #settling = new Set<Promise<void>>();
  #closing = false;
  #aborted = false;
  #closed: Promise<void> | undefined;

  constructor(
    private readonly transport: Transport,
    private readonly settings: ConsumerSettings,
    private readonly handler: Handler,
    private readonly onClosed: (consumer: Consumer) => void,
  ) {
    this.topic = settings.topic;
    this.group = settings.group;
    this.#scheduler = new KeyedScheduler(settings.concurrency, (delivery) => this.#process(delivery));
  }

  /** Subscribe on the transport; resolves once the group is durably in place. */
  async start(): Promise<void> {
    this.#transportSubscription = await this.transport.subscribe(
      this.topic,
      this.group,
      { prefetch: this.settings.prefetch, ordered: this.settings.ordered },
      (delivery) => this.#accept(delivery),
    );
  }

  #accept(delivery: Delivery): void {
    if (this.#closing) {
      this.#track(this.#settle('release', () => delivery.release()));
      return;
    }
    this.#scheduler.push(delivery.message.key, delivery);
  }

  async #process(delivery: Delivery): Promise<void> {
    const wire = delivery.message;
    let body: unknown = wire.body;
    try {
      if (this.settings.decode) body = decodeBody(wire.body, wire.contentType);
    } catch (error) {
      this.#track(this.#fail(delivery, error, true));
      return;
    }
    try {
      await this.handler(toMessage(this.topic, wire, delivery.attempt, body));
    } catch (error) {
      this.#track(this.#fail(delivery, error, error instanceof NonRetryableError));
      return;
    }
    // The slot is free as soon as the handler returned: the settlement (a broker round trip on
    // most transports) runs on its own, still bounded by the transport's prefetch, and close()
    // waits for it.
    this.#track(this.#settle('ack', () => delivery.ack()));
  }

  /** Settlements that run outside a handler slot; close() waits for every one of them. */
  #track(settlement: Promise<void>): void {
    this.#settling.add(settlement);
    void settlement.finally(() => this.#settling.delete(settlement));
  }

  async #fail(delivery: Delivery, error: unknown, hopeless: boolean): Promise<void> {
    const { retry, deadLetter } = this.settings;
    if (deadLetter && (hopeless || delivery.attempt >= retry.maxAttempts)) {
      const info = { reason: failureReason(error), attempts: delivery.attempt, failedAt: new Date() };
      await this.#settle('deadLetter', () => delivery.deadLetter(info));
    } else {
      await this.#settle('retry', () => delivery.retry(retryDelay(retry, delivery.attempt)));
    }
  }

  async #settle(what: string, settle: () => Promise<void>): Promise<void> {
    if (this.#aborted) return;
    try {
      await settle();
    } catch (cause) {
      if (this.#aborted) return;
      const error = new CarrierError(
        'SETTLE_FAILED',
        `${what} failed on ${this.topic}/${this.group}; the broker will redeliver`,
        { transport: this.transport.name, cause },
      );
      try {
        this.settings.onError(error);
      } catch {
        // a throwing onError must not turn a settlement into an unhandled rejection
      }
    }
  }

  close(): Promise<void> {
    this.#closed ??= this.#shutdown();
    return this.#closed;
  }

  async #shutdown(): Promise<void> {
    this.#closing = true;
    const subscription = this.#transportSubscription;
    try {
      if (subscription) await subscription.stop();
      await Promise.all(
        this.#scheduler.drainPending().map((d) => this.#settle('release', () => d.release())),
      );
      await this.#scheduler.idle();
      while (this.#settling.size > 0) await Promise.all([...this.#settling]);
      if (subscription) await subscription.close();
    } finally {
      this.onClosed(this);
    }
  }

  /** The connection is gone without settling anything: stop touching deliveries. */
  markAborted(): void {
    this.#aborted = true;
    this.#closing = true;
    this.#scheduler.drainPending();
    this.onClosed(this);
  }
}
