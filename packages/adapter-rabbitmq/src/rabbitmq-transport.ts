import {
  type Capabilities,
  CarrierError,
  type DeadLetterDelivery,
  type DeadLetterInfo,
  type Delivery,
  type PublishFailure,
  type Transport,
  type TransportFactoryOptions,
  type TransportSubscribeOptions,
  type TransportSubscription,
  type WireMessage,
} from '@carrier/core';
import type { Channel, ConsumeMessage, GetMessage } from 'amqplib';
import { ConnectionManager } from './connection.js';
import { isChannelOpen, leaseOf, QueueConsumer, type QueueConsumerOptions } from './consumer.js';
import { delayLevel, MAX_DELAY_MS } from './delay.js';
import { messageOf, rabbitError, replyCode, TRANSPORT } from './errors.js';
import {
  deadLetterQueueName,
  delayQueueName,
  exchangeName,
  groupQueueName,
  releaseLedgerName,
} from './names.js';
import type { Outgoing } from './publisher.js';
import { encodeRecord, OrderedLedgers, type ReleaseLedger, type ReleaseRecord } from './release-ledger.js';
import { Session } from './session.js';
import { DEFAULT_MAX_MESSAGE_BYTES, defaultMaxMessageBytes, type RabbitSettings } from './url.js';
import { copyProperties, decodeMessage, encodeMessage, headerString, routingKeyFor } from './wire.js';

/** Dead letters moved per confirm round trip by `redrive`. */
const REDRIVE_BATCH = 100;

