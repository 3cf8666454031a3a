import { abortedError, checkSignal, onAbort } from './cancel.js';
import { decodeBody, encodeBody, messageSize } from './codec.js';
import { checkCodec, encodeWith, isPromiseLike, isUnreadable, withSchemaId } from './codec-options.js';
import type { Codec, Encoded } from './codec-spi.js';
import { boundReason } from './dead-letter-info.js';
import { toMessage } from './delivered-message.js';
import { CarrierError } from './errors.js';
import { NEVER_ABORTED } from './handler-signal.js';
import {
  DEFAULT_REQUEST_TIMEOUT_MS,
  type Message,
  type ReplyOptions,
  type RequestOptions,
} from './message.js';
import type { MessageMetadata } from './metadata.js';
import { validateContentType, validateHeaders } from './names.js';
import { ReplySendScope, replyReceived } from './telemetry/reply.js';
import type { Telemetry } from './telemetry/telemetry.js';
import type { TraceFields } from './telemetry/trace-context.js';
import type { ReplyDestination, Transport, WireMessage } from './transport.js';

/**
 * Request/reply, the parts that are the same on every transport: the requester's side (one reply
 * destination per carrier, pending requests by correlation id, timeout, abort, close) and the
 * server's (`message.reply`, the error reply of a failed handler). Adapters only open the reply
 * destination and move replies (`Transport.openReplies`, `Transport.reply`).
 */

/**
 * Name (under `metadata.extra`, so on the wire `carrier-meta-reply-error`) of the field that marks
 * a reply as a failure; its value is the remote reason. The body of such a reply is the reason too,
 * as text, for native requesters.
 */
export const REPLY_ERROR_FIELD = 'reply-error';
/** Longest timer Node.js can set (2^31 - 1 ms). */
const MAX_TIMEOUT_MS = 2 ** 31 - 1;
/** Metadata fields that `request` sets itself. */
const OWN_FIELDS = ['correlationId', 'replyTo', 'deadline'] as const;

/** A request's metadata: whether it asks for a reply, and whether its deadline has passed. */
export function isRequest(metadata: MessageMetadata | undefined): boolean {
  return metadata?.replyTo !== undefined;
}

/** Whether the request's deadline has passed: its handler must not run (nobody waits for it). */
export function isExpired(metadata: MessageMetadata | undefined, now = Date.now()): boolean {
  return metadata?.deadline !== undefined && metadata.deadline.getTime() <= now;
}

function unsupported(transport: Transport): CarrierError {
  return new CarrierError('UNSUPPORTED', `${transport.name} has no request/reply`, {
    transport: transport.name,
  });
}

/** The transport's reply methods, or `UNSUPPORTED`. */
function replyMethods(transport: Transport) {
  const { openReplies, reply } = transport;
  if (!transport.capabilities.requestReply || !openReplies || !reply) throw unsupported(transport);
  return { openReplies: openReplies.bind(transport), reply: reply.bind(transport) };
}

/** Refuse a reply larger than the transport takes (as `publish` does). */
function checkSize(transport: Transport, wire: WireMessage): void {
  const size = messageSize(wire.body, undefined, wire.headers, wire.metadata);
  const limit = transport.capabilities.maxMessageBytes;
  if (size > limit) {
    throw new CarrierError(
      'MESSAGE_TOO_LARGE',
      `reply of ${size} bytes exceeds the ${transport.name} limit of ${limit}`,
      {
        transport: transport.name,
      },
    );
  }
}

/** Reply text safe for a header: bounded, no CR, LF or NUL. */
function headerSafeReason(reason: string): string {
  const text = boundReason(reason)
    .replace(/[\r\n\0]+/g, ' ')
    .trim();
  return text.length > 0 ? text : 'the handler failed';
}

/** Options of a reply's wire form: `message.reply`'s, and the error reason of an error reply. */
type ReplyWireOptions = ReplyOptions & { error?: string };

