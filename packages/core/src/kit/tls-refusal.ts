/**
 * TLS alerts a server sends when it rejects the client's certificate (or the lack of one): the
 * OpenSSL alert names of RFC 8446 §6.2, as Node's `ERR_SSL_*_ALERT_*` error codes and messages.
 */
const CLIENT_CERT_ALERT =
  /ALERT[ _](BAD[ _]CERTIFICATE|UNKNOWN[ _]CA|CERTIFICATE[ _]REQUIRED|CERTIFICATE[ _]UNKNOWN|CERTIFICATE[ _]EXPIRED|CERTIFICATE[ _]REVOKED|UNSUPPORTED[ _]CERTIFICATE|ACCESS[ _]DENIED)/i;

/** Node's verification codes for a server certificate the client does not trust. */
const SERVER_CERT_UNTRUSTED = new Set([
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'UNABLE_TO_GET_ISSUER_CERT',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'SELF_SIGNED_CERT_IN_CHAIN',
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'CERT_HAS_EXPIRED',
  'CERT_NOT_YET_VALID',
  'CERT_UNTRUSTED',
  'CERT_REVOKED',
  'ERR_TLS_CERT_ALTNAME_INVALID',
]);

function* chain(error: unknown): Generator<{ code?: unknown; message?: unknown }> {
  const seen = new Set<unknown>();
  for (let e = error; e !== null && typeof e === 'object' && !seen.has(e); ) {
    seen.add(e);
    yield e as { code?: unknown; message?: unknown };
    e = (e as { cause?: unknown }).cause;
  }
}

/**
 * Whether `error` (or an error in its `cause` chain) is a TLS alert by which the server refused
 * the client certificate: missing (`certificate required`), untrusted (`unknown ca`, `bad
 * certificate`), expired or revoked. Adapters report such a refusal as `AUTH_FAILED`: the client's
 * credential was refused, and retrying with it cannot succeed.
 */
export function isClientCertificateRefusal(error: unknown): boolean {
  for (const e of chain(error)) {
    const text = `${typeof e.code === 'string' ? e.code : ''} ${typeof e.message === 'string' ? e.message : ''}`;
    if (CLIENT_CERT_ALERT.test(text)) return true;
  }
  return false;
}

/**
 * Whether `error` (or an error in its `cause` chain) says the client did not trust the server's
 * certificate (unknown issuer, self-signed, expired, wrong host name). Carrier reports it as
 * `CONNECTION`, not `AUTH_FAILED`: nothing of the client's was refused; the client refused the
 * server (a wrong `caFile`/`tlsCa`, or a man in the middle).
 */
export function isServerCertificateUntrusted(error: unknown): boolean {
  for (const e of chain(error))
    if (typeof e.code === 'string' && SERVER_CERT_UNTRUSTED.has(e.code)) return true;
  return false;
}
