import type { HandlerSignal } from './handler-signal.js';
import type { Message } from './message.js';
import type { MessageMetadata } from './metadata.js';
import { type NativeAnswer, type NativeToken, resolveNative } from './native.js';
import { cannotReply } from './request.js';
import type { WireMessage } from './transport.js';

const NO_METADATA: MessageMetadata = Object.freeze({});

/** `metadata` frozen for a handler (an empty frozen object when absent). */
export function frozenMetadata(metadata: MessageMetadata | undefined): MessageMetadata {
  if (!metadata) return NO_METADATA;
  const extra = metadata.extra ? Object.freeze({ ...metadata.extra }) : undefined;
  return Object.freeze(extra ? { ...metadata, extra } : { ...metadata });
}

/** What answers a message's `as()`: the delivery's `native` member, if the transport has one. */
export interface NativeSource {
  native?(token: NativeToken<unknown>): NativeAnswer | undefined;
}

/**
 * The `Message` a handler gets. A class, so that one message costs one object: `signal` (made only
 * when read, see `HandlerSignal`) and `as()` live on the prototype instead of being a getter and a
 * closure per message; the data fields are the object's own. A spread copy (`{ ...message }`)
 * therefore carries the data but not `signal` or `as`.
 */
class DeliveredMessage implements Message {
  readonly id: string;
  readonly topic: string;
  readonly key: string | undefined;
  readonly headers: Readonly<Record<string, string>>;
  readonly body: unknown;
  readonly raw: Uint8Array;
  readonly contentType: string;
  readonly attempt: number;
  readonly publishedAt: Date;
  readonly metadata: MessageMetadata;
  readonly reply: Message['reply'];
  readonly #cancel: Pick<HandlerSignal, 'signal'>;
  readonly #transport: string;
  readonly #source: NativeSource | undefined;

  constructor(
    topic: string,
    wire: WireMessage,
    attempt: number,
    body: unknown,
    cancel: Pick<HandlerSignal, 'signal'>,
    transport: string,
    source: NativeSource | undefined,
    reply: Message['reply'],
  ) {
    this.id = wire.id;
    this.topic = topic;
    this.key = wire.key;
    this.headers = wire.headers;
    this.body = body;
    this.raw = wire.body;
    this.contentType = wire.contentType;
    this.attempt = attempt;
    this.publishedAt = wire.publishedAt;
    this.metadata = frozenMetadata(wire.metadata);
    this.reply = reply;
    this.#cancel = cancel;
    this.#transport = transport;
    this.#source = source;
  }

  get signal(): AbortSignal {
    return this.#cancel.signal;
  }

  as<T>(token: NativeToken<T, 'message'>): T {
    const source = this.#source;
    const answer = source?.native ? (t: NativeToken<unknown>) => source.native?.(t) : undefined;
    return resolveNative(token, 'message', this.#transport, answer);
  }
}

/**
 * Turn a wire message into the user's `Message`; `message.signal` is `cancel.signal`, read only when
 * the handler reads it; `message.as()` asks `source.native` (none: `UNSUPPORTED`).
 */
export function toMessage(
  topic: string,
  wire: WireMessage,
  attempt: number,
  body: unknown,
  cancel: Pick<HandlerSignal, 'signal'>,
  transport: string,
  source: NativeSource | undefined,
  reply: Message['reply'] = cannotReply,
): Message {
  return new DeliveredMessage(topic, wire, attempt, body, cancel, transport, source, reply);
}