/**
 * The wire form of a reply to `request`: its correlation id echoed, and the trace context of the
 * reply's `send` span (`trace`), or without telemetry the request's own, so the reply stays in the
 * request's trace either way. A promise only when `options.codec` answers with one.
 */
export function replyWire(
  transport: Transport,
  request: MessageMetadata,
  body: unknown,
  options?: Omit<ReplyWireOptions, 'codec'>,
  trace?: TraceFields,
): WireMessage;
export function replyWire(
  transport: Transport,
  request: MessageMetadata,
  body: unknown,
  options: ReplyWireOptions,
  trace?: TraceFields,
): WireMessage | Promise<WireMessage>;
export function replyWire(
  transport: Transport,
  request: MessageMetadata,
  body: unknown,
  options: ReplyWireOptions = {},
  trace?: TraceFields,
): WireMessage | Promise<WireMessage> {
  const headers = validateHeaders(options.headers);
  const contentType = validateContentType(options.contentType);
  const codec = checkCodec(options.codec);
  const metadata: MessageMetadata = {
    ...(request.correlationId !== undefined ? { correlationId: request.correlationId } : {}),
    ...(trace ?? {
      ...(request.traceparent !== undefined ? { traceparent: request.traceparent } : {}),
      ...(request.tracestate !== undefined ? { tracestate: request.tracestate } : {}),
    }),
    ...(options.error !== undefined ? { extra: { [REPLY_ERROR_FIELD]: options.error } } : {}),
  };
  const build = (encoded: Encoded): WireMessage => {
    const withId = withSchemaId(metadata, encoded.schemaId) ?? {};
    const wire: WireMessage = {
      id: crypto.randomUUID(),
      headers,
      contentType: encoded.contentType,
      body: encoded.bytes,
      publishedAt: new Date(),
      ...(Object.keys(withId).length > 0 ? { metadata: withId } : {}),
    };
    checkSize(transport, wire);
    return wire;
  };
  if (!codec) return build(encodeBody(body, contentType));
  if (contentType !== undefined)
    throw new CarrierError(
      'INVALID_ARGUMENT',
      'give contentType or codec, not both: a codec names its content type',
    );
  const encoded = encodeWith(codec, body, { topic: request.replyTo ?? '' });
  return isPromiseLike(encoded) ? Promise.resolve(encoded).then(build) : build(encoded);
}

/**
 * The server side of one request: `message.reply` for its handler (remembering that it replied),
 * and the error reply core sends when the handler failed and had not replied.
 */
export class ReplyChannel {
  #replied = false;

  constructor(
    private readonly transport: Transport,
    private readonly metadata: MessageMetadata | undefined,
    private readonly telemetry?: Telemetry,
  ) {}

  /** Whether a reply (or an error reply) was sent or is being sent. */
  get replied(): boolean {
    return this.#replied;
  }

  /** `message.reply`. */
  readonly reply = async (body: unknown, options?: ReplyOptions): Promise<void> => {
    const metadata = this.metadata;
    if (!metadata?.replyTo)
      throw new CarrierError('INVALID_ARGUMENT', 'this message is not a request: it has no metadata.replyTo');
    await this.#send(metadata.replyTo, metadata, body, options ?? {});
  };

  /** Build and send one reply, under a `send` span when there is telemetry. */
  async #send(
    replyTo: string,
    metadata: MessageMetadata,
    body: unknown,
    options: ReplyWireOptions,
  ): Promise<void> {
    const { reply } = replyMethods(this.transport);
    const scope = this.telemetry && new ReplySendScope(this.telemetry, replyTo, metadata);
    try {
      const built = replyWire(this.transport, metadata, body, options, scope?.fields);
      const wire = isPromiseLike(built) ? await built : built;
      scope?.built(wire);
      this.#replied = true;
      await (scope ? scope.run(() => reply(replyTo, wire)) : reply(replyTo, wire));
    } catch (error) {
      scope?.end(error);
      throw error;
    }
    scope?.end();
  }

  /** Tell the requester that the handler failed (`REQUEST_FAILED` with `reason`), unless it replied. */
  async fail(reason: string): Promise<void> {
    const metadata = this.metadata;
    if (this.#replied || !metadata?.replyTo || !this.transport.capabilities.requestReply) return;
    const text = headerSafeReason(reason);
    await this.#send(metadata.replyTo, metadata, text, { error: text });
  }
}

