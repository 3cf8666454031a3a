import type { StandardSchemaV1 } from '@standard-schema/spec';
import { abortedError, checkSignal, onAbort, raceSignals, throwIfAborted } from './cancel.js';
import { encodeBody, messageSize, utf8Length } from './codec.js';
import { checkCodec, encodeWith, isPromiseLike, withSchemaId } from './codec-options.js';
import type { Codec, Encoded } from './codec-spi.js';
import { Consumer } from './consumer.js';
import { consumerSettings } from './consumer-settings.js';
import { deadLetterQueue } from './dead-letters.js';
import type { ManagedSubscription } from './engine.js';
import { CarrierError } from './errors.js';
import { checkOrdered, checkStartFrom } from './group-start.js';
import { observeConsumerLag } from './lag-gauge.js';
import type {
  BatchEntry,
  DeadLetterQueue,
  Handler,
  Message,
  PublishBatchOptions,
  PublishOptions,
  PublishReceipt,
  RequestOptions,
  SubscribeOptions,
  Subscription,
} from './message.js';
import { type MessageMetadata, validateMetadata } from './metadata.js';
import { validateContentType, validateHeaders, validateName } from './names.js';
import { type NativeToken, resolveNative } from './native.js';
import { dueTime } from './publish-delay.js';
import { prepareRequest, Requester } from './request.js';
import type { PublishScope } from './telemetry/publish.js';
import type { Telemetry } from './telemetry/telemetry.js';
import { type TraceFields, withTraceFields } from './telemetry/trace-context.js';
import { type CodecAccepting, createTopic, type Topic, type TopicOptions } from './topic.js';
import type { Capabilities, ConsumerLag, DeclareOptions, Transport, WireMessage } from './transport.js';
import { isWellFormed } from './unicode.js';
import { randomUuid } from './uuid.js';

/** Publish options of a call that gave none. */
const NO_OPTIONS: PublishOptions = Object.freeze({});

/** Whether `options` has no own enumerable property (`{}`). */
function isEmpty(options: object): boolean {
  for (const _ in options) return false;
  return true;
}

