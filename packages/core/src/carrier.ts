import { encodeBody, messageSize } from './codec.js';
import { Consumer } from './consumer.js';
import { consumerSettings } from './consumer-settings.js';
import { deadLetterQueue } from './dead-letters.js';
import type { ManagedSubscription } from './engine.js';
import { CarrierError } from './errors.js';
import type {
  BatchEntry,
  DeadLetterQueue,
  Handler,
  PublishOptions,
  PublishReceipt,
  SubscribeOptions,
  Subscription,
} from './message.js';
import { type MessageMetadata, validateMetadata } from './metadata.js';
import { validateContentType, validateHeaders, validateName } from './names.js';
import type { Capabilities, Transport, WireMessage } from './transport.js';
import { isWellFormed } from './unicode.js';

/**
 * A connection to one broker through one transport: publish, subscribe, dead letters.
 * Obtain one with `connect(url)`. Every method validates its input before the broker is touched.
 */
export class Carrier {
  readonly #transport: Transport;
  readonly #onError: (error: Error) => void;
  readonly #subscriptions = new Set<ManagedSubscription>();
  /** Transport publishes under way: close() lets them settle before closing the transport. */
  readonly #publishing = new Set<Promise<unknown>>();
  /** Aborted by abort(): subscribes still under way reject with `CLOSED` at once. */
  readonly #aborting = new AbortController();
  #closed: Promise<void> | undefined;

  /** @internal Use `connect()`. */
  constructor(transport: Transport, onError: (error: Error) => void) {
    this.#transport = transport;
    this.#onError = onError;
  }

  /** Name of the transport in use (`memory`, `kafka`, `rabbitmq`, `nats`, `sqs`, …). */
  get transportName(): string {
    return this.#transport.name;
  }

  /** What the connected transport guarantees; requests beyond it fail with `UNSUPPORTED`. */
  get capabilities(): Capabilities {
    return this.#transport.capabilities;
  }

  #ensureOpen(): void {
    if (this.#closed)
      throw new CarrierError('CLOSED', 'this carrier is closed', { transport: this.#transport.name });
  }

  #wire(entry: BatchEntry): WireMessage {
    const headers = validateHeaders(entry.headers);
    const metadata = validateMetadata(entry.metadata);
    if (entry.key !== undefined && typeof entry.key !== 'string') {
      throw new CarrierError('INVALID_ARGUMENT', 'key must be a string');
    }
    if (entry.key !== undefined && !isWellFormed(entry.key)) {
      throw new CarrierError(
        'INVALID_ARGUMENT',
        'key is not well-formed Unicode (it contains a lone surrogate)',
      );
    }
    if (
      entry.id !== undefined &&
      (typeof entry.id !== 'string' || entry.id.length === 0 || entry.id.length > 128)
    ) {
      throw new CarrierError('INVALID_ARGUMENT', 'id must be a string of 1 to 128 characters');
    }
    if (entry.id !== undefined && !isWellFormed(entry.id)) {
      throw new CarrierError(
        'INVALID_ARGUMENT',
        'id is not well-formed Unicode (it contains a lone surrogate)',
      );
    }
    const { bytes, contentType } = encodeBody(entry.body, validateContentType(entry.contentType));
    this.#checkHeaderLimits(headers, metadata);
    const size = messageSize(bytes, entry.key, headers, metadata);
    const limit = this.#transport.capabilities.maxMessageBytes;
    if (size > limit) {
      throw new CarrierError(
        'MESSAGE_TOO_LARGE',
        `message of ${size} bytes exceeds the ${this.#transport.name} limit of ${limit}`,
        {
          transport: this.#transport.name,
        },
      );
    }
    return {
      id: entry.id ?? crypto.randomUUID(),
      key: entry.key,
      headers,
      contentType,
      body: bytes,
      publishedAt: new Date(),
      ...(metadata ? { metadata } : {}),
    };
  }

  /** Refuse headers beyond `capabilities.maxHeaders` / `maxHeaderBytes` (absent: no bound). */
  #checkHeaderLimits(headers: Record<string, string>, metadata: MessageMetadata | undefined): void {
    const { maxHeaders, maxHeaderBytes } = this.#transport.capabilities;
    const transport = this.#transport.name;
    const count = Object.keys(headers).length;
    if (maxHeaders !== undefined && count > maxHeaders) {
      throw new CarrierError(
        'INVALID_ARGUMENT',
        `${count} headers exceed the ${transport} limit of ${maxHeaders}`,
        {
          transport,
        },
      );
    }
    if (maxHeaderBytes === undefined) return;
    const bytes = messageSize(new Uint8Array(0), undefined, headers, metadata);
    if (bytes > maxHeaderBytes) {
      throw new CarrierError(
        'MESSAGE_TOO_LARGE',
        `headers and metadata of ${bytes} bytes exceed the ${transport} limit of ${maxHeaderBytes}`,
        { transport },
      );
    }
  }

