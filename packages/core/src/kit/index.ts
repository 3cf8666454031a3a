/**
 * The adapter kit: small helpers that every Carrier transport needs and none should write again.
 * Import from `@carrier/core/kit`; the SPI itself is `@carrier/core/transport`.
 *
 * - {@link OncePerKey}: declare a broker object once per key, sharing the call in flight and
 *   forgetting failures.
 * - {@link Backoff}, {@link sleep}, {@link retrying}: reconnect and restart delays with jitter, and
 *   retrying an adapter's own call while the broker says the failure is transient.
 * - {@link publishFailed}, {@link nothingPublished}: the `PUBLISH_FAILED` error with per-message
 *   `failures`, as core and the contract suite expect it.
 * - {@link describeError}, {@link asError}: the message of an unknown thrown value.
 * - {@link withDeadline}, {@link DeadlineError}: a call that must answer within a deadline.
 * - {@link isClientCertificateRefusal}, {@link isServerCertificateUntrusted}: which side of a TLS
 *   handshake refused whom (`AUTH_FAILED` versus `CONNECTION`).
 * - {@link metadataHeaders}, {@link metadataFromHeaders}, {@link isMetadataHeader}: Carrier's
 *   message metadata in its generic header form (`traceparent`, `tracestate`, `carrier-meta-*`) and back.
 * - {@link DELIVER_AT_HEADER}, {@link formatDeliverAt}, {@link parseDeliverAt}: a delayed
 *   message's due time (`WireMessage.deliverAt`) in its generic header form and back, for a
 *   transport whose own delay path carries it inside the message.
 * - {@link parseCarrierUrl}: a Carrier URL (several `host:port` pairs allowed) as a `URL`;
 *   {@link transportFactoryFor}: the factory that serves a URL's scheme (the contract suite).
 * - {@link refuseRepeatedOptions}, {@link urlChoice}, {@link urlFlag}: the rules every transport
 *   applies to its URL options (each given once; enumerated values and flags in any case, a bad
 *   one refused listing the allowed values).
 * - {@link completeDeadLetterInfo}, {@link boundReason}: the dead-letter metadata rules core
 *   applies anyway, for an adapter that wants them earlier.
 *
 * @packageDocumentation
 */

export { parseCarrierUrl, transportFactoryFor } from '../connect.js';
export { boundReason, completeDeadLetterInfo } from '../dead-letter-info.js';
export {
  isMetadataHeader,
  METADATA_HEADER_PREFIX,
  metadataFromHeaders,
  metadataHeaders,
  TRACEPARENT_HEADER,
  TRACESTATE_HEADER,
} from '../metadata.js';
export { DELIVER_AT_HEADER, formatDeliverAt, parseDeliverAt } from '../publish-delay.js';
export {
  Backoff,
  type BackoffOptions,
  exponentialCeiling,
  exponentialDelay,
  type RetryingOptions,
  retrying,
  sleep,
} from './backoff.js';
export { DeadlineError, type DeadlineOptions, withDeadline } from './deadline.js';
export { asError, describeError } from './describe-error.js';
export { OncePerKey } from './once-per-key.js';
export { type Identified, nothingPublished, publishFailed } from './publish-failed.js';
export { isClientCertificateRefusal, isServerCertificateUntrusted } from './tls-refusal.js';
export { refuseRepeatedOptions, URL_FLAG_WORDS, urlChoice, urlFlag } from './url-options.js';
