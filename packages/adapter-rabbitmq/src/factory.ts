import type { Capabilities, Transport, TransportFactory, TransportFactoryOptions } from '@carrier/core';
import { ConnectionManager, DEFAULT_CONNECT_TIMEOUT_MS } from './connection.js';
import { MAX_DELAY_MS } from './delay.js';
import { MAX_PUBLISH_DELAY_MS, PUBLISH_DELAY_PRECISION_MS } from './publish-delay.js';
import { RabbitTransport } from './rabbitmq-transport.js';
import type { Receiver } from './receiver.js';
import { defaultMaxMessageBytes, parseRabbitUrl } from './url.js';

/** Most user headers: each adds up to 6 bytes of AMQP framing (key length, type, value length). */
export const MAX_HEADERS = 1_024;

/** amqplib encodes a headers table into a buffer of this many bytes, and fails the publish past it. */
const AMQPLIB_TABLE_BYTES = 65_536;

/**
 * Header limits for a connection whose negotiated `frame_max` is `frameMax` (amqplib's default
 * 131 072). The whole headers table — user headers with 6 bytes of framing each, Carrier's own
 * headers, a dead-letter reason of up to 4 096 characters — must fit amqplib's 65 536-byte
 * encoding buffer, and the content-header frame in one frame: user headers and metadata get half
 * of the smaller, at most 32 768 bytes, and at most {@link MAX_HEADERS} of them (fewer on a small
 * frame: one per 32 bytes of it).
 */
export function headerLimits(frameMax: unknown): Pick<Capabilities, 'maxHeaders' | 'maxHeaderBytes'> {
  const frame = typeof frameMax === 'number' && frameMax > 0 ? frameMax : 131_072;
  return {
    maxHeaders: Math.min(MAX_HEADERS, Math.floor(frame / 32)),
    maxHeaderBytes: Math.floor(Math.min(frame, AMQPLIB_TABLE_BYTES) / 2),
  };
}

/**
 * The RabbitMQ transport factory, loaded by `connect()` for `amqp://` and `amqps://` URLs:
 * `amqp://user:pass@host:5672/vhost?heartbeat=15&queueType=quorum|classic&maxMessageBytes=N&recoveryTimeout=ms&reconnectMaxDelay=ms`
 * (see {@link parseRabbitUrl} for every parameter, its unit and its default). Several hosts
 * (`amqp://u:p@h1:5672,h2:5673/vhost`): the first that accepts, in order; after a loss the
 * reconnection dials them round-robin from the next one.
 *
 * Resolves once the broker accepted the AMQP connection, within `connectTimeoutMs` (the factory
 * option, else the URL's, else 10 000 ms); afterwards the connection is re-established by itself
 * when lost. `capabilities.maxMessageBytes` is the URL's `maxMessageBytes`, or else the default
 * `max_message_size` of the server's version (128 MiB before 4.0, 16 MiB from 4.0).
 *
 * @throws CarrierError `INVALID_ARGUMENT` for bad URL parameters, `CONNECTION` when no host can
 *   be reached within `connectTimeoutMs` (each host), `AUTH_FAILED` when the broker refuses the login.
 */
export const createTransport: TransportFactory = async (
  url: URL,
  options: TransportFactoryOptions,
): Promise<Transport> => {
  const settings = parseRabbitUrl(url);
  // the factory option wins (core resolves ConnectOptions, then the URL); else the URL, else 10 s
  const connectTimeoutMs =
    options.connectTimeoutMs ?? settings.connectTimeoutMs ?? DEFAULT_CONNECT_TIMEOUT_MS;
  const receivers = new Set<Receiver>();
  const manager = new ConnectionManager(settings, connectTimeoutMs, {
    onLost: (error) => options.onError(error),
    onRecovered: () => {
      for (const receiver of receivers) receiver.restart();
    },
  });
  const model = await manager.start();
  // the server's max_message_size is not visible over AMQP: assume its version's default
  const version = (model.connection.serverProperties as { version?: unknown }).version;
  const capabilities: Capabilities = {
    fanOut: true,
    competingConsumers: true,
    perKeyOrder: true,
    nativeDelay: true,
    maxDelayMs: MAX_DELAY_MS,
    // delayed publish: Carrier's ladder of delay queues, kept by the broker alone (publish-delay.ts)
    maxPublishDelayMs: MAX_PUBLISH_DELAY_MS,
    maxNativePublishDelayMs: 0,
    publishDelayPrecisionMs: PUBLISH_DELAY_PRECISION_MS,
    maxMessageBytes: settings.maxMessageBytes ?? defaultMaxMessageBytes(version),
    redrive: true,
    // a message is routed to the queues bound when it is published, and a queue deletes what it
    // delivered: a new group's queue has no history
    replay: false,
    // direct reply-to (replies.ts)
    requestReply: true,
    // a passive declaration's message count: ready messages only (RabbitTransport.lag)
    lag: true,
    ...headerLimits((model.connection as { frameMax?: unknown }).frameMax),
  };
  return new RabbitTransport({ settings, manager, receivers, capabilities, onError: options.onError });
};
