import { CarrierError, type CarrierErrorCode } from '@carrier/core';
import { describeError, isClientCertificateRefusal } from '@carrier/core/kit';
import { JetStreamApiError } from '@nats-io/jetstream';
import { AuthorizationError, UserAuthenticationExpiredError } from '@nats-io/transport-node';
import type { NatsSettings } from './url.js';

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
  /** `replicas > 1 not supported in non-clustered mode` (a single server). */
  replicasNotSupported: 10074,
  /** `insufficient resources` (e.g. fewer servers than replicas). */
  insufficientResources: 10023,
  /** `no suitable peers for placement` (fewer servers than replicas, older servers). */
  noSuitablePeers: 10005,
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

/**
 * Why the server refused a stream of `replicas` replicas, for the error message: a stream with R
 * replicas needs a JetStream cluster of at least R servers (nats-server answers a single server
 * with 10074, a cluster too small with 10023 or 10005). Empty for other refusals or one replica.
 */
export function replicasHint(error: unknown, replicas: number): string {
  const code = apiCode(error);
  const tooFew =
    code === API.replicasNotSupported || code === API.insufficientResources || code === API.noSuitablePeers;
  if (!tooFew || replicas <= 1) return '';
  return ` (the URL asks for replicas=${replicas}: a stream with ${replicas} replicas needs a JetStream cluster of at least ${replicas} servers; use replicas=1 on a single server)`;
}

/** Whether `error` or one of its causes is nats-server's `Authorization Violation` (or expired user). */
export function isAuthorizationError(error: unknown): boolean {
  const seen = new Set<unknown>();
  for (let e = error; e instanceof Error && !seen.has(e); e = e.cause) {
    seen.add(e);
    if (e instanceof AuthorizationError || e instanceof UserAuthenticationExpiredError) return true;
  }
  return false;
}

/** How the connection logged in, for an error message: names the user or public key, never a secret. */
export function loginOf(settings: Pick<NatsSettings, 'user' | 'token' | 'nkey'>): string {
  if (settings.nkey) return `nkey ${settings.nkey.publicKey}`;
  if (settings.user !== undefined) return `user ${JSON.stringify(settings.user)}`;
  if (settings.token !== undefined) return 'a token';
  return 'no credentials';
}

/**
 * The `CarrierError` of a failed first connect: `AUTH_FAILED` when the server answered
 * `Authorization Violation` or refused the client certificate (a TLS alert); `TIMEOUT` when the dial
 * hit its deadline; else `CONNECTION` (unreachable, a server certificate not trusted, …). nats.js's
 * messages quote the server's `-ERR` line, which never holds the credentials.
 */
export function connectFailure(
  cause: unknown,
  settings: Pick<NatsSettings, 'servers' | 'user' | 'token' | 'nkey'>,
): CarrierError {
  if (cause instanceof CarrierError) return cause;
  const where = `nats-server (${settings.servers.join(', ')})`;
  if (isAuthorizationError(cause)) {
    return fail(
      'AUTH_FAILED',
      `${where} refused the login with ${loginOf(settings)}: ${describeError(cause)}`,
      cause,
    );
  }
  if (isClientCertificateRefusal(cause)) {
    return fail(
      'AUTH_FAILED',
      `${where} refused the client certificate (missing, or not issued by a CA it trusts): ${describeError(cause)}`,
      cause,
    );
  }
  return fail(
    isTimeout(cause) ? 'TIMEOUT' : 'CONNECTION',
    `cannot connect to ${where}: ${describeError(cause)}`,
    cause,
  );
}
