/**
 * Carrier over NATS JetStream: the `nats://` transport that `connect()` of `@carrier/core` loads,
 * its URL settings, the JetStream names it uses (docs/brokers/nats.md) and its header names.
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
export type { NatsTransport } from './nats-transport.js';
export { type NatsSettings, parseNatsUrl, type Retention } from './url.js';
export { HEADERS, NATS_MSG_ID } from './wire.js';
