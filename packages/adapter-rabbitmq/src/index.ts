import type { Transport, TransportFactory, TransportFactoryOptions } from '@carrier/core';
import { RabbitTransport } from './rabbitmq-transport.js';
import { parseRabbitUrl } from './url.js';

export { MAX_DELAY_MS } from './delay.js';
export { deadLetterQueueName, delayQueueName, exchangeName, groupQueueName } from './names.js';
export { RabbitTransport } from './rabbitmq-transport.js';
export {
  DEFAULT_HEARTBEAT_SECONDS,
  DEFAULT_MAX_MESSAGE_BYTES,
  DEFAULT_MAX_MESSAGE_BYTES_V4,
  DEFAULT_RECONNECT_MAX_DELAY_MS,
  DEFAULT_RECOVERY_TIMEOUT_MS,
  defaultMaxMessageBytes,
  type QueueType,
  type RabbitSettings,
} from './url.js';
export {
  ATTEMPT_HEADER,
  DEAD_LETTER_ATTEMPTS_HEADER,
  DEAD_LETTER_FAILED_AT_HEADER,
  DEAD_LETTER_REASON_HEADER,
  KEY_HEADER,
  PUBLISHED_AT_HEADER,
} from './wire.js';

/**
 * The RabbitMQ transport factory, loaded by `connect()` for `amqp://` and `amqps://` URLs:
 * `amqp://user:pass@host:5672/vhost?heartbeat=15&queueType=quorum|classic&maxMessageBytes=N&recoveryTimeout=ms&reconnectMaxDelay=ms`.
 * Resolves once the broker accepted the connection; afterwards the connection is re-established by
 * itself when lost.
 *
 * @throws CarrierError `INVALID_ARGUMENT` for bad URL parameters, `CONNECTION` when the broker cannot
 *   be reached or refuses the login.
 */
export const createTransport: TransportFactory = async (
  url: URL,
  options: TransportFactoryOptions,
): Promise<Transport> => RabbitTransport.connect(parseRabbitUrl(url), options);
