/**
 * Carrier over Apache Kafka (kafkajs). `connect('kafka://…')` from `@carrier/core` loads this
 * package and calls {@link createTransport}; the rest is for native access ({@link native}: typed
 * tokens for `carrier.as`, `subscription.as`, `message.as`) and operations.
 *
 * @packageDocumentation
 */
export { createKafkaTransport, createTransport } from './factory.js';
export type { KafkaTransport } from './kafka-transport.js';
export { consumerGroupId, deadLetterGroupId, deadLetterTopic, retryTopic } from './names.js';
export {
  type KafkaConnectionNative,
  type KafkaMessageNative,
  type KafkaSubscriptionNative,
  native,
} from './native.js';
export { REPLY_GROUP_PREFIX, REPLY_TOPIC } from './replies.js';
export { type KafkaClientName, type KafkaSaslMechanism, type KafkaUrlOptions, parseKafkaUrl } from './url.js';
export { HEADERS } from './wire.js';
