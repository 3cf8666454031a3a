/**
 * Stable error codes. A code never changes meaning once released; new codes may be added.
 *
 * - `INVALID_NAME`: a topic or group name is outside the portable grammar (see `validateName`).
 * - `INVALID_ARGUMENT`: an option, header or body is not acceptable; nothing was sent.
 * - `MESSAGE_TOO_LARGE`: the encoded message exceeds the transport's `capabilities.maxMessageBytes`.
 * - `UNSUPPORTED`: the transport cannot give what was asked (see `capabilities`), or its adapter
 *   package is not installed. Carrier never degrades silently.
 * - `CONNECTION`: the broker could not be reached or the connection was lost.
 * - `AUTH_FAILED`: the broker refused the credentials or the client certificate (SASL, AMQP
 *   login, NATS authorization, a TLS handshake the server rejected, signed requests refused). Not
 *   retried: retrying with the same credentials cannot succeed. The message names the user, never a
 *   password, token or key.
 * - `TIMEOUT`: an operation did not complete within its deadline.
 * - `CLOSED`: the carrier, subscription or transport was closed.
 * - `PUBLISH_FAILED`: the broker did not confirm one or more messages (see `failures`).
 * - `DECODE_FAILED`: a received body could not be decoded under its content type (or its codec:
 *   bad framing, a schema id the registry does not know, bytes that do not match the schema).
 * - `ENCODE_FAILED`: a codec could not encode a body for a reason other than the body itself
 *   (the schema registry could not be reached or refused the schema); nothing was sent.
 * - `INVALID_MESSAGE`: a body does not match the topic's schema or validator; nothing was sent
 *   (on publish), or the message was dead-lettered with the issues as its reason (on delivery).
 *   `issues` lists them.
 * - `SCHEMA_INCOMPATIBLE`: the schema registry refused a new schema version under the subject's
 *   compatibility rule (BACKWARD, FORWARD, FULL and their transitive forms); nothing was sent.
 * - `TOPOLOGY_CONFLICT`: existing broker objects (queues, streams) have conflicting settings.
 * - `SETTLE_FAILED`: acknowledging, retrying or dead-lettering a delivery failed; the broker
 *   will redeliver it (at-least-once).
 * - `LEASE_LOST`: this member lost its lease on a delivery before settling it (partition revoked,
 *   visibility timeout or ack wait expired, connection lost); the broker redelivers it, possibly to
 *   another member while this handler still runs. Reported to `onError` and as the reason of the
 *   handler's `signal`.
 * - `REQUEST_FAILED`: the handler that served a `carrier.request` failed for good — it threw
 *   (requests are not retried unless the subscription has `retryRequests: true`; then once its
 *   retries are exhausted or the error is a `NonRetryableError`), or the request's body could not
 *   be decoded. The error's `message` carries the remote reason (the handler's error message,
 *   bounded to 1 024 characters). Not a timeout: the requester learns it as soon as the reply arrives.
 * - `ABORTED`: the caller's `AbortSignal` (the `signal` option of `publish`, `publishBatch`,
 *   `subscribe`, `request`) fired before the call completed; `cause` is `signal.reason`. Aborted before the
 *   call, nothing reached the broker. Aborted while in flight, the outcome is unknown: the broker may
 *   still have accepted the message or created the consumer (a publish retried after `ABORTED` may
 *   be delivered twice; consumers deduplicate by `id`).
 */
export type CarrierErrorCode =
  | 'INVALID_NAME'
  | 'INVALID_ARGUMENT'
  | 'MESSAGE_TOO_LARGE'
  | 'UNSUPPORTED'
  | 'CONNECTION'
  | 'AUTH_FAILED'
  | 'TIMEOUT'
  | 'CLOSED'
  | 'PUBLISH_FAILED'
  | 'DECODE_FAILED'
  | 'ENCODE_FAILED'
  | 'INVALID_MESSAGE'
  | 'SCHEMA_INCOMPATIBLE'
  | 'TOPOLOGY_CONFLICT'
  | 'SETTLE_FAILED'
  | 'LEASE_LOST'
  | 'REQUEST_FAILED'
  | 'ABORTED';

/** One message of a batch that the broker did not confirm. */
export interface PublishFailure {
  /** Position of the message in the batch passed to `publishBatch` (0 for `publish`). */
  readonly index: number;
  /** The message id. */
  readonly id: string;
  /** Why the broker refused it or why the confirmation never came. */
  readonly error: Error;
}

/** One reason a body does not match its schema (the shape of Standard Schema's issues). */
export interface ValidationIssue {
  /** What is wrong, for people. */
  readonly message: string;
  /** Where: the keys and indexes from the body's root to the offending value; empty or absent for the root. */
  readonly path?: readonly (string | number)[] | undefined;
}

/** Options of {@link CarrierError}. */
export interface CarrierErrorOptions {
  /** Name of the transport that raised it (`kafka`, `rabbitmq`, `nats`, `sqs`, `memory`). */
  transport?: string | undefined;
  /** The underlying error, if any. Its message has been scrubbed of known credentials. */
  cause?: unknown;
  /** For `PUBLISH_FAILED`: exactly the messages that were not confirmed. */
  failures?: readonly PublishFailure[] | undefined;
  /** For `INVALID_MESSAGE`: why the body does not match its schema. */
  issues?: readonly ValidationIssue[] | undefined;
}

/**
 * The only error class Carrier throws. `code` is stable and meant for programs; `message` is for
 * people. Messages never contain credentials: URLs are redacted before they are put in one.
 */
export class CarrierError extends Error {
  /** Stable machine-readable code. */
  readonly code: CarrierErrorCode;
  /** Transport that raised the error, when one did. */
  readonly transport: string | undefined;
  /** For `PUBLISH_FAILED`: the messages that were not confirmed; the others were. */
  readonly failures: readonly PublishFailure[];
  /** For `INVALID_MESSAGE`: why the body does not match its schema; empty otherwise. */
  readonly issues: readonly ValidationIssue[];

  constructor(code: CarrierErrorCode, message: string, options: CarrierErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'CarrierError';
    this.code = code;
    this.transport = options.transport;
    this.failures = options.failures ?? [];
    this.issues = options.issues ?? [];
  }

  override toString(): string {
    return `CarrierError [${this.code}${this.transport ? ` ${this.transport}` : ''}]: ${this.message}`;
  }
}

/** True when `error` is a {@link CarrierError}, optionally with the given code. */
export function isCarrierError(error: unknown, code?: CarrierErrorCode): error is CarrierError {
  return error instanceof CarrierError && (code === undefined || error.code === code);
}

/**
 * Throw this from a handler to dead-letter the message at once, without retries: the message
 * can never succeed (bad data, a business rule), so retrying would only delay the inevitable.
 */
export class NonRetryableError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'NonRetryableError';
  }
}

/**
 * True when a failed publish can never succeed by trying again: the target rejected the message
 * itself, not the moment — a {@link CarrierError} with code `INVALID_ARGUMENT`, `INVALID_NAME` or
 * `MESSAGE_TOO_LARGE`. Forwarders (the bridge, the outbox relay) dead-letter such messages with
 * the reason instead of retrying them forever; every other failure is worth a retry.
 */
export function isPermanentPublishError(error: unknown): error is CarrierError {
  return (
    error instanceof CarrierError &&
    (error.code === 'INVALID_ARGUMENT' || error.code === 'INVALID_NAME' || error.code === 'MESSAGE_TOO_LARGE')
  );
}