function asBuffer(bytes: Uint8Array): Buffer {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

/** Settle on `channel`, or fail with a coded error when the channel is gone (the broker redelivers). */
function settleOn(channel: Channel, what: string, settle: () => void): Promise<void> {
  const gone = (cause?: unknown) =>
    rabbitError(
      'CONNECTION',
      `cannot ${what}: the channel of this delivery is closed; the broker will redeliver it`,
      cause,
    );
  if (!isChannelOpen(channel)) return Promise.reject(gone());
  try {
    settle();
    return Promise.resolve();
  } catch (cause) {
    return Promise.reject(gone(cause));
  }
}

/**
 * Carrier over RabbitMQ (AMQP 0-9-1 with amqplib). See docs/brokers/rabbitmq.md for the topology it
 * creates, the wire format and the delivery semantics. One AMQP connection, re-established with
 * backoff when lost; one confirm channel for publishing, one channel per consumer, and a short-lived
 * channel per declaration.
 */
export class RabbitTransport implements Transport {
  readonly name = TRANSPORT;
  #capabilities: Capabilities;
  readonly #settings: RabbitSettings;
  readonly #onError: (error: Error) => void;
  readonly #manager: ConnectionManager;
  readonly #consumers = new Set<QueueConsumer>();
  readonly #inFlight = new Set<Promise<unknown>>();
  #session: Session | undefined;
  #closed = false;

  /** Use {@link RabbitTransport.connect}. */
  private constructor(settings: RabbitSettings, options: TransportFactoryOptions) {
    this.#settings = settings;
    this.#onError = options.onError;
    this.#capabilities = {
      fanOut: true,
      competingConsumers: true,
      perKeyOrder: true,
      nativeDelay: true,
      maxDelayMs: MAX_DELAY_MS,
      maxMessageBytes: settings.maxMessageBytes ?? DEFAULT_MAX_MESSAGE_BYTES,
      redrive: true,
    };
    // the factory option wins (core resolves ConnectOptions, then the URL); else the URL, else 10 s
    const connectTimeoutMs = options.connectTimeoutMs ?? settings.connectTimeoutMs ?? 10_000;
    this.#manager = new ConnectionManager(settings, connectTimeoutMs, {
      onLost: (error) => this.#onError(error),
      onRecovered: () => {
        for (const consumer of this.#consumers) consumer.restart();
      },
    });
  }

  /**
   * Open a transport: resolves once the broker accepted the AMQP connection.
   * @throws CarrierError `CONNECTION` when it cannot be reached or refuses the credentials.
   */
  static async connect(settings: RabbitSettings, options: TransportFactoryOptions): Promise<RabbitTransport> {
    const transport = new RabbitTransport(settings, options);
    const model = await transport.#manager.start();
    if (settings.maxMessageBytes === undefined) {
      // the server's max_message_size is not visible over AMQP: assume its version's default
      const version = (model.connection.serverProperties as { version?: unknown }).version;
      transport.#capabilities = {
        ...transport.#capabilities,
        maxMessageBytes: defaultMaxMessageBytes(version),
      };
    }
    return transport;
  }

  /**
   * What this transport guarantees. `maxMessageBytes` is the URL's `maxMessageBytes`, or else the
   * default `max_message_size` of the server's version (128 MiB before 4.0, 16 MiB from 4.0).
   */
  get capabilities(): Capabilities {
    return this.#capabilities;
  }

  #ensureOpen(): void {
    if (this.#closed) throw rabbitError('CLOSED', 'rabbitmq connection is closed');
  }

  /** The current connection's session, waiting for a reconnection if needed. */
  async #current(): Promise<Session> {
    this.#ensureOpen();
    const model = await this.#manager.ready();
    if (!this.#session || this.#session.model !== model) {
      this.#session = new Session(model, this.#manager.generation, this.#settings.queueType);
    }
    return this.#session;
  }

  #track<T>(promise: Promise<T>): Promise<T> {
    this.#inFlight.add(promise);
    const forget = () => this.#inFlight.delete(promise);
    promise.then(forget, forget);
    return promise;
  }

  async declare(topic: string, groups: readonly string[]): Promise<void> {
    const session = await this.#current();
    await session.topology.exchange(topic);
    await Promise.all(groups.map((group) => session.topology.group(topic, group, false)));
  }

  publish(topic: string, messages: readonly WireMessage[]): Promise<void> {
    this.#ensureOpen();
    return this.#track(this.#publish(topic, messages));
  }

  async #publish(topic: string, messages: readonly WireMessage[]): Promise<void> {
    const failAll = (error: Error): never => {
      throw new CarrierError(
        'PUBLISH_FAILED',
        `none of ${messages.length} message(s) to ${topic} was published: ${error.message}`,
        {
          transport: TRANSPORT,
          cause: error,
          failures: messages.map((m, index) => ({ index, id: m.id, error })),
        },
      );
    };
    let session: Session;
    try {
      session = await this.#current();
      await session.topology.exchange(topic);
    } catch (error) {
      if (error instanceof CarrierError && error.code === 'CLOSED') throw error;
      return failAll(error as Error);
    }
    const exchange = exchangeName(topic);
    const outcomes = await session.publisher.publish(
      messages.map(
        (m): Outgoing => ({
          exchange,
          routingKey: routingKeyFor(m.key),
          content: asBuffer(m.body),
          options: { ...encodeMessage(m), messageId: m.id },
        }),
      ),
    );
    const failures: PublishFailure[] = [];
    outcomes.forEach((error, index) => {
      if (error) failures.push({ index, id: messages[index]!.id, error });
    });
    if (failures.length > 0) {
      // 404: the exchange was deleted behind our back; declare it again next time
      if (failures.some((f) => replyCode(f.error.cause) === 404)) session.topology.forget(topic);
      throw new CarrierError(
        'PUBLISH_FAILED',
        `${failures.length} of ${messages.length} message(s) to ${topic} not confirmed: ${failures[0]!.error.message}`,
        { transport: TRANSPORT, cause: failures[0]!.error, failures },
      );
    }
  }

  /** Publish one copy and wait for its confirm. */
  async #publishCopy(session: Session, outgoing: Outgoing): Promise<void> {
    const [error] = await session.publisher.publish([outgoing]);
    if (error) throw error;
  }

  async #startConsumer(
    queue: string,
    prefetch: number,
    prepare: (session: Session, again: boolean) => Promise<void>,
    deliver: (message: ConsumeMessage, channel: Channel, session: Session) => void,
    holdUntilClose: () => boolean = () => false,
    giveBack?: (message: ConsumeMessage, channel: Channel, session: Session) => Promise<void>,
    hooks: Pick<QueueConsumerOptions, 'held' | 'beforeClose'> = {},
  ): Promise<TransportSubscription> {
    this.#ensureOpen();
    const consumer = new QueueConsumer({
      queue,
      prefetch,
      holdUntilClose,
      session: () => this.#current(),
      prepare,
      deliver,
      giveBack,
      ...hooks,
      onError: (error) => this.#onError(error),
    });
    this.#consumers.add(consumer);
    try {
      await consumer.start();
    } catch (error) {
      this.#consumers.delete(consumer);
      await consumer.close();
      throw error;
    }
    return {
      stop: () => consumer.stop(),
      close: async () => {
        this.#consumers.delete(consumer);
        await consumer.close();
      },
    };
  }

  subscribe(
    topic: string,
    group: string,
    options: TransportSubscribeOptions,
    sink: (delivery: Delivery) => void,
  ): Promise<TransportSubscription> {
    const queue = groupQueueName(topic, group);
    /** Whether the group queue has a single active consumer (set when the topology is declared). */
    let singleActive = options.ordered;
    /** Ids whose copy is on its way to the group queue while the original is not acked yet. */
    const copying = new Map<string, Promise<void>>();
    const track = (id: string, moving: Promise<void>): Promise<void> => {
      // amqplib writes channel frames on a later setImmediate: wait two turns so the ack has left the
      // process before the copy's handler runs (a handler that kills the process would lose it)
      const flushed = () => new Promise<void>((resolve) => setImmediate(() => setImmediate(resolve)));
      const settled = moving.then(flushed, flushed);
      copying.set(id, settled);
      void settled.then(() => {
        if (copying.get(id) === settled) copying.delete(id);
      });
      return moving;
    };
    const ledgers = new OrderedLedgers(
      releaseLedgerName(topic, group),
      this.#settings.queueType === 'classic' ? 'marker' : 'count',
      (records) => this.#publishRecords(releaseLedgerName(topic, group), records),
      (error) => this.#onError(error),
    );
    const deliver = (received: ConsumeMessage, channel: Channel) => {
      if (!singleActive) {
        this.#deliverGroup(topic, group, received, channel, false, 0, undefined, track, sink);
        return;
      }
      ledgers.receive(received, channel, (releases, ledger) =>
        this.#deliverGroup(topic, group, received, channel, true, releases, ledger, track, sink),
      );
    };
    return this.#startConsumer(
      queue,
      options.prefetch,
      async (session, again) => {
        if (again) session.topology.forget(topic, group);
        singleActive = (await session.topology.group(topic, group, options.ordered)) === 'ordered';
      },
      (received, channel) => {
        const { message } = decodeMessage(received);
        const moving = copying.get(message.id);
        if (moving) {
          // the copy of a delivery whose original is not acked yet: hand it over only once the ack
          // is sent, so that a crash in its handler cannot leave the original to be redelivered too
          void moving.then(() => deliver(received, channel));
          return;
        }
        deliver(received, channel);
      },
      () => singleActive,
      async (received, channel) => {
        // arrived after stop(): given back like a release, without charging an attempt
        const { message, attempt } = decodeMessage(received);
        await track(
          message.id,
          this.#settlement(topic, group, received, channel, message.id).requeueCopy(attempt),
        );
      },
      {
        held: (received, channel) => {
          if (singleActive) ledgers.receive(received, channel, () => {});
        },
        beforeClose: (channel) => ledgers.recordReleases(channel),
      },
    );
  }

  /** Store release records in an ordered group's ledger queue, with publisher confirms. */
  async #publishRecords(queue: string, records: readonly ReleaseRecord[]): Promise<void> {
    const session = await this.#current();
    const errors = await session.publisher.publish(
      records.map((record) => ({
        exchange: '',
        routingKey: queue,
        content: encodeRecord(record),
        options: { persistent: true, messageId: record.id, contentType: 'application/json' },
      })),
    );
    const failed = errors.find((error) => error !== undefined);
    if (failed) throw failed;
  }

  /**
   * Hand one group delivery to `sink` (see {@link subscribe}): `copying` holds the ids whose copy was
   * published to the group queue and whose original is not acked yet.
   */
  #deliverGroup(
    topic: string,
    group: string,
    received: ConsumeMessage,
    channel: Channel,
    singleActive: boolean,
    releases: number,
    ledger: ReleaseLedger | undefined,
    track: (id: string, moving: Promise<void>) => Promise<void>,
    sink: (delivery: Delivery) => void,
  ): void {
    const decoded = decodeMessage(received);
    const { message } = decoded;
    // returns the ledger says were releases are not attempts (see release-ledger.ts)
    const attempt = Math.max(1, decoded.attempt - releases);
    const settle = this.#settlement(topic, group, received, channel, message.id);
    const tag = received.fields.deliveryTag;
    const settled = <T>(done: Promise<T>): Promise<T> =>
      ledger
        ? done.then((value) => {
            ledger.settled(tag);
            return value;
          })
        : done;
    if (this.#settings.queueType === 'classic' && received.fields.redelivered && releases === 0) {
      // a classic queue only flags a redelivery (a consumer crashed or lost its channel): make the
      // count durable with a copy that carries it (attempt + 1), then drop the original unseen
      void settled(track(message.id, settle.requeueCopy(attempt))).catch((error: unknown) => {
        this.#onError(
          rabbitError(
            'CONNECTION',
            `cannot record the redelivery of ${message.id} (it stays in the queue): ${messageOf(error)}`,
            error,
          ),
        );
      });
      return;
    }
    sink({
      message,
      attempt,
      lease: leaseOf(channel),
      ack: () => settled(settleOn(channel, 'ack', () => channel.ack(received))),
      retry: (delayMs) => settled(track(message.id, settle.retry(delayMs, attempt + 1))),
      deadLetter: (info) => settled(settle.deadLetter(info, attempt)),
      // ordered (single active consumer): keep it until the channel closes, which gives it back
      // in queue order before the next member becomes active (see QueueConsumer.holdUntilClose),
      // with a release record (release-ledger.ts); otherwise a copy with the same attempt (the
      // broker would count a requeue as a delivery)
      release: singleActive ? () => Promise.resolve() : () => track(message.id, settle.requeueCopy(attempt)),
    });
  }

  /**
   * Settlements of one group delivery that move a copy: the copy is published (with a confirm) by
   * whichever connection is current, then the original is acked; if the copy is not stored the
   * original is given back with `basic.nack` (requeue) so it is not lost.
   */
  #settlement(topic: string, group: string, received: ConsumeMessage, channel: Channel, id: string) {
    const queue = groupQueueName(topic, group);
    const dlq = deadLetterQueueName(topic, group);
    const copy = async (
      target: { queue: string; delayLevel?: number },
      changes: { attempt: number | undefined; deadLetter: DeadLetterInfo | undefined },
    ) => {
      const session = await this.#current();
      if (target.delayLevel !== undefined) await session.topology.delayQueue(topic, group, target.delayLevel);
      await this.#publishCopy(session, {
        exchange: '',
        routingKey: target.queue,
        content: received.content,
        options: { ...copyProperties(received.properties, { id, ...changes }), messageId: id },
      });
    };
    const moveThenAck = async (what: string, move: () => Promise<void>) => {
      if (!isChannelOpen(channel)) {
        throw rabbitError(
          'CONNECTION',
          `cannot ${what}: the channel of this delivery is closed; the broker will redeliver it`,
        );
      }
      try {
        await move();
      } catch (error) {
        // the copy is not safely stored: give the original back so it is not lost
        await settleOn(channel, 'requeue', () => channel.nack(received, false, true)).catch(() => {});
        throw error;
      }
      await settleOn(channel, 'ack', () => channel.ack(received));
    };
    return {
      retry: (delayMs: number, nextAttempt: number) => {
        const level = delayLevel(delayMs);
        const target =
          level === 0 ? { queue } : { queue: delayQueueName(topic, group, level), delayLevel: level };
        return moveThenAck('retry', () => copy(target, { attempt: nextAttempt, deadLetter: undefined }));
      },
      deadLetter: (info: DeadLetterInfo, attempt: number) =>
        moveThenAck('dead-letter', () => copy({ queue: dlq }, { attempt, deadLetter: info })),
      /** Back to the group queue (at its tail) as a copy whose next delivery has attempt `nextAttempt`. */
      requeueCopy: (nextAttempt: number) =>
        moveThenAck('release', () => copy({ queue }, { attempt: nextAttempt, deadLetter: undefined })),
    };
  }

  subscribeDeadLetters(
    topic: string,
    group: string,
    options: Pick<TransportSubscribeOptions, 'prefetch'>,
    sink: (delivery: DeadLetterDelivery) => void,
  ): Promise<TransportSubscription> {
    return this.#startConsumer(
      deadLetterQueueName(topic, group),
      options.prefetch,
      async (session, again) => {
        if (again) session.topology.forget(topic, group);
        await session.topology.group(topic, group, false);
      },
      (received, channel) => {
        const { message, attempt, deadLetter } = decodeMessage(received);
        const headers = (received.properties.headers ?? {}) as Record<string, unknown>;
        const brokerReason = headerString(headers['x-first-death-reason']);
        sink({
          message,
          info: deadLetter ?? {
            reason: brokerReason === undefined ? 'unknown' : `dead-lettered by RabbitMQ: ${brokerReason}`,
            attempts: attempt,
            failedAt: new Date(0),
          },
          ack: () => settleOn(channel, 'ack', () => channel.ack(received)),
          release: () => settleOn(channel, 'release', () => channel.nack(received, false, true)),
        });
      },
    );
  }

  redrive(topic: string, group: string, max: number): Promise<number> {
    this.#ensureOpen();
    return this.#track(this.#redrive(topic, group, max));
  }

  async #redrive(topic: string, group: string, max: number): Promise<number> {
    const session = await this.#current();
    await session.topology.group(topic, group, false);
    const queue = groupQueueName(topic, group);
    const dlq = deadLetterQueueName(topic, group);
    let channel: Channel;
    try {
      channel = await session.model.createChannel();
    } catch (cause) {
      throw rabbitError('CONNECTION', `cannot open a channel to redrive ${dlq}: ${messageOf(cause)}`, cause);
    }
    channel.on('error', () => {
      // surfaces as a failed get or ack below
    });
    let moved = 0;
    try {
      while (moved < max) {
        const batch: GetMessage[] = [];
        while (batch.length < Math.min(REDRIVE_BATCH, max - moved)) {
          const got = await channel.get(dlq, { noAck: false });
          if (got === false) break;
          batch.push(got);
        }
        if (batch.length === 0) break;
        const outcomes = await session.publisher.publish(
          batch.map((got): Outgoing => {
            const { message } = decodeMessage(got);
            return {
              exchange: '',
              routingKey: queue,
              content: got.content,
              options: {
                ...copyProperties(got.properties, {
                  id: message.id,
                  attempt: undefined,
                  deadLetter: undefined,
                }),
                messageId: message.id,
              },
            };
          }),
        );
        const failed = outcomes.findIndex((error) => error !== undefined);
        for (const [index, got] of batch.entries()) {
          if (outcomes[index] === undefined) channel.ack(got);
          else channel.nack(got, false, true);
        }
        moved += outcomes.filter((error) => error === undefined).length;
        if (failed >= 0) {
          throw rabbitError(
            'PUBLISH_FAILED',
            `redrive of ${dlq} stopped after ${moved} message(s): ${outcomes[failed]!.message}`,
            outcomes[failed],
          );
        }
      }
    } catch (error) {
      if (error instanceof CarrierError) throw error;
      throw rabbitError(
        'CONNECTION',
        `redrive of ${dlq} failed after ${moved} message(s): ${messageOf(error)}`,
        error,
      );
    } finally {
      // closing waits for the broker to process the acks sent on this channel
      await channel.close().catch(() => {});
    }
    return moved;
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await Promise.allSettled([...this.#consumers].map((c) => c.close()));
    this.#consumers.clear();
    // let publishes and redrives in flight get their confirms; during an outage there is nothing to wait for
    if (this.#manager.current) await Promise.allSettled([...this.#inFlight]);
    await this.#manager.close();
  }

  async abort(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    for (const consumer of this.#consumers) consumer.abandon();
    this.#consumers.clear();
    this.#manager.abort();
  }
}
