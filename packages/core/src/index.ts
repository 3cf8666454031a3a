/**
 * `@carrier/core`: what applications use — `connect`, the `Carrier` it returns, messages, errors,
 * retry policy, the in-memory transport — and the SPI types a transport implements (also importable
 * alone from `@carrier/core/transport`). Helpers for adapter authors are in `@carrier/core/kit`.
 * Nothing else is exported: core's scheduler, engine and adapter loader are internal.
 *
 * @packageDocumentation
 */

export type { StandardSchemaV1 } from '@standard-schema/spec';
export { DEFAULT_RETRY, type RetryPolicy } from './backoff.js';
export { Carrier } from './carrier.js';
export { decodeBody, JSON_TYPE, messageSize, OCTET_STREAM, TEXT_UTF8 } from './codec.js';
export type { Codec, DecodeContext, EncodeContext, Encoded } from './codec-spi.js';
export { bytesCodec, defaultCodec, jsonCodec, textCodec } from './codecs.js';
export { type ConnectOptions, connect, DEFAULT_CONNECT_TIMEOUT_MS } from './connect.js';
export {
  MAX_DEAD_LETTER_REASON_LENGTH,
  TRUNCATION_MARKER,
  UNKNOWN_DEAD_LETTER_REASON,
} from './dead-letter-info.js';
export {
  CarrierError,
  type CarrierErrorCode,
  type CarrierErrorOptions,
  isCarrierError,
  isPermanentPublishError,
  NonRetryableError,
  type PublishFailure,
  type ValidationIssue,
} from './errors.js';
export { createMemoryTransport } from './memory/memory-transport.js';
export type {
  BatchEntry,
  CancelOptions,
  DeadLetter,
  DeadLetterQueue,
  DeadLetterSubscribeOptions,
  Handler,
  Message,
  MessageOptions,
  PublishBatchOptions,
  PublishOptions,
  PublishReceipt,
  ReplyOptions,
  RequestOptions,
  SubscribeOptions,
  Subscription,
} from './message.js';
export { DEFAULT_REQUEST_TIMEOUT_MS } from './message.js';
export {
  isTraceparent,
  isTracestate,
  type MessageMetadata,
  validateMetadata,
} from './metadata.js';
export { MAX_HEADER_KEY_BYTES, MAX_NAME_LENGTH, validateHeaders, validateName } from './names.js';
export { type NativeAnswer, type NativeScope, NativeToken } from './native.js';
export { redactUrl, scrub, urlSecrets } from './redact.js';
export type { TelemetryOptions } from './telemetry/options.js';
export * from './telemetry/semconv.js';
export type {
  CodecAccepting,
  Topic,
  TopicBatchEntry,
  TopicOptions,
  TopicPublishOptions,
  TopicRequestOptions,
  TopicSubscribeOptions,
} from './topic.js';
export type * from './transport.js';

import { transportFactoryFor as factoryFor, parseCarrierUrl as parseUrl } from './connect.js';

/**
 * @deprecated Import it from `@carrier/core/kit`; this re-export goes away once the adapters and
 * the contract suite do.
 */
export const parseCarrierUrl = parseUrl;
/**
 * @deprecated Import it from `@carrier/core/kit`; this re-export goes away once the contract suite
 * does.
 */
export const transportFactoryFor = factoryFor;
