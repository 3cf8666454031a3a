import { CarrierError, type CarrierErrorCode } from '@carrier/core';
import { describeError, isClientCertificateRefusal } from '@carrier/core/kit';

/** Transport name used in every error. */
export const TRANSPORT = 'rabbitmq';

/** A `CarrierError` raised by this transport. */
export function rabbitError(code: CarrierErrorCode, message: string, cause?: unknown): CarrierError {
  return new CarrierError(code, message, { transport: TRANSPORT, cause });
}

/** The AMQP reply code of an amqplib error (406 PRECONDITION_FAILED, 404 NOT_FOUND, …), if any. */
export function replyCode(error: unknown): number | undefined {
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === 'number' ? code : undefined;
}

/** A login the broker refused: `connection.close` 403 ACCESS_REFUSED during the handshake. */
const LOGIN_REFUSED = /ACCESS[-_]REFUSED/;
/**
 * A vhost the user may not use: the broker answers `connection.open` with `connection.close` 530
 * NOT_ALLOWED ("access to vhost 'v' refused for user 'u'", or "vhost v not found"); amqplib's error
 * names the frame only, without the broker's reply text.
 */
const VHOST_REFUSED = /Expected ConnectionOpenOk; got <ConnectionClose/;

/**
 * The `CarrierError` of a failed connect to `where` (a redacted URL) and `vhost`: `AUTH_FAILED` when
 * the broker refused the login (403 ACCESS_REFUSED), the vhost (530 NOT_ALLOWED) or the client
 * certificate (a TLS alert such as `certificate required` or `unknown ca`); a `CarrierError`
 * thrown on the way (an unreadable TLS file) as it is; else `CONNECTION` (unreachable broker,
 * deadline passed, a server certificate the client does not trust). amqplib's messages quote the
 * broker's reply text, which names the user and the vhost, never the password.
 */
export function connectFailure(cause: unknown, where: string, vhost: string): CarrierError {
  if (cause instanceof CarrierError) return cause;
  const detail = describeError(cause);
  if (isClientCertificateRefusal(cause)) {
    return rabbitError(
      'AUTH_FAILED',
      `${where}: the broker refused the client certificate (missing, or not issued by a CA it trusts): ${detail}`,
      cause,
    );
  }
  if (LOGIN_REFUSED.test(detail))
    return rabbitError('AUTH_FAILED', `${where}: the broker refused the login: ${detail}`, cause);
  if (VHOST_REFUSED.test(detail)) {
    return rabbitError(
      'AUTH_FAILED',
      `${where}: the broker refused access to vhost '${vhost}' (the user has no permission on it, or it does not exist)`,
      cause,
    );
  }
  return rabbitError('CONNECTION', `cannot connect to ${where}: ${detail}`, cause);
}

/**
 * The error of a first connect that no host accepted, from each host's {@link connectFailure} in
 * the URL's order: the only one as it is; else a refusal (`AUTH_FAILED`: the credentials, vhost and
 * certificate are the same on every host) when a host answered with one, else `CONNECTION` listing
 * every host's reason (redacted URLs, no credentials).
 */
export function noHostFailure(failures: readonly CarrierError[]): CarrierError {
  if (failures.length === 1) return failures[0]!;
  const refusal = failures.find((f) => f.code === 'AUTH_FAILED');
  if (refusal) return refusal;
  const reasons = failures.map((f) => f.message.replace(/^cannot connect to /, '')).join('; ');
  return rabbitError(
    'CONNECTION',
    `cannot connect to any of the ${failures.length} hosts: ${reasons}`,
    failures.at(-1)?.cause,
  );
}
