import type { TransportSubscription } from '@carrier/core';
import { Backoff, type BackoffOptions, describeError, sleep } from '@carrier/core/kit';
import type { Channel, ConsumeMessage } from 'amqplib';
import { openChannel } from './connection.js';
import { rabbitError } from './errors.js';
import type { Session } from './session.js';

/**
 * Pauses before re-opening a receiver that failed: 200 ms doubling up to 5 000 ms, without jitter
 * (the connection's own reconnects are jittered, see `connection.ts`).
 */
const RESTART_BACKOFF: BackoffOptions = { initialMs: 200, maxMs: 5_000, jitter: 'none' };

/** What a {@link Receiver} does with its queue's deliveries; the subscription supplies it. */
export interface ReceiverHandlers {
  /**
   * Declares what the queue needs (topology), on every (re)start; `again` is true on a restart, when
   * cached declarations must not be trusted (the queue may have been deleted).
   */
  readonly prepare: (session: Session, again: boolean) => Promise<void>;
  /** Called for each delivery while the receiver runs; `channel` is the one to settle it on. */
  readonly deliver: (message: ConsumeMessage, channel: Channel, session: Session) => void;
  /**
   * Single-active-consumer queues: `stop()` does not cancel the consumer, and what arrives afterwards
   * is held unsettled until `close()` closes the channel. Cancelling would make the broker activate
   * the next member at once, while this one still works on earlier messages of the same keys; a
   * closed channel instead gives every unsettled delivery back, in queue order, before the hand-over.
   * Default: never.
   */
  readonly holdUntilClose?: (() => boolean) | undefined;
  /**
   * Give back a delivery that arrived after `stop()` and was never handed over (default: `basic.nack`
   * with requeue). `close()` waits for it before closing the channel.
   */
  readonly giveBack?:
    | ((message: ConsumeMessage, channel: Channel, session: Session) => Promise<void>)
    | undefined;
  /** Told of each delivery held after `stop()` (see `holdUntilClose`); closing the channel gives it back. */
  readonly held?: ((message: ConsumeMessage, channel: Channel) => void) | undefined;
  /**
   * Runs before `close()` closes the channel on purpose (not when the channel or connection is
   * lost); a rejection goes to `onError` and the channel is closed anyway.
   */
  readonly beforeClose?: ((channel: Channel) => Promise<void>) | undefined;
}

/** How a {@link Receiver} reaches the broker, and what it does with what it receives. */
export interface ReceiverOptions {
  /** What to do with the deliveries (called with `handlers` as `this`). */
  readonly handlers: ReceiverHandlers;
  /** The queue to consume. */
  readonly queue: string;
  /** Unacked deliveries the broker may push to this consumer (`basic.qos`, per consumer). */
  readonly prefetch: number;
  /** The current connection's session; waits during an outage (see `ConnectionManager.ready`). */
  readonly session: () => Promise<Session>;
  /** Problems with no caller: a receiver that had to be re-opened, a failed re-open. */
  readonly onError: (error: Error) => void;
}

const openChannels = new WeakSet<Channel>();
const leases = new WeakMap<Channel, AbortController>();

/**
 * The lease of every delivery received on a consumer channel: aborted (reason `LEASE_LOST`) when the
 * channel closes while deliveries may still be unsettled; the broker then redelivers them.
 */
export function leaseOf(channel: Channel): AbortSignal | undefined {
  return leases.get(channel)?.signal;
}

/** Whether a consumer channel is still open (amqplib throws when settling on a closed one). */
export function isChannelOpen(channel: Channel): boolean {
  return openChannels.has(channel);
}

/** The consumer tag of one channel, once `basic.consume` was answered. */
interface Consuming {
  tag: string | undefined;
}

/**
 * The receive loop of one subscription: one AMQP consumer on its own channel, so that a channel
 * error (a 406 on a bad ack, a consumer cancelled because its queue was deleted) affects nothing
 * else. When its channel or the connection is lost while it runs, it comes back by itself:
 * re-declares its topology and consumes again, with backoff, until stopped. Deliveries of a lost
 * channel can no longer be settled; the broker redelivers them.
 */
export class Receiver implements TransportSubscription {
  #channel: Channel | undefined;
  #consumerTag: string | undefined;
  #stopped = false;
  /** Aborted by stop() and abandon(): ends a restart's backoff pause at once. */
  readonly #stopping = new AbortController();
  #restarting = false;
  readonly #givingBack = new Set<Promise<void>>();
  #closing = false;

  constructor(private readonly options: ReceiverOptions) {}

  /** The consumer channel now (native access); undefined while reconnecting or once closed. */
  get channel(): Channel | undefined {
    return this.#channel;
  }

  /** The consumer tag on that channel (native access). */
  get consumerTag(): string | undefined {
    return this.#consumerTag;
  }

  /** Declare and start consuming on the current connection. */
  async start(): Promise<void> {
    await this.#open(await this.options.session(), false);
  }