/** `message.reply` of a message that cannot be answered (a reply, a dead letter). */
export async function cannotReply(): Promise<void> {
  throw new CarrierError('INVALID_ARGUMENT', 'this message is not a request: it cannot be replied to');
}

/** The signal of a reply's `Message`: a reply has no handler to cancel. */

interface Pending {
  readonly topic: string;
  /** Decodes the reply's body; absent: by its content type. */
  readonly codec: Codec | undefined;
  readonly resolve: (message: Message) => void;
  readonly reject: (error: Error) => void;
}

/** `timeoutMs` of `request`, checked. */
function checkTimeout(value: unknown): number {
  if (value === undefined) return DEFAULT_REQUEST_TIMEOUT_MS;
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 1 || value > MAX_TIMEOUT_MS)
    throw new CarrierError('INVALID_ARGUMENT', `timeoutMs must be an integer from 1 to ${MAX_TIMEOUT_MS}`);
  return value;
}

/** The parts of `request`'s options that `publish` takes. */
export interface PreparedRequest {
  readonly timeoutMs: number;
  /** Decodes the reply's body (`replyCodec`); absent: by its content type. */
  readonly replyCodec: Codec | undefined;
  readonly signal: AbortSignal | undefined;
  readonly correlationId: string;
  /** When the requester stops waiting: now + `timeoutMs` at the call. */
  readonly deadline: Date;
  /** The metadata to publish with, once the reply address is known. */
  metadata(replyTo: string): MessageMetadata;
}

/** Check `request`'s options (before anything reaches the broker). */
export function prepareRequest(options: RequestOptions | undefined): PreparedRequest {
  if (options !== undefined && (options === null || typeof options !== 'object'))
    throw new CarrierError('INVALID_ARGUMENT', 'options must be an object');
  const timeoutMs = checkTimeout(options?.timeoutMs);
  const signal = checkSignal(options?.signal);
  const replyCodec = checkCodec(options?.replyCodec, 'replyCodec');
  const given = options?.metadata;
  for (const field of OWN_FIELDS) {
    if (given?.[field] !== undefined)
      throw new CarrierError('INVALID_ARGUMENT', `metadata.${field} is set by request itself`);
  }
  const correlationId = crypto.randomUUID();
  const deadline = new Date(Date.now() + timeoutMs);
  return {
    timeoutMs,
    replyCodec,
    signal,
    correlationId,
    deadline,
    metadata: (replyTo) => ({ ...given, correlationId, replyTo, deadline }),
  };
}

/**
 * The requester's side of one carrier: its reply destination, opened on the first request and
 * shared by all, and the requests waiting for a reply, by correlation id. A reply nobody waits for
 * (late, duplicate, foreign) is dropped at once: nothing is kept for it.
 */
export class Requester {
  readonly #pending = new Map<string, Pending>();
  #destination: Promise<ReplyDestination> | undefined;
  #address: string | undefined;
  #closed = false;

  constructor(
    private readonly transport: Transport,
    private readonly telemetry?: Telemetry,
  ) {}

  /** How many requests wait for a reply (for tests: it must drop to 0). */
  get waiting(): number {
    return this.#pending.size;
  }

