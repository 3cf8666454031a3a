import type { ReplyDestination, WireMessage } from '@carrier/core';
import type { Channel, ConsumeMessage } from 'amqplib';
import { decodeMessage, encodeMessage } from './wire.js';

/**
 * RabbitMQ's direct reply-to pseudo-queue (https://www.rabbitmq.com/docs/direct-reply-to): a
 * request published with `reply_to: amq.rabbitmq.reply-to` on a channel that consumes it (no-ack)
 * has its `reply_to` rewritten by the broker to an address of that channel
 * (`amq.rabbitmq.reply-to.<token>`); a reply published to the default exchange with that routing
 * key goes straight to the channel, through no queue. When the channel is gone the broker drops the
 * reply: nothing piles up.
 */
export const DIRECT_REPLY_TO = 'amq.rabbitmq.reply-to';

/**
 * The connection's reply destination, shared by every session (a reconnection opens a new
 * publishing channel, which consumes the pseudo-queue again before its first publish). Replies that
 * were on their way to the old channel are lost: their requests time out.
 */
export class ReplyConsumer {
  #sink: ((reply: WireMessage) => void) | undefined;
  readonly #tags = new Map<Channel, string>();

  /** Whether a destination is open: a publishing channel must consume replies before publishing. */
  get active(): boolean {
    return this.#sink !== undefined;
  }

  /** Start consuming replies on `channel` (the publishing channel), once. */
  async attach(channel: Channel): Promise<void> {
    if (!this.#sink || this.#tags.has(channel)) return;
    const { consumerTag } = await channel.consume(DIRECT_REPLY_TO, (msg) => this.#accept(msg), {
      noAck: true,
    });
    this.#tags.set(channel, consumerTag);
    channel.once('close', () => this.#tags.delete(channel));
  }

  #accept(msg: ConsumeMessage | null): void {
    if (!msg) return;
    this.#sink?.(decodeMessage(msg).message);
  }

  /** Open the destination; `attach` the current publishing channel so it takes effect at once. */
  async open(sink: (reply: WireMessage) => void, channel: () => Promise<Channel>): Promise<ReplyDestination> {
    this.#sink = sink;
    await this.attach(await channel());
    return { address: DIRECT_REPLY_TO, close: () => this.close() };
  }

  /** Stop consuming replies (requests published after this would be refused by the broker). */
  async close(): Promise<void> {
    this.#sink = undefined;
    const tags = [...this.#tags];
    this.#tags.clear();
    await Promise.allSettled(tags.map(([channel, tag]) => channel.cancel(tag)));
  }
}

/** AMQP publish options of a reply: transient, not mandatory (a reply nobody takes is dropped, not an error). */
export function replyOptions(message: WireMessage) {
  return { ...encodeMessage(message), messageId: message.id, persistent: false, mandatory: false };
}