/** An empty body: `messageSize` of headers and metadata alone. */
const NO_BYTES = new Uint8Array(0);

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
  /** The requests of this carrier waiting for replies, and its reply destination. */
  readonly #requester: Requester;
  #closed: Promise<void> | undefined;
  /** OpenTelemetry of this connection; absent when off (every hook is one `?.`). */
  readonly #telemetry: Telemetry | undefined;
  /** Unregisters the `carrier.consumer.lag` gauge's callback (close, abort). */
  #unobserveLag: () => void = () => {};

  /** @internal Use `connect()`. */
  constructor(transport: Transport, onError: (error: Error) => void, telemetry?: Telemetry) {
    this.#transport = transport;
    this.#onError = onError;
    this.#telemetry = telemetry;
    this.#requester = new Requester(transport, telemetry);
    const meter = telemetry?.meter;
    if (meter) {
      // carrier.consumer.lag: one reading per group this carrier consumes, at each collection
      const consumers = () => [...this.#subscriptions].filter((s): s is Consumer => s instanceof Consumer);
      this.#unobserveLag = observeConsumerLag(
        meter,
        transport,
        (topic, group) => telemetry.attributes(topic, group),
        consumers,
      );
    }
  }

  /** Name of the transport in use (`memory`, `kafka`, `rabbitmq`, `nats`, `sqs`, …). */
  get transportName(): string {
    return this.#transport.name;
  }

  /**
   * The connection's native client objects, typed by an adapter's token (as Go CDK's `As`): e.g.
   * `carrier.as(native.connection)` with `native` from `@carrier/adapter-kafka` gives the kafkajs
   * `Kafka`, producer and admin. Each adapter's README lists what its tokens give. Using them voids
   * portability, and Carrier owns their lifecycle: do not close them yourself.
   *
   * @throws CarrierError `UNSUPPORTED` when the token is another transport's (the connection is
   *   not that broker) or the transport offers no native access; `INVALID_ARGUMENT` for a token of
   *   another scope (a subscription's or a message's).
   */
  as<T>(token: NativeToken<T, 'connection'>): T {
    const transport = this.#transport;
    return resolveNative(token, 'connection', transport.name, transport.native?.bind(transport));
  }

  /** What the connected transport guarantees; requests beyond it fail with `UNSUPPORTED`. */
  get capabilities(): Capabilities {
    return this.#transport.capabilities;
  }

  #ensureOpen(): void {
    if (this.#closed)
      throw new CarrierError('CLOSED', 'this carrier is closed', { transport: this.#transport.name });
  }

  /** @internal The connection's telemetry (other instruments register on its `meter`). */
  get telemetry(): Telemetry | undefined {
    return this.#telemetry;
  }

  /**
   * Validate and encode one entry of a publish to `topic`; `trace`: the context to inject unless it
   * has a `traceparent`; `codec`: the call's (the entry's own wins). A promise only when the codec
   * answers with one.
   */
  #wire(
    topic: string,
    entry: BatchEntry,
    trace?: TraceFields,
    codec?: Codec,
    signal?: AbortSignal,
  ): WireMessage | Promise<WireMessage> {
    const given = entry.headers;
    const noHeaders = given === undefined;
    const headers = validateHeaders(given);
    const metadata = withTraceFields(validateMetadata(entry.metadata), trace);
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
    const publishedAt = new Date();
    const deliverAt = dueTime(
      entry,
      this.#transport.capabilities,
      this.#transport.name,
      publishedAt.getTime(),
    );
    const contentType = validateContentType(entry.contentType);
    const entryCodec = checkCodec(entry.codec) ?? codec;
    if (!entryCodec)
      return this.#message(
        entry,
        headers,
        noHeaders,
        metadata,
        publishedAt,
        deliverAt,
        encodeBody(entry.body, contentType),
      );
    if (contentType !== undefined)
      throw new CarrierError(
        'INVALID_ARGUMENT',
        'give contentType or codec, not both: a codec names its content type',
      );
    const encoded = encodeWith(entryCodec, entry.body, { topic, signal });
    return isPromiseLike(encoded)
      ? Promise.resolve(encoded).then((e) =>
          this.#message(entry, headers, noHeaders, metadata, publishedAt, deliverAt, e),
        )
      : this.#message(entry, headers, noHeaders, metadata, publishedAt, deliverAt, encoded);
  }

  /**
   * The wire message of a checked entry (its headers and metadata validated, `noHeaders` when it
   * gave none, `publishedAt`: when the publish was called) and its encoded body, size limits
   * checked.
   */
  #message(
    entry: BatchEntry,
    headers: Record<string, string>,
    noHeaders: boolean,
    checkedMetadata: MessageMetadata | undefined,
    publishedAt: Date,
    deliverAt: Date | undefined,
    encoded: Encoded,
  ): WireMessage {
    const metadata = withSchemaId(checkedMetadata, encoded.schemaId);
    const { bytes, contentType } = encoded;
    // no headers given (`headers` is a new `{}`) and no metadata: nothing to count
    const headerBytes = noHeaders && metadata === undefined ? 0 : this.#checkHeaderLimits(headers, metadata);
    const size = bytes.byteLength + (entry.key === undefined ? 0 : utf8Length(entry.key)) + headerBytes;
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
    const message: { -readonly [K in keyof WireMessage]: WireMessage[K] } = {
      id: entry.id ?? randomUuid(),
      key: entry.key,
      headers,
      contentType,
      body: bytes,
      publishedAt,
    };
    if (metadata) message.metadata = metadata;
    if (deliverAt) message.deliverAt = deliverAt;
    return message;
  }

  /**
   * The wire messages of a batch: an array when every entry encoded synchronously, else a promise
   * of it. A failing entry fails the whole batch (nothing is sent).
   */
  #wireAll(
    topic: string,
    entries: readonly BatchEntry[],
    codec: Codec | undefined,
    signal: AbortSignal | undefined,
    scope: PublishScope | undefined,
  ): WireMessage[] | Promise<WireMessage[]> {
    const built: (WireMessage | Promise<WireMessage>)[] = new Array(entries.length);
    let pending = false;
    try {
      for (let i = 0; i < entries.length; i++) {
        const message = this.#wire(topic, entries[i]!, scope?.fieldsFor(i), codec, signal);
        pending ||= message instanceof Promise;
        built[i] = message;
      }
    } catch (error) {
      // entries already encoding asynchronously: their outcome no longer matters
      for (const message of built) if (message instanceof Promise) message.catch(() => {});
      throw error;
    }
    return pending ? Promise.all(built) : (built as WireMessage[]);
  }

  /**
   * Refuse headers beyond `capabilities.maxHeaders` / `maxHeaderBytes` (absent: no bound). Returns
   * the bytes of the headers and metadata (UTF-8, as `messageSize` counts them).
   */
  #checkHeaderLimits(headers: Record<string, string>, metadata: MessageMetadata | undefined): number {
    const { maxHeaders, maxHeaderBytes } = this.#transport.capabilities;
    const transport = this.#transport.name;
    if (maxHeaders !== undefined) {
      const count = Object.keys(headers).length;
      if (count > maxHeaders)
        throw new CarrierError(
          'INVALID_ARGUMENT',
          `${count} headers exceed the ${transport} limit of ${maxHeaders}`,
          {
            transport,
          },
        );
    }
    const bytes = messageSize(NO_BYTES, undefined, headers, metadata);
    if (maxHeaderBytes !== undefined && bytes > maxHeaderBytes) {
      throw new CarrierError(
        'MESSAGE_TOO_LARGE',
        `headers and metadata of ${bytes} bytes exceed the ${transport} limit of ${maxHeaderBytes}`,
        { transport },
      );
    }
    return bytes;
  }

  /**
   * The wire messages `publishBatch(topic, entries, options)` would send, without sending them:
   * the same validation (`INVALID_NAME`, `INVALID_ARGUMENT`, `MESSAGE_TOO_LARGE` against this
   * transport's limits, `UNSUPPORTED` for a delay beyond `capabilities.maxPublishDelayMs`, what the
   * codec throws), the same encoding (`options.codec`, an entry's own codec wins; absent:
   * `defaultCodec`), an id (a new UUID unless given) and `publishedAt` (now). No trace context is
   * injected (no publish span exists yet). For code that stores messages to send later byte for
   * byte, such as the transactional outbox of `@carrier/outbox`: publishing a stored message with
   * `publishBatch(topic, [{ body: m.body, contentType: m.contentType, id: m.id, key: m.key,
   * headers: m.headers, metadata: m.metadata }])` sends the same bytes, id, key, headers, metadata
   * and content type. After `close()`: `CLOSED`. Touches nothing at the broker.
   */
  async encode(
    topic: string,
    entries: readonly BatchEntry[],
    options: PublishBatchOptions = {},
  ): Promise<WireMessage[]> {
    this.#ensureOpen();
    validateName('topic', topic);
    if (!Array.isArray(entries)) throw new CarrierError('INVALID_ARGUMENT', 'entries must be an array');
    const signal = checkSignal(options?.signal);
    const codec = checkCodec(options?.codec);
    return this.#wireAll(topic, entries, codec, signal, undefined);
  }

  /**
   * Publish one message. Resolves once the broker has durably accepted it (acks=all, publisher
   * confirm, PubAck, SQS/SNS response); rejects with `CarrierError` otherwise. Every group of the
   * topic receives it; with `options.delayMs` or `options.deliverAt`, not before that time (see
   * `MessageOptions.delayMs`: `INVALID_ARGUMENT`, or `UNSUPPORTED` beyond
   * `capabilities.maxPublishDelayMs`). `options.signal` cancels the call (`ABORTED`; see {@link CancelOptions}: the
   * broker may still have accepted the message).
   */
  async publish(topic: string, body: unknown, options: PublishOptions = {}): Promise<PublishReceipt> {
    // no options (the common case): no copies of them
    const none = options === undefined || options === null || isEmpty(options);
    const { signal, ...fields } = none ? NO_OPTIONS : options;
    const [receipt] = await this.publishBatch(topic, [none ? { body } : { ...fields, body }], { signal });
    return receipt!;
  }

  /**
   * Publish several messages in one call. Resolves once every message was confirmed; otherwise
   * rejects with `PUBLISH_FAILED` whose `failures` list exactly the unconfirmed ones (the others were
   * published). Invalid entries reject the whole batch before anything is sent: `INVALID_NAME`,
   * `INVALID_ARGUMENT` (a header, key or id that is not well-formed Unicode, i.e. holds a lone
   * surrogate, or an invalid `delayMs` / `deliverAt`, among others), `MESSAGE_TOO_LARGE`,
   * `UNSUPPORTED` (a delay beyond `capabilities.maxPublishDelayMs`). Each entry has its own delay.
   * After `close()` was called: `CLOSED`. `options.codec` (an entry's own `codec` wins) encodes the
   * bodies (see `MessageOptions.codec`): what it throws — `INVALID_MESSAGE`, `ENCODE_FAILED`,
   * `SCHEMA_INCOMPATIBLE` — rejects the whole batch unchanged, nothing sent.
   *
   * `options.signal` cancels the call: already aborted, it rejects with `ABORTED` before anything
   * is sent; aborted while the batch is under way, it rejects with `ABORTED` at once (`cause`:
   * `signal.reason`) and the outcome of each message is unknown — the broker may still accept some
   * or all of them (at-least-once: publishing them again may deliver them twice). `close()` still
   * waits for such a publish to settle at the broker.
   */
  async publishBatch(
    topic: string,
    entries: readonly BatchEntry[],
    options: PublishBatchOptions = {},
  ): Promise<PublishReceipt[]> {
    this.#ensureOpen();
    validateName('topic', topic);
    if (!Array.isArray(entries)) throw new CarrierError('INVALID_ARGUMENT', 'entries must be an array');
    const signal = checkSignal(options?.signal);
    const codec = checkCodec(options?.codec);
    const scope = entries.length > 0 ? this.#telemetry?.startPublish(topic, entries.length) : undefined;
    try {
      const wired = this.#wireAll(topic, entries, codec, signal, scope);
      // a codec answered with a promise: awaited, and the carrier may have closed meanwhile
      let messages: WireMessage[];
      if (Array.isArray(wired)) messages = wired;
      else {
        messages = await wired;
        this.#ensureOpen();
      }
      scope?.built(messages);
      const name = this.#transport.name;
      if (signal?.aborted) throw abortedError(signal, `publish to ${topic}`, name);
      if (messages.length > 0) {
        const publishing = scope
          ? scope.run(() => this.#transport.publish(topic, messages))
          : this.#transport.publish(topic, messages);
        this.#publishing.add(publishing);
        const forget = () => this.#publishing.delete(publishing);
        publishing.then(forget, forget);
        if (signal)
          await raceSignals(publishing, [signal], (s) => abortedError(s, `publish to ${topic}`, name));
        else await publishing;
      }
      scope?.end();
      const receipts: PublishReceipt[] = new Array(messages.length);
      for (let i = 0; i < messages.length; i++) receipts[i] = { id: messages[i]!.id };
      return receipts;
    } catch (error) {
      scope?.end(error);
      throw error;
    }
  }

  /**
   * Send a request and wait for its reply: publishes `body` to `topic` (to every group, as
   * `publish` does) with `metadata.correlationId` (a new UUID), `metadata.replyTo` (this
   * connection's reply destination, opened on the first request and shared by all of them) and
   * `metadata.deadline` (now + `timeoutMs`), then resolves with the first reply (`message.reply` of
   * a handler, or a native reply where the broker has a convention: docs/brokers/*). A later reply
   * to the same request, or one that arrives after it settled, is dropped. The serving group's
   * handler never runs once the deadline is past, and a request is not retried (unless the serving
   * subscription has `retryRequests: true`): a handler that throws answers `REQUEST_FAILED` at once
   * (docs/concepts.md, "Request/reply").
   *
   * @throws CarrierError `TIMEOUT` when no reply came within `timeoutMs`; `REQUEST_FAILED` when the
   *   handler failed (its `message` is the remote reason); `ABORTED` when `options.signal` fired
   *   (the request may still be served; its reply is dropped); `UNSUPPORTED` without
   *   `capabilities.requestReply`; `INVALID_NAME`, `INVALID_ARGUMENT` (as `publish`, a bad
   *   `timeoutMs`, or `metadata.correlationId`, `replyTo` or `deadline` given), `MESSAGE_TOO_LARGE`;
   *   `PUBLISH_FAILED`; `DECODE_FAILED` for a reply whose body does not match its content type;
   *   `CLOSED` after `close()` or `abort()`, also for requests still waiting then.
   */
  async request<Body = unknown>(
    topic: string,
    body: unknown,
    options: RequestOptions = {},
  ): Promise<Message<Body>> {
    this.#ensureOpen();
    validateName('topic', topic);
    const prepared = prepareRequest(options);
    const name = this.#transport.name;
    if (!this.#transport.capabilities.requestReply)
      throw new CarrierError('UNSUPPORTED', `${name} has no request/reply`, { transport: name });
    throwIfAborted(prepared.signal, `request on ${topic}`, name);
    const { timeoutMs: _t, signal: _s, replyCodec: _r, ...fields } = options ?? {};
    const scope = this.#telemetry?.startPublish(topic, 1);
    const wire = (replyTo: string) => {
      const built = this.#wire(
        topic,
        { ...fields, body, metadata: prepared.metadata(replyTo) },
        scope?.fieldsFor(0),
        undefined,
        prepared.signal,
      );
      const done = (message: WireMessage) => {
        scope?.built([message]);
        return message;
      };
      return built instanceof Promise ? built.then(done) : done(built);
    };
    const publish = (message: WireMessage) => {
      this.#ensureOpen();
      const publishing = scope
        ? scope.run(() => this.#transport.publish(topic, [message]))
        : this.#transport.publish(topic, [message]);
      this.#publishing.add(publishing);
      const forget = () => this.#publishing.delete(publishing);
      publishing.then(forget, forget);
      if (scope)
        publishing.then(
          () => scope.end(),
          (error) => scope.end(error),
        );
      return publishing;
    };
    try {
      return (await this.#requester.run(topic, prepared, wire, publish)) as Message<Body>;
    } catch (error) {
      scope?.end(error); // no-op when the publish ended it
      throw error;
    } finally {
      scope?.end();
    }
  }

  /**
   * Create the topic and the given groups durably, so each group buffers every message published
   * from now on even before any consumer runs. Idempotent.
   *
   * `options.startFrom` says where a group created by this call starts: `'now'` (the default) gets
   * what is published from now on; `'earliest'` also gets the messages the broker still retains
   * from before it existed. `options.ordered: true` creates the groups for
   * `subscribe({ ordered: true })`, so an ordered group can exist before its first member
   * (RabbitMQ fixes it when the queue is created; elsewhere it only checks
   * `capabilities.perKeyOrder`). Both apply to groups created now; given, they must match how an
   * existing group was created, where the broker records it. Absent, any existing group is
   * accepted.
   *
   * @throws CarrierError `INVALID_NAME`, `INVALID_ARGUMENT` for bad options; `UNSUPPORTED` for
   *   several groups without `capabilities.fanOut`, `ordered: true` without
   *   `capabilities.perKeyOrder`, `startFrom: 'earliest'` without `capabilities.replay` (all
   *   before the broker is touched); `TOPOLOGY_CONFLICT` for a group that exists with another
   *   `startFrom` or `ordered`, where the broker records it (docs/brokers/*.md); `CLOSED`.
   */
  async declare(topic: string, groups: readonly string[], options: DeclareOptions = {}): Promise<void> {
    this.#ensureOpen();
    validateName('topic', topic);
    if (!Array.isArray(groups)) throw new CarrierError('INVALID_ARGUMENT', 'groups must be an array');
    for (const group of groups) validateName('group', group);
    if (!options || typeof options !== 'object')
      throw new CarrierError('INVALID_ARGUMENT', 'options must be an object');
    if (groups.length > 1 && !this.capabilities.fanOut) {
      throw new CarrierError('UNSUPPORTED', `${this.#transport.name} has no fan-out: one group per topic`, {
        transport: this.#transport.name,
      });
    }
    const ordered = checkOrdered(this.#transport, options.ordered);
    const startFrom = checkStartFrom(this.#transport, options.startFrom);
    await this.#transport.declare(topic, groups, { ordered, startFrom });
  }

  /**
   * Consume `topic` as a member of `options.group`. Resolves once the group is durably in place:
   * every message published afterwards reaches it, even while no member runs. The handler's
   * return acknowledges; a throw retries with exponential backoff, then dead-letters after
   * `retry.maxAttempts`; `NonRetryableError` dead-letters at once; an undecodable body is
   * dead-lettered without calling the handler, and so is a delivery whose attempt exceeds
   * `retry.maxAttempts` (its earlier consumers died or lost their lease before settling it) unless
   * `deadLetter: false`. The handler's `message.signal` aborts when the lease on the message is lost
   * (`LEASE_LOST`) and when the subscription closes (`CLOSED`). `options.signal` cancels the
   * subscription: before it resolves, `subscribe` rejects with `ABORTED` and a consumer the broker
   * started meanwhile is closed; later, the subscription closes as `close()` does.
   *
   * `options.startFrom` applies when this subscribe creates the group, and if given must match an
   * existing group's start where the broker records it (see `declare`).
   *
   * @throws CarrierError `INVALID_NAME`, `INVALID_ARGUMENT` for bad options; `UNSUPPORTED` for
   *   `ordered: true` without `capabilities.perKeyOrder`, `startFrom: 'earliest'` without
   *   `capabilities.replay`, or a retry policy whose longest real delay
   *   exceeds `capabilities.maxDelayMs` (with `deadLetter: false` that is `retry.maxDelayMs`, since
   *   retries never stop); `TOPOLOGY_CONFLICT` for a group that exists with another `startFrom` or
   *   `ordered`, where the broker records it; `CLOSED` after `close()` or `abort()`; `ABORTED` when
   *   `options.signal` fired before it resolved (`cause`: `signal.reason`).
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
    const signal = checkSignal(options.signal);
    const settings = consumerSettings(topic, options, this.#transport, this.#onError);
    const what = `subscribe to ${topic}/${options.group}`;
    throwIfAborted(signal, what, this.#transport.name);
    let forget = () => {};
    const telemetry = this.#telemetry?.consumer(topic, options.group);
    const consumer = new Consumer(
      this.#transport,
      settings,
      handler as Handler,
      (c) => {
        this.#subscriptions.delete(c);
        forget();
      },
      telemetry,
    );
    this.#subscriptions.add(consumer);
    // Aborted while starting or later: close as close() does (it waits for the start, then closes
    // the consumer the transport started, if it did).
    if (signal) forget = onAbort(signal, () => void consumer.close());
    try {
      await this.#unlessAborted(consumer.start(), signal, what);
    } catch (error) {
      if (!signal?.aborted) {
        this.#subscriptions.delete(consumer);
        forget();
      }
      throw error;
    }
    return consumer;
  }

  /**
   * `starting` (a subscribe on the transport), or a rejection as soon as one of the signals fires:
   * `CLOSED` when abort() is called (a transport may not answer a subscribe on a connection it just
   * dropped), `ABORTED` when the caller's `signal` fires.
   */
  #unlessAborted(starting: Promise<void>, signal?: AbortSignal, what = 'subscribe'): Promise<void> {
    const name = this.#transport.name;
    return raceSignals(starting, [this.#aborting.signal, signal], (fired) =>
      fired === signal
        ? abortedError(fired, what, name)
        : new CarrierError('CLOSED', 'the carrier was aborted while subscribing', { transport: name }),
    );
  }

  /**
   * A handle on `topic` with typed bodies (see {@link Topic}): with `schema` (any Standard Schema
   * validator: zod, valibot, arktype, …) `publish` takes the schema's input type and refuses an
   * invalid body with `INVALID_MESSAGE` (nothing sent), and the handler gets its output type, an
   * invalid body being dead-lettered with the issues as the reason; with `codec` (a `Codec<T>`, e.g.
   * a schema codec of `@carrier/schema`) bodies are `T`, encoded and decoded by it; with both, the
   * codec encodes what the schema validated. Creating a handle touches nothing at the broker.
   *
   * @throws CarrierError `INVALID_NAME`; `INVALID_ARGUMENT` for a `schema` that is not a Standard
   *   Schema validator or a `codec` that is not a codec.
   */
  topic<Schema extends StandardSchemaV1, T = StandardSchemaV1.InferInput<Schema>>(
    topic: string,
    options: { schema: Schema; codec?: CodecAccepting<StandardSchemaV1.InferInput<Schema>, T> | undefined },
  ): Topic<StandardSchemaV1.InferInput<Schema>, StandardSchemaV1.InferOutput<Schema>>;
  topic<T>(topic: string, options: TopicOptions<never, T> & { codec: Codec<T> }): Topic<T>;
  topic(topic: string, options?: TopicOptions<never, unknown>): Topic<unknown>;
  topic(topic: string, options?: TopicOptions): Topic<unknown> {
    return createTopic(this, topic, options);
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
      telemetry: this.#telemetry,
      track: (s) => this.#subscriptions.add(s),
      untrack: (s) => this.#subscriptions.delete(s),
    });
  }

  /**
   * The consumer lag of `group` on `topic`: how many messages wait for the group and are not
   * settled yet, as the broker counts them (`source` says what it read; each broker page in
   * docs/brokers/ says what is included — in-flight deliveries, scheduled retries, delayed
   * messages). A snapshot, approximate on SQS. Reads only: nothing is created or consumed.
   *
   * @throws CarrierError `INVALID_NAME`; `INVALID_ARGUMENT` for bad options or a group the broker
   *   does not have; `UNSUPPORTED` where `capabilities.lag` is not true; `CLOSED` after `close()`
   *   or `abort()`; `ABORTED` when `options.signal` fired (`cause`: `signal.reason`);
   *   `CONNECTION`, `TIMEOUT`.
   */
  async lag(topic: string, group: string, options: { signal?: AbortSignal } = {}): Promise<ConsumerLag> {
    this.#ensureOpen();
    validateName('topic', topic);
    validateName('group', group);
    if (!options || typeof options !== 'object')
      throw new CarrierError('INVALID_ARGUMENT', 'options must be an object');
    const signal = checkSignal(options.signal);
    const name = this.#transport.name;
    const what = `lag of ${topic}/${group}`;
    throwIfAborted(signal, what, name);
    if (!this.capabilities.lag || !this.#transport.lag)
      throw new CarrierError('UNSUPPORTED', `${name} cannot tell a group's lag`, { transport: name });
    const reading = this.#transport.lag(topic, group, signal);
    return raceSignals(reading, [this.#aborting.signal, signal], (fired) =>
      fired === signal
        ? abortedError(fired, what, name)
        : new CarrierError('CLOSED', 'the carrier was aborted', { transport: name }),
    );
  }

  /**
   * Close gracefully, the same on every transport:
   *
   * 1. From the call on, `publish`, `publishBatch`, `subscribe` and `declare` reject with `CLOSED`.
   * 2. Publishes already in flight are not cut off: close waits until each has settled, resolving
   *    (durably accepted) or rejecting (`PUBLISH_FAILED`, `CONNECTION`, …) as it would have anyway.
   * 3. Meanwhile every subscription closes: it stops fetching, gives back deliveries that never
   *    started (no attempt charged), aborts in-flight handlers' `message.signal` (`CLOSED`), lets
   *    them finish and settles them.
   * 4. Then the connection closes. Idempotent: every call returns the same promise.
   *
   * A handler that publishes through this carrier while it closes gets `CLOSED` (and is retried
   * later, like any failure); publish through another carrier if the handler must forward.
   */
  close(): Promise<void> {
    this.#closed ??= (async () => {
      this.#unobserveLag();
      const requests = this.#requester.close();
      await Promise.allSettled([...[...this.#subscriptions].map((s) => s.close()), ...[...this.#publishing]]);
      while (this.#publishing.size > 0) await Promise.allSettled([...this.#publishing]);
      await requests;
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
    this.#unobserveLag();
    this.#aborting.abort();
    for (const s of [...this.#subscriptions]) s.markAborted();
    this.#subscriptions.clear();
    void this.#requester.close();
    await this.#transport.abort();
  }
}
