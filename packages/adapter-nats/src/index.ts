/**
 * Carrier over NATS JetStream: the `nats://` transport that `connect()` of `@carrier/core` loads,
 * its URL settings, the JetStream names it uses (docs/brokers/nats.md), its header names, and
 * {@link native}: typed tokens for `carrier.as`, `subscription.as` and `message.as`.
 *
 * @packageDocumentation
 */
export { createNatsTransport, createTransport } from './factory.js';
export {
  consumerName,
  deadLetterStream,
  deadLetterSubject,
  escapeName,
  redriveSubject,
  topicStream,
  topicSubject,
} from './names.js';
export {
  type NatsConnectionNative,
  type NatsMessageNative,
  type NatsSubscriptionNative,
  native,
} from './native.js';
export type { NatsTransport } from './nats-transport.js';
export { type NatsSettings, parseNatsUrl, type Retention } from './url.js';
export type { AckInfo } from './wire.js';
export { HEADERS, NATS_MSG_ID } from './wire.js';
