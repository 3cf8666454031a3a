/**
 * Carrier over RabbitMQ (AMQP 0-9-1). `connect()` from `@carrier/core` loads this package for
 * `amqp://` and `amqps://` URLs; users rarely import it directly. The public surface: the factory
 * {@link createTransport}, the URL parser and its settings, the names of the broker objects Carrier
 * declares and the headers it writes (see docs/brokers/rabbitmq.md), and {@link native}: typed tokens
 * for `carrier.as`, `subscription.as` and `message.as` (the amqplib objects).
 *
 * @packageDocumentation
 */
export { createTransport } from './factory.js';
export {
  deadLetterQueueName,
  delayQueueName,
  exchangeName,
  groupQueueName,
  releaseLedgerName,
} from './names.js';
export { native, type RabbitConnectionNative, type RabbitSubscriptionNative } from './native.js';
export {
  DELAY_DELIVERY_EXCHANGE,
  DELAY_TOPIC_HEADER,
  delayLadderName,
  MAX_PUBLISH_DELAY_MS,
  PUBLISH_DELAY_LEVELS,
} from './publish-delay.js';
export { parseRabbitUrl, type QueueType, type RabbitSettings, type TlsSettings } from './url.js';
export {
  ATTEMPT_HEADER,
  DEAD_LETTER_ATTEMPTS_HEADER,
  DEAD_LETTER_FAILED_AT_HEADER,
  DEAD_LETTER_REASON_HEADER,
  KEY_HEADER,
  PUBLISHED_AT_HEADER,
} from './wire.js';
