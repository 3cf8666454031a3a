/**
 * @internal The driver-independent pieces of the Kafka adapter, for another client library's driver
 * (`@carrier/adapter-kafka-platformatic`): names, URL options, the wire format (record headers, so
 * that both drivers read each other's records intact), offsets and delivery-count ledgers, commits,
 * settlement and errors (refusals.ts: the one mapping of Kafka's refusals to Carrier codes, for
 * both drivers). Not a public API: it changes with the adapter, without notice.
 *
 * Records are in kafkajs' shapes (`Message` to write, `KafkaMessage` read): plain objects a driver
 * converts to and from its own.
 *
 * @packageDocumentation
 */

/** Records in the shapes the wire code reads (`ReadRecord`) and writes (`WrittenRecord`): kafkajs' types. */
export type { KafkaMessage as ReadRecord, Message as WrittenRecord } from 'kafkajs';
export { OffsetCommits, type OffsetCommitter } from './commits.js';
export { closedError, kafkaError, retrying, TRANSPORT } from './errors.js';
export { createKafkaTransport, DEFAULT_MESSAGE_MAX_BYTES, replicationFactorOf } from './factory.js';
export type { KafkaTransport } from './kafka-transport.js';
export { behind, type PartitionEnds } from './lag.js';
export { consumerGroupId, deadLetterGroupId, deadLetterTopic, delayTopic, retryTopic } from './names.js';
export { decodeLedger, PartitionOffsets } from './offsets.js';
export { chunked } from './producer.js';
export { DELAY_LEVELS } from './publish-delay.js';
export type { RecordHandle } from './receiver.js';
export { JOIN_TIMEOUT_MS, REBALANCE_MARGIN_MS } from './receiver.js';
export {
  positionsAfter,
  type Ranges,
  rangesToRedrive,
  redriveCopies,
  type Taken,
} from './redrive.js';
export {
  type BrokerError,
  brokerRefusal,
  REFUSAL_NAMES,
  type Refused,
} from './refusals.js';
export {
  REPLY_GROUP_PREFIX,
  REPLY_TOPIC,
  REPLY_TOPIC_CONFIG,
  replyAddress,
  requesterOf,
} from './replies.js';
export { refusalError, tlsConfig } from './security.js';
export { type Copy, toDeadLetterDelivery, toDelivery } from './settlement.js';
export {
  type CommittedOffsets,
  type ConfigEntries,
  createdTopicConfig,
  DEAD_LETTER_TOPIC_CONFIG,
  RETRY_TOPIC_CONFIG,
  refusedTopic,
} from './topology.js';
export { type KafkaUrlOptions, parseKafkaUrl } from './url.js';
export { dueAtOf, fromRecord, HEADERS, RECORD_OVERHEAD_BYTES, toRecord } from './wire.js';