  /** The reply address, opening the destination on first use. */
  address(): Promise<string> {
    const { openReplies } = replyMethods(this.transport);
    if (!this.#destination) {
      const opening = openReplies((reply) => this.#accept(reply));
      this.#destination = opening;
      opening.then(
        (d) => {
          this.#address = d.address;
        },
        () => {},
      );
      opening.catch(() => {
        if (this.#destination === opening) this.#destination = undefined; // the next request tries again
      });
    }
    return this.#destination.then((d) => d.address);
  }

  #accept(reply: WireMessage): void {
    const id = reply.metadata?.correlationId;
    const pending = id === undefined ? undefined : this.#pending.get(id);
    if (!pending) return; // late, duplicate or not ours: dropped (pending.resolve/reject forget it)
    const reason = reply.metadata?.extra?.[REPLY_ERROR_FIELD];
    const name = this.transport.name;
    const received = (error?: CarrierError) => {
      if (this.telemetry) replyReceived(this.telemetry, reply, this.#address ?? '', error);
      if (error) pending.reject(error);
    };
    if (reason !== undefined) {
      received(new CarrierError('REQUEST_FAILED', reason, { transport: name }));
      return;
    }
    const resolve = (body: unknown) => {
      received();
      pending.resolve(toMessage(pending.topic, reply, 1, body, NEVER_ABORTED, name, undefined));
    };
    const reject = (error: unknown) =>
      received(
        isUnreadable(error) && pending.codec
          ? (error as CarrierError)
          : new CarrierError('DECODE_FAILED', 'the reply could not be decoded', {
              transport: name,
              cause: error,
            }),
      );
    let body: unknown;
    try {
      body = pending.codec
        ? pending.codec.decode(reply.body, {
            topic: pending.topic,
            contentType: reply.contentType,
            metadata: reply.metadata ?? {},
          })
        : decodeBody(reply.body, reply.contentType);
    } catch (error) {
      reject(error);
      return;
    }
    if (isPromiseLike(body)) body.then(resolve, reject);
    else resolve(body);
  }

  /**
   * Run one request: register it by correlation id, open the reply destination if need be, build
   * the request (`wire`, which validates) with the reply address and publish it (`publish`); settle
   * with the reply, or reject on `TIMEOUT` (its deadline), `ABORTED` (its signal), `CLOSED`, or the
   * failure of any step. The request is forgotten when it settles, whatever happens later.
   */
  run(
    topic: string,
    request: PreparedRequest,
    wire: (replyTo: string) => WireMessage | Promise<WireMessage>,
    publish: (message: WireMessage) => Promise<unknown>,
  ): Promise<Message> {
    const { correlationId: id, signal, timeoutMs } = request;
    const name = this.transport.name;
    if (this.#closed)
      return Promise.reject(new CarrierError('CLOSED', 'this carrier is closed', { transport: name }));
    return new Promise<Message>((resolve, reject) => {
      let forget = () => {};
      const timer = setTimeout(
        () =>
          fail(
            new CarrierError('TIMEOUT', `no reply to the request on ${topic} within ${timeoutMs} ms`, {
              transport: name,
            }),
          ),
        Math.max(0, request.deadline.getTime() - Date.now()),
      );
      const done = () => {
        clearTimeout(timer);
        forget();
        return this.#pending.delete(id);
      };
      const fail = (error: unknown) => {
        if (done()) reject(error);
      };
      this.#pending.set(id, {
        topic,
        codec: request.replyCodec,
        resolve: (m) => {
          if (done()) resolve(m);
        },
        reject: fail,
      });
      if (signal) forget = onAbort(signal, () => fail(abortedError(signal, `request on ${topic}`, name)));
      this.address()
        .then((address) => {
          if (!this.#pending.has(id)) return undefined; // timed out or aborted meanwhile
          const built = wire(address);
          if (!(built instanceof Promise)) return publish(built);
          // encoded asynchronously: published unless the request settled meanwhile
          return built.then((message) => (this.#pending.has(id) ? publish(message) : undefined));
        })
        .catch(fail);
    });
  }

  /** Whether `close` was called: no new request starts. */
  get closed(): boolean {
    return this.#closed;
  }

  /** Reject every waiting request with `CLOSED` and close the reply destination. */
  async close(): Promise<void> {
    this.#closed = true;
    const error = new CarrierError('CLOSED', 'the carrier closed before the reply arrived', {
      transport: this.transport.name,
    });
    for (const pending of [...this.#pending.values()]) pending.reject(error);
    const destination = this.#destination;
    this.#destination = undefined;
    if (destination) await destination.then((d) => d.close()).catch(() => {});
  }
}
