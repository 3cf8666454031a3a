import type { ReplyDestination, WireMessage } from '@carrier/core';
import { createInbox, headers as natsHeaders, type Subscription } from '@nats-io/transport-node';
import { fail } from './errors.js';
import type { Link } from './link.js';
import { decodeMessage, encodeHeaders, headerBytes } from './wire.js';

/**
 * Request/reply on NATS (docs/brokers/nats.md, "Request/reply"): replies travel on core NATS, not
 * JetStream. Each connection's reply destination is an inbox (`_INBOX.<nuid>`) with a subscription on `<inbox>.>`; a request carries
 * `carrier-meta-reply-to: <inbox>.<correlation id>`, so a native responder answers by publishing to
 * that subject (no header needed: the correlation id is the last token). A reply nobody listens to
 * is dropped by the server at once: core NATS keeps nothing.
 */
export class Replies {
  readonly #link: Link;
  readonly #open = new Map<string, Subscription>();

  constructor(link: Link) {
    this.#link = link;
  }

  /** Subscribe to a new inbox; resolves once the server has the subscription (a flush). */
  async open(sink: (reply: WireMessage) => void): Promise<ReplyDestination> {
    const { nc } = this.#link;
    const inbox = createInbox();
    const prefix = `${inbox}.`;
    const sub = nc.subscribe(`${inbox}.>`, {
      callback: (error, msg) => {
        if (error) return;
        const { message } = decodeMessage(msg.headers, msg.data.slice(), {
          stream: inbox,
          sequence: 0,
          timestamp: new Date(),
        });
        const correlationId = message.metadata?.correlationId ?? msg.subject.slice(prefix.length);
        sink({ ...message, metadata: { ...message.metadata, correlationId } });
      },
    });
    this.#open.set(inbox, sub);
    try {
      await nc.flush();
    } catch (error) {
      this.#close(inbox);
      throw this.#link.wrap(error, 'cannot open the reply inbox');
    }
    return { address: inbox, close: async () => this.#close(inbox) };
  }

  #close(inbox: string): void {
    const sub = this.#open.get(inbox);
    this.#open.delete(inbox);
    if (sub && !sub.isClosed()) sub.unsubscribe();
  }

  /**
   * A request's `replyTo` as it goes on the wire: this connection's inbox plus `.<correlation id>`
   * (a native responder then needs only the subject). Other messages are unchanged.
   */
  outgoing(message: WireMessage): WireMessage {
    const metadata = message.metadata;
    if (!metadata?.replyTo || !metadata.correlationId || !this.#open.has(metadata.replyTo)) return message;
    return {
      ...message,
      metadata: { ...metadata, replyTo: `${metadata.replyTo}.${metadata.correlationId}` },
    };
  }

  /** Publish `message` on core NATS to `address`: fire and forget, nothing kept if nobody listens. */
  async reply(address: string, message: WireMessage): Promise<void> {
    const entries = encodeHeaders(message);
    const size = headerBytes(entries) + message.body.byteLength;
    if (size > this.#link.maxPayload)
      throw fail(
        'MESSAGE_TOO_LARGE',
        `reply of ${size} bytes exceeds the server's max_payload of ${this.#link.maxPayload}`,
      );
    const h = natsHeaders();
    for (const [name, value] of entries) h.append(name, value);
    try {
      this.#link.nc.publish(address, message.body, { headers: h });
    } catch (error) {
      throw this.#link.wrap(error, `cannot send the reply to ${address}`);
    }
  }

  /** Unsubscribe every inbox (the transport closes). */
  closeAll(): void {
    for (const inbox of [...this.#open.keys()]) this.#close(inbox);
  }
}
