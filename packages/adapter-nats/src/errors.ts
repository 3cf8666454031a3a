import { CarrierError, type CarrierErrorCode } from '@carrier/core';
import { describeError } from '@carrier/core/kit';
import { JetStreamApiError } from '@nats-io/jetstream';

/** The transport name errors carry. */
export const TRANSPORT = 'nats';

/** JetStream API error codes (`err_code`) the adapter acts on. */
export const API = {
  streamNotFound: 10059,
  consumerNotFound: 10014,
  streamNameInUse: 10058,
  consumerExists: 10148,
  consumerAlreadyExists: 10105,
  noMessageFound: 10037,
} as const;

/** The JetStream API error code of a thrown value, if it is a JetStream API error. */
export function apiCode(error: unknown): number | undefined {
  return error instanceof JetStreamApiError ? error.code : undefined;
}

/** A `CarrierError` of this transport. */
export function fail(code: CarrierErrorCode, message: string, cause?: unknown): CarrierError {
  return new CarrierError(code, message, { transport: TRANSPORT, cause });
}

/** Whether a thrown value is a nats.js timeout. */
export function isTimeout(error: unknown): boolean {
  return error instanceof Error && (error.name === 'TimeoutError' || /timeout/i.test(error.message));
}

/**
 * A failed broker operation as a `CarrierError`: kept as it is if it already is one; `CLOSED` once
 * the transport was closed; else `TIMEOUT` or `CONNECTION`, the message prefixed with `what`.
 */
export type Wrap = (error: unknown, what: string) => CarrierError;

/** The {@link Wrap} of a transport that tells whether it was closed. */
export function wrapper(closed: () => boolean): Wrap {
  return (error, what) => {
    if (error instanceof CarrierError) return error;
    if (closed()) return fail('CLOSED', `${what}: the connection is closed`, error);
    return fail(isTimeout(error) ? 'TIMEOUT' : 'CONNECTION', `${what}: ${describeError(error)}`, error);
  };
}

/** The server refused to create an object (e.g. its subjects overlap another stream's): `TOPOLOGY_CONFLICT`. */
export function refused(error: unknown, what: string, wrap: Wrap): CarrierError {
  if (error instanceof JetStreamApiError)
    return fail('TOPOLOGY_CONFLICT', `${what}: ${error.message}`, error);
  return wrap(error, what);
}