  /**
   * Publish one message. Resolves once the broker has durably accepted it (acks=all, publisher
   * confirm, PubAck, SQS/SNS response); rejects with `CarrierError` otherwise. Every group of the
   * topic receives it.
   */
  async publish(topic: string, body: unknown, options: PublishOptions = {}): Promise<PublishReceipt> {
    const [receipt] = await this.publishBatch(topic, [{ ...options, body }]);
    return receipt!;
  }

  /**
   * Publish several messages in one call. Resolves once every message was confirmed; otherwise
   * rejects with `PUBLISH_FAILED` whose `failures` list exactly the unconfirmed ones (the others were
   * published). Invalid entries reject the whole batch before anything is sent: `INVALID_NAME`,
   * `INVALID_ARGUMENT` (a header, key or id that is not well-formed Unicode, i.e. holds a lone
   * surrogate, among others), `MESSAGE_TOO_LARGE`. After `close()` was called: `CLOSED`.
   */
  async publishBatch(topic: string, entries: readonly BatchEntry[]): Promise<PublishReceipt[]> {
    this.#ensureOpen();
    validateName('topic', topic);
    if (!Array.isArray(entries)) throw new CarrierError('INVALID_ARGUMENT', 'entries must be an array');
    const messages = entries.map((entry) => this.#wire(entry));
    if (messages.length > 0) {
      const publishing = this.#transport.publish(topic, messages);
      this.#publishing.add(publishing);
      try {
        await publishing;
      } finally {
        this.#publishing.delete(publishing);
      }
    }
    return messages.map((m) => ({ id: m.id }));
  }

  /**
   * Create the topic and the given groups durably, so each group buffers every message published
   * from now on even before any consumer runs. Idempotent.
   */
  async declare(topic: string, groups: readonly string[]): Promise<void> {
    this.#ensureOpen();
    validateName('topic', topic);
    for (const group of groups) validateName('group', group);
    if (groups.length > 1 && !this.capabilities.fanOut) {
      throw new CarrierError('UNSUPPORTED', `${this.#transport.name} has no fan-out: one group per topic`, {
        transport: this.#transport.name,
      });
    }
    await this.#transport.declare(topic, groups);
  }

  /**
   * Consume `topic` as a member of `options.group`. Resolves once the group is durably in place:
   * every message published afterwards reaches it, even while no member runs. The handler's
   * return acknowledges; a throw retries with exponential backoff, then dead-letters after
   * `retry.maxAttempts`; `NonRetryableError` dead-letters at once; an undecodable body is
   * dead-lettered without calling the handler, and so is a delivery whose attempt exceeds
   * `retry.maxAttempts` (its earlier consumers died or lost their lease before settling it) unless
   * `deadLetter: false`. The handler's `message.signal` aborts when the lease on the message is lost.
   *
   * @throws CarrierError `INVALID_NAME`, `INVALID_ARGUMENT` for bad options; `UNSUPPORTED` for
   *   `ordered: true` without `capabilities.perKeyOrder`, or a retry policy whose longest real delay
   *   exceeds `capabilities.maxDelayMs` (with `deadLetter: false` that is `retry.maxDelayMs`, since
   *   retries never stop); `CLOSED` after `close()` or `abort()`.
   */
  async subscribe<Body = unknown>(
    topic: string,
    options: SubscribeOptions,
    handler: Handler<Body>,
  ): Promise<Subscription> {
    this.#ensureOpen();
    validateName('topic', topic);
    if (!options || typeof options !== 'object')
      throw new CarrierError('INVALID_ARGUMENT', 'options.group is required');
    validateName('group', options.group);
    if (typeof handler !== 'function')
      throw new CarrierError('INVALID_ARGUMENT', 'handler must be a function');
    const settings = consumerSettings(topic, options, this.#transport, this.#onError);
    const consumer = new Consumer(this.#transport, settings, handler as Handler, (c) =>
      this.#subscriptions.delete(c),
    );
    this.#subscriptions.add(consumer);
    try {
      await this.#unlessAborted(consumer.start());
    } catch (error) {
      this.#subscriptions.delete(consumer);
      throw error;
    }
    return consumer;
  }

  /**
   * `starting` (a subscribe on the transport), or a `CLOSED` rejection as soon as abort() is
   * called: a transport may not answer a subscribe on a connection it just dropped.
   */
  #unlessAborted(starting: Promise<void>): Promise<void> {
    const signal = this.#aborting.signal;
    const aborted = () =>
      new CarrierError('CLOSED', 'the carrier was aborted while subscribing', {
        transport: this.#transport.name,
      });
    if (signal.aborted) {
      starting.catch(() => {});
      return Promise.reject(aborted());
    }
    return new Promise<void>((resolve, reject) => {
      const onAbort = () => reject(aborted());
      signal.addEventListener('abort', onAbort, { once: true });
      starting.then(
        () => {
          signal.removeEventListener('abort', onAbort);
          resolve();
        },
        (error: unknown) => {
          signal.removeEventListener('abort', onAbort);
          reject(error);
        },
      );
    });
  }

  /** The dead letters of `group` on `topic`: read them, or redrive them to that group only. */
  deadLetters(topic: string, group: string): DeadLetterQueue {
    validateName('topic', topic);
    validateName('group', group);
    return deadLetterQueue({
      transport: this.#transport,
      topic,
      group,
      onError: this.#onError,
      ensureOpen: () => this.#ensureOpen(),
      unlessAborted: (starting) => this.#unlessAborted(starting),
      track: (s) => this.#subscriptions.add(s),
      untrack: (s) => this.#subscriptions.delete(s),
    });
  }

  /**
   * Close gracefully, the same on every transport:
   *
   * 1. From the call on, `publish`, `publishBatch`, `subscribe` and `declare` reject with `CLOSED`.
   * 2. Publishes already in flight are not cut off: close waits until each has settled, resolving
   *    (durably accepted) or rejecting (`PUBLISH_FAILED`, `CONNECTION`, …) as it would have anyway.
   * 3. Meanwhile every subscription closes: it stops fetching, gives back deliveries that never
   *    started (no attempt charged), lets in-flight handlers finish and settles them.
   * 4. Then the connection closes. Idempotent: every call returns the same promise.
   *
   * A handler that publishes through this carrier while it closes gets `CLOSED` (and is retried
   * later, like any failure); publish through another carrier if the handler must forward.
   */
  close(): Promise<void> {
    this.#closed ??= (async () => {
      await Promise.allSettled([...[...this.#subscriptions].map((s) => s.close()), ...[...this.#publishing]]);
      while (this.#publishing.size > 0) await Promise.allSettled([...this.#publishing]);
      await this.#transport.close();
    })();
    return this.#closed;
  }

  /**
   * Drop the connection at once without settling anything, as a crash would: the broker
   * redelivers every unsettled message, and each such delivery counts as an attempt. Running
   * handlers see their `message.signal` aborted (reason `CLOSED`); their results are ignored.
   * Every subscription, dead-letter readers included, stops at once. Publishes in flight may
   * reject. For crash tests and emergency stops.
   */
  async abort(): Promise<void> {
    this.#closed ??= Promise.resolve();
    this.#aborting.abort();
    for (const s of [...this.#subscriptions]) s.markAborted();
    this.#subscriptions.clear();
    await this.#transport.abort();
  }
}
