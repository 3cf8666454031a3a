import type { TransportFactory } from '@carrier/core';
import { createKafkaTransport } from './kafka-transport.js';
import { parseKafkaUrl } from './url.js';

export { GroupReader, type GroupReaderSettings, type RecordHandle } from './group-reader.js';
export { createKafkaTransport, KAFKA_MAX_DELAY_MS, KafkaTransport, kafkaConfig } from './kafka-transport.js';
export { consumerGroupId, deadLetterGroupId, deadLetterTopic, kafkaTopic, retryTopic } from './names.js';
export { PartitionOffsets } from './offsets.js';
export { type KafkaSaslMechanism, type KafkaUrlOptions, parseKafkaUrl } from './url.js';
export {
  DEFAULT_CONTENT_TYPE,
  type DecodedRecord,
  deadLetterHeaders,
  dueAtOf,
  fromRecord,
  HEADERS,
  MAX_REASON_CHARS,
  RECORD_OVERHEAD_BYTES,
  RESERVED_PREFIX,
  retryHeaders,
  toRecord,
} from './wire.js';

/**
 * The factory `connect()` loads for `kafka://` and `kafkas://` URLs: parses the URL (see
 * {@link parseKafkaUrl}), connects, and resolves with a {@link KafkaTransport}.
 *
 * @throws CarrierError `INVALID_ARGUMENT` for a malformed URL, `CONNECTION` when no broker answers.
 */
export const createTransport: TransportFactory = async (url, options) =>
  createKafkaTransport(parseKafkaUrl(url), options);
