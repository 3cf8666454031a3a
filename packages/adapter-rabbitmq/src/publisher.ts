import type { ChannelModel, ConfirmChannel, Message, Options } from 'amqplib';
import { messageOf, rabbitError } from './errors.js';

/** One AMQP publish: where to, what, and with which properties (`messageId` must be set). */
export interface Outgoing {
  readonly exchange: string;
  readonly routingKey: string;
  readonly content: Buffer;
  readonly options: Options.Publish & { readonly messageId: string };
}

interface Pending {
  readonly messageId: string;
  returned: Error | undefined;
}

/** What is known about one publishing channel. */
interface ChannelState {
  /** In publish order: used to attach a `basic.return` to its message. */
  readonly pending: Pending[];
  /** Why the broker closed the channel (e.g. 406 above `max_message_size`), if it did. */
  closeError: Error | undefined;
}

/**
 * Publishes on one confirm channel of one connection. Each message resolves with `undefined` when
 * the broker acked it and was not returned as unroutable (every publish is `mandatory`), or with the
 * error otherwise: nack, `basic.return`, channel or connection closed before the confirm. A channel
 * closed by a channel error (e.g. a message above the server's `max_message_size`) fails only the
 * messages pending on it; the next publish opens a new channel.
 */
export class Publisher {
  #channel: Promise<ConfirmChannel> | undefined;
  readonly #states = new Map<ConfirmChannel, ChannelState>();

  constructor(private readonly model: ChannelModel) {}

  #open(): Promise<ConfirmChannel> {
    this.#channel ??= (async () => {
      const channel = await this.model.createConfirmChannel();
      const state: ChannelState = { pending: [], closeError: undefined };
      const pending = state.pending;
      this.#states.set(channel, state);
      channel.on('error', (error: Error) => {
        // emitted before the close fails the pending confirms: they report this as their cause
        state.closeError = error;
      });
      channel.on('return', (message: Message) => {
        const id = message.properties.messageId as unknown;
        const entry = pending.find((p) => p.messageId === id && p.returned === undefined);
        if (entry) {
          const fields = message.fields as unknown as { replyCode?: number; replyText?: string };
          const reason = `${fields.replyCode ?? ''} ${fields.replyText ?? ''}`.trim();
          entry.returned = rabbitError(
            'PUBLISH_FAILED',
            `message ${String(id)} is unroutable (${reason}): no queue is bound`,
          );
        }
      });
      channel.on('close', () => {
        this.#states.delete(channel);
        if (this.#channel === opened) this.#channel = undefined;
      });
      return channel;
    })();
    const opened = this.#channel;
    opened.catch(() => {
      if (this.#channel === opened) this.#channel = undefined;
    });
    return opened;
  }

  /** Publish every message; resolves per message with `undefined` (confirmed) or the reason it was not. */
  async publish(messages: readonly Outgoing[]): Promise<(Error | undefined)[]> {
    let channel: ConfirmChannel;
    try {
      channel = await this.#open();
    } catch (cause) {
      const error = rabbitError('CONNECTION', `cannot open a publishing channel: ${messageOf(cause)}`, cause);
      return messages.map(() => error);
    }
    const state: ChannelState = this.#states.get(channel) ?? { pending: [], closeError: undefined };
    const pending = state.pending;
    const outcomes: Promise<Error | undefined>[] = [];
    for (const message of messages) {
      const entry: Pending = { messageId: message.options.messageId, returned: undefined };
      let writable = true;
      const outcome = new Promise<Error | undefined>((resolve) => {
        try {
          pending.push(entry);
          writable = channel.publish(
            message.exchange,
            message.routingKey,
            message.content,
            message.options,
            (err) => {
              const index = pending.indexOf(entry);
              if (index >= 0) pending.splice(index, 1);
              if (err) {
                const cause = state.closeError ?? err;
                resolve(
                  rabbitError(
                    'PUBLISH_FAILED',
                    `message ${entry.messageId} was not confirmed: ${messageOf(cause)}`,
                    cause,
                  ),
                );
              } else resolve(entry.returned);
            },
          );
        } catch (cause) {
          const index = pending.indexOf(entry);
          if (index >= 0) pending.splice(index, 1);
          resolve(
            rabbitError(
              'PUBLISH_FAILED',
              `message ${entry.messageId} could not be sent: ${messageOf(cause)}`,
              cause,
            ),
          );
        }
      });
      outcomes.push(outcome);
      if (!writable) await drained(channel);
    }
    return Promise.all(outcomes);
  }
}

/** Resolves when the channel's write buffer drained, or it closed. */
function drained(channel: ConfirmChannel): Promise<void> {
  return new Promise((resolve) => {
    const done = () => {
      channel.off('drain', done);
      channel.off('close', done);
      resolve();
    };
    channel.on('drain', done);
    channel.on('close', done);
  });
}
