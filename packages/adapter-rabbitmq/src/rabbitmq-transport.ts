import type {
  Capabilities,
  ConsumerLag,
  DeadLetterDelivery,
  DeclareOptions,
  Delivery,
  NativeAnswer,
  NativeToken,
  ReplyDestination,
  Transport,
  TransportSubscribeOptions,
  TransportSubscription,
  WireMessage,
} from '@carrier/core';
import { DeadlineError, withDeadline } from '@carrier/core/kit';
import { type ConnectionManager, openChannel } from './connection.js';
import { rabbitError, replyCode, TRANSPORT } from './errors.js';
import { deadLetterQueueName, groupQueueName } from './names.js';
import { native } from './native.js';
import { publishToTopic } from './producer.js';
import { Receiver, type ReceiverHandlers } from './receiver.js';
import { redrive } from './redrive.js';
import { ReplyConsumer, replyOptions } from './replies.js';
import { Session } from './session.js';
import { deadLetterDeliveries, GroupDeliveries } from './settlement.js';
import type { RabbitSettings } from './url.js';

/** What {@link createTransport} (factory.ts) built for a transport. */
export interface RabbitParts {
  readonly settings: RabbitSettings;
  /** The connection, already open. */
  readonly manager: ConnectionManager;
  /** The transport's receivers; the manager restarts them after a reconnection. */
  readonly receivers: Set<Receiver>;
  readonly capabilities: Capabilities;
  readonly onError: (error: Error) => void;
}

/**
 * Carrier over RabbitMQ (AMQP 0-9-1 with amqplib). See docs/brokers/rabbitmq.md for the topology it
 * creates, the wire format and the delivery semantics. One AMQP connection, re-established with
 * backoff when lost; one confirm channel for publishing, one channel per receiver, and a short-lived
 * channel per declaration. Built by `createTransport` (factory.ts).
 */
/** Deadline of the passive queue declaration that reads a group's lag, in ms. */
const LAG_TIMEOUT_MS = 10_000;

export class RabbitTransport implements Transport {
  readonly name = TRANSPORT;
  /** OpenTelemetry `messaging.system` (registered value). */
  readonly system = 'rabbitmq';
  readonly capabilities: Capabilities;
  readonly #settings: RabbitSettings;
  readonly #onError: (error: Error) => void;
  readonly #manager: ConnectionManager;
  readonly #receivers: Set<Receiver>;
  readonly #inFlight = new Set<Promise<unknown>>();
  /** Direct reply-to on the publishing channel, kept across reconnections. */
  readonly #replies = new ReplyConsumer();
  #session: Session | undefined;
  #closed = false;

  constructor(parts: RabbitParts) {
    this.#settings = parts.settings;
    this.#manager = parts.manager;
    this.#receivers = parts.receivers;
    this.capabilities = parts.capabilities;
    this.#onError = parts.onError;
  }

  #ensureOpen(): void {
    if (this.#closed) throw rabbitError('CLOSED', 'rabbitmq connection is closed');
  }

