import type { TransportSubscription } from '@carrier/core';
import type { Channel, ConsumeMessage } from 'amqplib';
import { messageOf, rabbitError } from './errors.js';
import type { Session } from './session.js';

/** First pause before re-opening a consumer that failed, in ms (doubles up to {@link MAX_RESTART_DELAY_MS}). */
const INITIAL_RESTART_DELAY_MS = 200;
const MAX_RESTART_DELAY_MS = 5_000;

/** How a {@link QueueConsumer} reaches the broker and hands over what it receives. */
export interface QueueConsumerOptions {
  /** The queue to consume. */
  readonly queue: string;
  /** Unacked deliveries the broker may push to this consumer (`basic.qos`, per consumer). */
  readonly prefetch: number;
  /** The current connection's session; waits during an outage (see `ConnectionManager.ready`). */
  readonly session: () => Promise<Session>;
  /**
   * Declares what the queue needs (topology), on every (re)start; `again` is true on a restart, when
   * cached declarations must not be trusted (the queue may have been deleted).
   */
  readonly prepare: (session: Session, again: boolean) => Promise<void>;
  /** Called for each delivery while the consumer runs; `channel` is the one to settle it on. */
  readonly deliver: (message: ConsumeMessage, channel: Channel, session: Session) => void;
  /** Problems with no caller: a consumer that had to be re-opened, a failed re-open. */
  readonly onError: (error: Error) => void;
  /**
   * Single-active-consumer queues: `stop()` does not cancel the consumer, and what arrives afterwards
   * is held unsettled until `close()` closes the channel. Cancelling would make the broker activate
   * the next member at once, while this one still works on earlier messages of the same keys; a
   * closed channel instead gives every unsettled delivery back, in queue order, before the hand-over.
   */
  readonly holdUntilClose: () => boolean;
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

/**
 * One consumer on its own channel, so that a channel error (a 406 on a bad ack, a consumer cancelled
 * because its queue was deleted) affects nothing else. When its channel or the connection is lost
 * while it runs, it comes back by itself: re-declares its topology and consumes again, with backoff,
 * until stopped. Deliveries of a lost channel can no longer be settled; the broker redelivers them.
 */
export class QueueConsumer implements TransportSubscription {
  #channel: Channel | undefined;
  #consumerTag: string | undefined;
  #stopped = false;
  #restarting = false;
  #restartTimer: NodeJS.Timeout | undefined;
  #wake: (() => void) | undefined;
  readonly #givingBack = new Set<Promise<void>>();
  #closing = false;

  constructor(private readonly options: QueueConsumerOptions) {}

  /** Whether it was stopped (then it never restarts). */
  get stopped(): boolean {
    return this.#stopped;
  }

  /** Declare and start consuming on the current connection. */
  async start(): Promise<void> {
    await this.#open(await this.options.session(), false);
  }

  async #open(session: Session, again: boolean): Promise<void> {
    await this.options.prepare(session, again);
    let channel: Channel;
    try {
      channel = await session.model.createChannel();
    } catch (cause) {
      throw rabbitError(
        'CONNECTION',
        `cannot open a channel to consume ${this.options.queue}: ${messageOf(cause)}`,
        cause,
      );
    }
    channel.on('error', () => {
      // followed by 'close', handled below
    });
    openChannels.add(channel);
    const lease = new AbortController();
    leases.set(channel, lease);
    let tag: string | undefined;
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
      if (tag !== undefined) session.strays.retire(tag);
      if (this.#channel !== channel) return;
      this.#channel = undefined;
      this.#consumerTag = undefined;
      // a channel lost while opening is the opener's failure to handle (start() or the restart loop)
      if (!this.#stopped && tag !== undefined) this.restart();
    });
    this.#channel = channel;
    try {
      await channel.prefetch(this.options.prefetch, false);
      const { consumerTag } = await channel.consume(
        this.options.queue,
        (message) => {
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
          if (this.#stopped && this.options.holdUntilClose() && this.#channel === channel) {
            this.options.held?.(message, channel);
            return; // held: closing the channel gives it back (see holdUntilClose)
          }
          if (this.#stopped || this.#channel !== channel) {
            // arrived after stop(): give it back at once
            if (this.options.giveBack && this.#channel === channel) {
              const given = this.options.giveBack(message, channel, session).catch(() => {
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
            return;
          }
          this.options.deliver(message, channel, session);
        },
        { noAck: false },
      );
      tag = consumerTag;
      this.#consumerTag = consumerTag;
    } catch (cause) {
      if (this.#channel === channel) this.#channel = undefined;
      await channel.close().catch(() => {});
      throw rabbitError('CONNECTION', `cannot consume ${this.options.queue}: ${messageOf(cause)}`, cause);
    }
    if (this.#stopped && !this.options.holdUntilClose()) {
      // stopped while starting: nothing was handed over that needs this channel
      await channel.cancel(this.#consumerTag).catch(() => {});
    }
  }

  /**
   * Re-open after the channel or the connection was lost (idempotent while a restart runs). Retries
   * with backoff until it succeeds or the consumer is stopped.
   */
  restart(): void {
    if (this.#stopped || this.#restarting) return;
    this.#restarting = true;
    void (async () => {
      let delay = INITIAL_RESTART_DELAY_MS;
      try {
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
                `re-subscribing to ${this.options.queue} failed; retrying: ${messageOf(error)}`,
                error,
              ),
            );
          }
          await new Promise<void>((resolve) => {
            this.#wake = resolve;
            this.#restartTimer = setTimeout(resolve, delay);
          });
          delay = Math.min(delay * 2, MAX_RESTART_DELAY_MS);
        }
      } finally {
        this.#restarting = false;
      }
    })();
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    if (this.#restartTimer) clearTimeout(this.#restartTimer);
    this.#wake?.();
    if (this.options.holdUntilClose()) return;
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
    if (this.options.beforeClose) {
      // the channel stays current meanwhile: what still arrives is held (and recorded) like the rest
      await this.options.beforeClose(channel).catch((error: unknown) => this.options.onError(error as Error));
    }
    this.#channel = undefined;
    await channel.close().catch(() => {});
  }

  /** Forget the channel without closing it (the connection is being dropped). */
  abandon(): void {
    this.#stopped = true;
    if (this.#restartTimer) clearTimeout(this.#restartTimer);
    this.#wake?.();
    this.#channel = undefined;
  }
}
