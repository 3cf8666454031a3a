import type { ChannelModel } from 'amqplib';

/** `basic.deliver` method id (class 60, method 60), as amqplib numbers frames. */
const BASIC_DELIVER = (60 << 16) | 60;

interface Frame {
  readonly channel: number;
  readonly id?: number;
  readonly size?: number;
  readonly content?: Buffer;
  readonly fields?: { readonly consumerTag?: unknown };
}

interface FrameAcceptor {
  accept?: (this: unknown, frame: Frame) => unknown;
}

/**
 * Drops deliveries addressed to consumers whose channel is already closed.
 *
 * Why: when RabbitMQ (seen on 3.10) closes a channel with an error (say 406 on an unknown delivery
 * tag), deliveries already on their way can still arrive on that channel number after its
 * `channel.close`. amqplib has then forgotten the channel, and either closes the whole connection
 * ("Frame on unknown channel") or, if the number was already reused for a new channel, fails that
 * channel or the connection ("Unknown consumer"). One channel error would so take every subscription
 * of the connection down with it. Consumer tags are unique per connection, so a `basic.deliver` for a
 * retired tag, with its header and body frames, can be recognised and dropped safely: the broker
 * requeues the message when the channel closes.
 *
 * This wraps amqplib's internal frame dispatcher (`connection.accept`, amqplib 2.x); if that is not
 * there, it does nothing.
 */
export class StrayDeliveryFilter {
  readonly #retired = new Set<string>();
  /** Channel number → body bytes still to drop of a stray delivery. */
  readonly #skipping = new Map<number, number>();
  /** Stray deliveries dropped so far. */
  dropped = 0;

  constructor(model: ChannelModel) {
    const connection = (model as unknown as { connection: FrameAcceptor }).connection;
    const inner = connection.accept;
    if (typeof inner !== 'function') return;
    const filter = this;
    connection.accept = function (this: unknown, frame: Frame) {
      if (filter.#drop(frame)) return undefined;
      return inner.call(this, frame);
    };
  }

  /** Consumer `tag` will never be used again: drop whatever still arrives for it. */
  retire(tag: string): void {
    this.#retired.add(tag);
  }

  #drop(frame: Frame): boolean {
    const remaining = this.#skipping.get(frame.channel);
    if (remaining !== undefined) {
      if (frame.id === undefined && frame.content !== undefined) {
        // a body frame of the stray delivery
        const left = remaining - frame.content.length;
        if (left <= 0) this.#skipping.delete(frame.channel);
        else this.#skipping.set(frame.channel, left);
        return true;
      }
      if (frame.id !== undefined && frame.size !== undefined && frame.fields !== undefined && remaining < 0) {
        // its header frame: now we know how many body bytes follow
        if (frame.size === 0) this.#skipping.delete(frame.channel);
        else this.#skipping.set(frame.channel, frame.size);
        return true;
      }
      this.#skipping.delete(frame.channel);
    }
    const tag = frame.fields?.consumerTag;
    if (frame.id === BASIC_DELIVER && typeof tag === 'string' && this.#retired.has(tag)) {
      this.dropped++;
      this.#skipping.set(frame.channel, -1); // header frame expected next
      return true;
    }
    return false;
  }
}
