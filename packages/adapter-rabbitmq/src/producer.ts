import { CarrierError, type WireMessage } from '@carrier/core';
import { describeError, nothingPublished, publishFailed } from '@carrier/core/kit';
import type { ChannelModel, ConfirmChannel, Message, Options } from 'amqplib';
import { rabbitError, replyCode, TRANSPORT } from './errors.js';
import { exchangeName } from './names.js';
import type { ReplyConsumer } from './replies.js';
import type { Session } from './session.js';
import { encodeMessage, routingKeyFor } from './wire.js';

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

  constructor(
    private readonly model: ChannelModel,
    private readonly replies?: ReplyConsumer,
  ) {}

  /** The publishing channel (opened if need be): request/reply consumes replies on it. */
  channel(): Promise<ConfirmChannel> {
    return this.#open();
  }

  #open(): Promise<ConfirmChannel> {
    this.#channel ??= (async () => {
      const channel = await this.model.createConfirmChannel();
      // direct reply-to: the channel that publishes requests must consume the replies first
      if (this.replies?.active) await this.replies.attach(channel);
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
      const error = rabbitError(
        'CONNECTION',
        `cannot open a publishing channel: ${describeError(cause)}`,
        cause,
      );
      return messages.map(() => error);
    }
    const state: ChannelState = this.#states.get(channel) ?? { pending: [], closeError: undefined };
    const outcomes: Promise<Error | undefined>[] = [];
    for (const message of messages) {
      const { outcome, writable } = send(channel, state, message);
      outcomes.push(outcome);
      if (!writable) await drained(channel);
    }
    return Promise.all(outcomes);
  }
}

/**
 * Publish one message on `channel`: `outcome` resolves with `undefined` once confirmed (and not
 * returned), else with the error; `writable` is false when the channel's write buffer is full.
 */
function send(
  channel: ConfirmChannel,
  state: ChannelState,
  message: Outgoing,
): { outcome: Promise<Error | undefined>; writable: boolean } {
  const pending = state.pending;
  const entry: Pending = { messageId: message.options.messageId, returned: undefined };
  const forget = () => {
    const index = pending.indexOf(entry);
    if (index >= 0) pending.splice(index, 1);
  };
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
          forget();
          if (!err) return resolve(entry.returned);
          const cause = state.closeError ?? err;
          resolve(
            rabbitError(
              'PUBLISH_FAILED',
              `message ${entry.messageId} was not confirmed: ${describeError(cause)}`,
              cause,
            ),
          );
        },
      );
    } catch (cause) {
      forget();
      resolve(
        rabbitError(
          'PUBLISH_FAILED',
          `message ${entry.messageId} could not be sent: ${describeError(cause)}`,
          cause,
        ),
      );
    }
  });
  return { outcome, writable };
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

function asBuffer(bytes: Uint8Array): Buffer {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

/**
 * Publish `messages` to the topic's exchange (declared first, once per connection) on the
 * session's confirm channel, and wait for every confirm.
 *
 * @throws CarrierError `CLOSED` once the transport is closed; `PUBLISH_FAILED` naming the messages
 *   not confirmed (all of them when the exchange could not be declared or the connection did not
 *   come back within `recoveryTimeoutMs`).
 */
export async function publishToTopic(
  current: () => Promise<Session>,
  topic: string,
  messages: readonly WireMessage[],
): Promise<void> {
  let session: Session;
  try {
    session = await current();
    await session.topology.exchange(topic);
  } catch (error) {
    if (error instanceof CarrierError && error.code === 'CLOSED') throw error;
    throw nothingPublished(TRANSPORT, topic, messages, error);
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
  const failed = [...outcomes.entries()].filter((entry): entry is [number, Error] => entry[1] !== undefined);
  if (failed.length === 0) return;
  // 404: the exchange was deleted behind our back; declare it again next time
  if (failed.some(([, error]) => replyCode(error.cause) === 404)) session.topology.forget(topic);
  throw publishFailed(TRANSPORT, topic, messages, failed);
}

/** Publish on `publisher` and wait for the confirms; rejects with the first error when one is missing. */
export async function publishAll(publisher: Publisher, outgoing: readonly Outgoing[]): Promise<void> {
  const errors = await publisher.publish(outgoing);
  const failed = errors.find((error) => error !== undefined);
  if (failed) throw failed;
}
