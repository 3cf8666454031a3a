import { CarrierError, type CarrierErrorCode } from '@carrier/core';
import { describeError } from '@carrier/core/kit';

/** Transport name used in every error. */
export const TRANSPORT = 'sqs';

/** Name of an AWS SDK error (`QueueDoesNotExist`, `AbortError`, …) or of a Node.js system error code. */
export function errorName(error: unknown): string {
  if (error && typeof error === 'object') {
    const e = error as { name?: unknown; code?: unknown; Code?: unknown };
    if (typeof e.code === 'string' && e.code.startsWith('E')) return e.code;
    if (typeof e.name === 'string' && e.name !== 'Error') return e.name;
    if (typeof e.Code === 'string') return e.Code;
  }
  return 'Error';
}

/** Whether the error comes from an AbortSignal (a receive cancelled by close or abort). */
export function isAbort(error: unknown): boolean {
  return errorName(error) === 'AbortError';
}

/**
 * AWS error names with which a service refuses the caller's credentials or their signature (an
 * unknown access key, a wrong secret key, an expired session token), or refuses the caller every
 * action (`AccessDenied`): what `connect()` reports as `AUTH_FAILED`. The SDK retries
 * `SignatureDoesNotMatch` a few times (it may be clock skew) before it fails.
 */
const AUTH_REFUSED = new Set([
  'InvalidClientTokenId',
  'UnrecognizedClientException',
  'SignatureDoesNotMatch',
  'InvalidSignatureException',
  'IncompleteSignature',
  'InvalidAccessKeyId',
  'MissingAuthenticationToken',
  'ExpiredToken',
  'ExpiredTokenException',
  'AuthFailure',
  'AccessDenied',
  'AccessDeniedException',
  'CredentialsProviderError',
]);

/**
 * Whether the service (or the SDK's credential chain) refused or lacks the credentials: a name of
 * {@link AUTH_REFUSED}, or any answer with HTTP status 403 (what SQS and SNS answer refused
 * credentials with; moto answers the JSON protocol's refusals in XML, which the SDK then reports
 * as a deserialization `SyntaxError` carrying only the status).
 */
export function authRefused(error: unknown): boolean {
  const status = (error as { $metadata?: { httpStatusCode?: number } } | undefined)?.$metadata
    ?.httpStatusCode;
  return AUTH_REFUSED.has(errorName(error)) || status === 403;
}

/**
 * Wrap an AWS SDK error as a CarrierError (`CONNECTION` unless `code` says otherwise). The AWS
 * message names the operation and the failure, never the credentials (the SDK does not put secret
 * keys in errors; Carrier never reads credentials itself).
 */
export function awsError(
  operation: string,
  error: unknown,
  code: CarrierErrorCode = 'CONNECTION',
): CarrierError {
  if (error instanceof CarrierError) return error;
  return new CarrierError(code, `${operation} failed: ${errorName(error)}: ${describeError(error)}`, {
    transport: TRANSPORT,
    cause: error,
  });
}

/** The CLOSED error of this transport. */
export function closedError(): CarrierError {
  return new CarrierError('CLOSED', 'sqs connection is closed', { transport: TRANSPORT });
}
