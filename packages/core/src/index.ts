export { DEFAULT_RETRY, longestRetryDelay, type RetryPolicy, retryDelay } from './backoff.js';
export { Carrier } from './carrier.js';
export {
  decodeBody,
  type EncodedBody,
  encodeBody,
  JSON_TYPE,
  messageSize,
  OCTET_STREAM,
  TEXT_UTF8,
} from './codec.js';
export {
  ADAPTER_PACKAGES,
  type ConnectOptions,
  connect,
  DEFAULT_CONNECT_TIMEOUT_MS,
  loadAdapter,
  parseCarrierUrl,
  resolveConnectTimeout,
  transportFactoryFor,
} from './connect.js';
export {
  boundReason,
  completeDeadLetterInfo,
  MAX_DEAD_LETTER_REASON_LENGTH,
  TRUNCATION_MARKER,
  UNKNOWN_DEAD_LETTER_REASON,
} from './dead-letter-info.js';
export {
  CarrierError,
  type CarrierErrorCode,
  type CarrierErrorOptions,
  isCarrierError,
  NonRetryableError,
  type PublishFailure,
} from './errors.js';
export { KeyedScheduler } from './keyed-scheduler.js';
export {
  createMemoryTransport,
  MEMORY_DEFAULT_MAX_MESSAGE_BYTES,
  MemoryTransport,
} from './memory/memory-transport.js';
export type {
  BatchEntry,
  DeadLetter,
  DeadLetterQueue,
  DeadLetterSubscribeOptions,
  Handler,
  Message,
  PublishOptions,
  PublishReceipt,
  SubscribeOptions,
  Subscription,
} from './message.js';
export { MAX_NAME_LENGTH, validateContentType, validateHeaders, validateName } from './names.js';
export { redactUrl, scrub, urlSecrets } from './redact.js';
export type * from './transport.js';