  #holdUntilClose(): boolean {
    return this.options.handlers.holdUntilClose?.() ?? false;
  }

  async #open(session: Session, again: boolean): Promise<void> {
    await this.options.handlers.prepare(session, again);
    const consuming: Consuming = { tag: undefined };
    const channel = await this.#createChannel(session, consuming);
    try {
      await channel.prefetch(this.options.prefetch, false);
      const { consumerTag } = await channel.consume(
        this.options.queue,
        (message) => this.#receive(message, channel, session),
        { noAck: false },
      );
      consuming.tag = consumerTag;
      this.#consumerTag = consumerTag;
    } catch (cause) {
      if (this.#channel === channel) this.#channel = undefined;
      await channel.close().catch(() => {});
      throw rabbitError('CONNECTION', `cannot consume ${this.options.queue}: ${describeError(cause)}`, cause);
    }
    if (this.#stopped && !this.#holdUntilClose()) {
      // stopped while starting: nothing was handed over that needs this channel
      await channel.cancel(this.#consumerTag).catch(() => {});
    }
  }

  /**
   * Open the consumer channel (made current) with its lease; when it closes, the lease is lost and
   * the receiver restarts.
   */
  async #createChannel(session: Session, consuming: Consuming): Promise<Channel> {
    const channel = await openChannel(session.model, `consume ${this.options.queue}`);
    openChannels.add(channel);
    const lease = new AbortController();
    leases.set(channel, lease);
    channel.on('close', () => {
      openChannels.delete(channel);
      if (!this.#closing)
        lease.abort(
          rabbitError(
            'LEASE_LOST',
            `the channel consuming ${this.options.queue} closed: its unsettled deliveries go back to the queue`,
          ),
        );
      // deliveries the broker had already sent to this consumer must not reach a reused channel number
      if (consuming.tag !== undefined) session.strays.retire(consuming.tag);
      if (this.#channel !== channel) return;
      this.#channel = undefined;
      this.#consumerTag = undefined;
      // a channel lost while opening is the opener's failure to handle (start() or the restart loop)
      if (!this.#stopped && consuming.tag !== undefined) this.restart();
    });
    this.#channel = channel;
    return channel;
  }

  /** One `basic.deliver` (or the broker's cancel, `null`) on `channel`. */
  #receive(message: ConsumeMessage | null, channel: Channel, session: Session): void {
    if (message === null) {
      // the broker cancelled the consumer (queue deleted): start over on a new channel
      this.options.onError(
        rabbitError(
          'CONNECTION',
          `the broker cancelled the consumer of ${this.options.queue}; re-subscribing`,
        ),
      );
      void channel.close().catch(() => {});
      return;
    }
    if (this.#stopped && this.#holdUntilClose() && this.#channel === channel) {
      this.options.handlers.held?.(message, channel);
      return; // held: closing the channel gives it back (see holdUntilClose)
    }
    if (this.#stopped || this.#channel !== channel) {
      this.#giveBack(message, channel, session);
      return;
    }
    this.options.handlers.deliver(message, channel, session);
  }

  /** A delivery that arrived after stop(): give it back at once. */
  #giveBack(message: ConsumeMessage, channel: Channel, session: Session): void {
    if (this.options.handlers.giveBack && this.#channel === channel) {
      const given = this.options.handlers.giveBack(message, channel, session).catch(() => {
        // not given back: closing the channel requeues it
      });
      this.#givingBack.add(given);
      void given.finally(() => this.#givingBack.delete(given));
      return;
    }
    try {
      channel.nack(message, false, true);
    } catch {
      // channel gone: the broker requeues it
    }
  }

  /**
   * Re-open after the channel or the connection was lost (idempotent while a restart runs). Retries
   * with backoff until it succeeds or the receiver is stopped.
   */
  restart(): void {
    if (this.#stopped || this.#restarting) return;
    this.#restarting = true;
    void this.#reopen().finally(() => {
      this.#restarting = false;
    });
  }

  async #reopen(): Promise<void> {
    const backoff = new Backoff(RESTART_BACKOFF);
    while (!this.#stopped) {
      try {
        const session = await this.options.session();
        if (this.#stopped) return;
        if (this.#channel) return; // already consuming
        await this.#open(session, true);
        return;
      } catch (error) {
        if (this.#stopped) return;
        this.options.onError(
          rabbitError(
            'CONNECTION',
            `re-subscribing to ${this.options.queue} failed; retrying: ${describeError(error)}`,
            error,
          ),
        );
      }
      await sleep(backoff.next(), this.#stopping.signal);
    }
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    this.#stopping.abort();
    if (this.#holdUntilClose()) return;
    const channel = this.#channel;
    const tag = this.#consumerTag;
    if (channel && tag) await channel.cancel(tag).catch(() => {});
  }

  async close(): Promise<void> {
    await this.stop();
    await Promise.all([...this.#givingBack]);
    // core settled every delivery before close: closing the channel takes no lease away
    this.#closing = true;
    const channel = this.#channel;
    if (!channel) return;
    if (this.options.handlers.beforeClose) {
      // the channel stays current meanwhile: what still arrives is held (and recorded) like the rest
      await this.options.handlers
        .beforeClose(channel)
        .catch((error: unknown) => this.options.onError(error as Error));
    }
    this.#channel = undefined;
    await channel.close().catch(() => {});
  }

  /** Forget the channel without closing it (the connection is being dropped). */
  abandon(): void {
    this.#stopped = true;
    this.#stopping.abort();
    this.#channel = undefined;
  }
}