  /** The current connection's session, waiting for a reconnection if needed. */
  async #current(): Promise<Session> {
    this.#ensureOpen();
    const model = await this.#manager.ready();
    if (!this.#session || this.#session.model !== model) {
      this.#session = new Session(model, this.#settings.queueType, this.#replies);
    }
    return this.#session;
  }

  #track<T>(promise: Promise<T>): Promise<T> {
    this.#inFlight.add(promise);
    const forget = () => this.#inFlight.delete(promise);
    promise.then(forget, forget);
    return promise;
  }

  /**
   * The topic's exchange and each group's queues. `options.ordered: true` creates a new group's
   * queue with `x-single-active-consumer` (so an ordered group exists before its first member);
   * `ordered` given (true or false) and an existing queue in the other mode: `TOPOLOGY_CONFLICT`.
   * `ordered` absent accepts either. `startFrom` can only be `'now'` here (`capabilities.replay` is
   * false: a queue holds only what was published while it was bound).
   */
  async declare(topic: string, groups: readonly string[], options: DeclareOptions = {}): Promise<void> {
    if (options.startFrom === 'earliest') {
      throw rabbitError('UNSUPPORTED', 'rabbitmq keeps no history for a new group (startFrom: earliest)');
    }
    const session = await this.#current();
    await session.topology.exchange(topic);
    const ordered = options.ordered ?? false;
    const strict = options.ordered !== undefined;
    await Promise.all(groups.map((group) => session.topology.group(topic, group, ordered, strict)));
  }

  publish(topic: string, messages: readonly WireMessage[]): Promise<void> {
    this.#ensureOpen();
    return this.#track(publishToTopic(() => this.#current(), topic, messages));
  }

  /**
   * Direct reply-to (`amq.rabbitmq.reply-to`), consumed on the publishing channel, where the
   * requests go out: see docs/brokers/rabbitmq.md, "Request/reply".
   */
  async openReplies(sink: (reply: WireMessage) => void): Promise<ReplyDestination> {
    this.#ensureOpen();
    return this.#replies.open(sink, async () => (await this.#current()).publisher.channel());
  }

  /**
   * Publish a reply to the default exchange with routing key `address` (a direct reply-to address,
   * or a native requester's reply queue): transient and not mandatory, so a reply whose requester is
   * gone is dropped by the broker rather than refused.
   */
  reply(address: string, message: WireMessage): Promise<void> {
    this.#ensureOpen();
    return this.#track(
      (async () => {
        const session = await this.#current();
        const outgoing = {
          exchange: '',
          routingKey: address,
          content: Buffer.from(message.body),
          options: replyOptions(message),
        };
        const [error] = await session.publisher.publish([outgoing]);
        if (error) throw error;
      })(),
    );
  }

  async #receive(
    queue: string,
    prefetch: number,
    handlers: ReceiverHandlers,
  ): Promise<TransportSubscription> {
    this.#ensureOpen();
    const receiver = new Receiver({
      queue,
      prefetch,
      handlers,
      session: () => this.#current(),
      onError: (error) => this.#onError(error),
    });
    this.#receivers.add(receiver);
    try {
      await receiver.start();
    } catch (error) {
      this.#receivers.delete(receiver);
      await receiver.close();
      throw error;
    }
    return {
      native: (token) => {
        if (token !== native.subscription) return undefined;
        return native.subscription.wrap({
          queue,
          get channel() {
            return receiver.channel;
          },
          get consumerTag() {
            return receiver.consumerTag;
          },
        });
      },
      stop: () => receiver.stop(),
      close: async () => {
        this.#receivers.delete(receiver);
        await receiver.close();
      },
    };
  }

  /** Native access (`carrier.as(native.connection)`): the current amqplib connection. */
  native(token: NativeToken<unknown>): NativeAnswer | undefined {
    if (token !== native.connection) return undefined;
    return native.connection.wrap({
      connection: async () => {
        this.#ensureOpen();
        return this.#manager.ready();
      },
    });
  }

  subscribe(
    topic: string,
    group: string,
    options: TransportSubscribeOptions,
    sink: (delivery: Delivery) => void,
  ): Promise<TransportSubscription> {
    const context = {
      topic,
      group,
      queueType: this.#settings.queueType,
      session: () => this.#current(),
      onError: (error: Error) => this.#onError(error),
    };
    const deliveries = new GroupDeliveries(context, options.ordered, sink);
    return this.#receive(groupQueueName(topic, group), options.prefetch, deliveries);
  }

  subscribeDeadLetters(
    topic: string,
    group: string,
    options: Pick<TransportSubscribeOptions, 'prefetch'>,
    sink: (delivery: DeadLetterDelivery) => void,
  ): Promise<TransportSubscription> {
    const handlers = deadLetterDeliveries(topic, group, sink);
    return this.#receive(deadLetterQueueName(topic, group), options.prefetch, handlers);
  }

  redrive(topic: string, group: string, max: number): Promise<number> {
    this.#ensureOpen();
    return this.#track(this.#current().then((session) => redrive(session, topic, group, max)));
  }

  /**
   * The group's lag: the `message-count` of a passive declaration of its queue (`queue.declare`
   * with `passive`, AMQP 0-9-1 §1.7.2.1), which counts the messages ready for delivery only.
   * Deliveries in flight (unacknowledged) and retries waiting in the delay queues are not
   * included: AMQP does not report them (the management API's `messages_unacknowledged` does).
   * Dead letters are not counted. Nothing is created.
   *
   * @throws CarrierError `INVALID_ARGUMENT` when the group's queue does not exist (404);
   *   `TIMEOUT` after 10 s without an answer; `CONNECTION`, `CLOSED`.
   */
  lag(topic: string, group: string, signal?: AbortSignal): Promise<ConsumerLag> {
    this.#ensureOpen();
    const queue = groupQueueName(topic, group);
    return this.#track(
      (async () => {
        const session = await this.#current();
        const channel = await openChannel(session.model, `read the lag of ${queue}`);
        try {
          const ok = await withDeadline(
            { what: `passive declare of ${queue}`, ms: LAG_TIMEOUT_MS, signal },
            () => channel.checkQueue(queue),
          );
          return { messages: ok.messageCount, source: 'rabbitmq queue messages_ready (passive declare)' };
        } catch (cause) {
          if (replyCode(cause) === 404)
            throw rabbitError(
              'INVALID_ARGUMENT',
              `no group ${group} on topic ${topic} (queue ${queue})`,
              cause,
            );
          const code = cause instanceof DeadlineError ? 'TIMEOUT' : 'CONNECTION';
          throw rabbitError(code, `cannot read the lag of ${queue}: ${String(cause)}`, cause);
        } finally {
          await channel.close().catch(() => {});
        }
      })(),
    );
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await this.#replies.close();
    await Promise.allSettled([...this.#receivers].map((receiver) => receiver.close()));
    this.#receivers.clear();
    // let publishes and redrives in flight get their confirms; during an outage there is nothing to wait for
    if (this.#manager.current) await Promise.allSettled([...this.#inFlight]);
    await this.#manager.close();
  }

  async abort(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    for (const receiver of this.#receivers) receiver.abandon();
    this.#receivers.clear();
    this.#manager.abort();
  }
}
