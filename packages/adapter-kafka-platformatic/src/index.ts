/**
 * Carrier over Apache Kafka on @platformatic/kafka 1.35 (Node >= 20.19.4): selected with
 * `kafka://host:9092?client=platformatic` (or `kafkas://`); `@carrier/adapter-kafka` loads this
 * package and calls {@link createTransport}. Same topics, record headers and committed offsets as
 * the default kafkajs driver: the two read each other's messages and share consumer groups.
 *
 * @packageDocumentation
 */
export { clientOptions } from './client-options.js';
export { createPlatformaticKafkaTransport, createTransport } from './factory.js';
export {
  native,
  type PlatformaticConnectionNative,
  type PlatformaticMessageNative,
  type PlatformaticSubscriptionNative,
} from './native.js';
export type { PlatformaticKafkaTransport } from './transport.js';
