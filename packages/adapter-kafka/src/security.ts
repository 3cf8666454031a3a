import { readFile } from 'node:fs/promises';
import { type ConnectionOptions, createSecureContext, rootCertificates } from 'node:tls';
import { CarrierError } from '@carrier/core';
import { isClientCertificateRefusal, isServerCertificateUntrusted } from '@carrier/core/kit';
import { kafkaError, TRANSPORT } from './errors.js';
import type { KafkaUrlOptions } from './url.js';

// TLS settings from the URL's files, and which connect failures are refusals no retry can mend:
// a SASL login the broker refused, a client certificate it refused, a broker certificate this
// client does not trust.

async function readPem(name: string, file: string): Promise<string> {
  try {
    return await readFile(file, 'utf8');
  } catch (cause) {
    // the message names the path and the system error, never the file's content
    const code = (cause as { code?: string }).code ?? 'unreadable';
    throw new CarrierError('INVALID_ARGUMENT', `cannot read ${name} ${JSON.stringify(file)}: ${code}`, {
      transport: TRANSPORT,
    });
  }
}

/**
 * The `tls.connect` options of a parsed URL (kafkajs' `ssl`), with the PEM files read; `false`
 * without TLS.
 *
 * @throws CarrierError `INVALID_ARGUMENT` when a file cannot be read (the message names the path).
 */
export async function tlsConfig(options: KafkaUrlOptions): Promise<ConnectionOptions | false> {
  if (!options.tls) return false;
  const { caFile, certFile, keyFile, servername } = options.tlsOptions;
  const config: ConnectionOptions = {
    rejectUnauthorized: options.tlsRejectUnauthorized,
    ...(caFile === undefined ? {} : { ca: [...rootCertificates, await readPem('caFile', caFile)] }),
    ...(certFile === undefined ? {} : { cert: await readPem('certFile', certFile) }),
    ...(keyFile === undefined ? {} : { key: await readPem('keyFile', keyFile) }),
    ...(servername === undefined ? {} : { servername }),
  };
  checkTlsFiles(config, options.tlsOptions);
  return config;
}

/**
 * Build the TLS context once now: a certificate file holding no certificate, a key that is not
 * the certificate's, a CA file without a certificate. kafkajs would meet the same OpenSSL error at
 * each connection attempt and retry it as a network failure until `connectTimeoutMs` (a bare
 * TIMEOUT). OpenSSL's reason (`key values mismatch`, `no start line`) quotes no file content.
 */
function checkTlsFiles(config: ConnectionOptions, files: KafkaUrlOptions['tlsOptions']): void {
  try {
    createSecureContext({ ca: config.ca, cert: config.cert, key: config.key });
  } catch (cause) {
    const named = (['caFile', 'certFile', 'keyFile'] as const)
      .filter((n) => files[n] !== undefined)
      .map((n) => `${n} ${JSON.stringify(files[n])}`)
      .join(', ');
    const reason = (cause as Error).message.replace(/^error:[0-9A-F]+:/, '');
    throw new CarrierError('INVALID_ARGUMENT', `unusable TLS files (${named}): ${reason}`, {
      transport: TRANSPORT,
    });
  }
}

function chain(error: unknown): { name?: string; code?: string; message?: string }[] {
  const out: { name?: string; code?: string; message?: string }[] = [];
  let e = error as { name?: string; code?: string; message?: string; cause?: unknown } | undefined;
  while (e && typeof e === 'object' && out.length < 10) {
    out.push(e);
    e = e.cause as typeof e;
  }
  return out;
}

/** Whether a socket error is a TLS refusal (either side) that retrying cannot mend. */
export function tlsRefusal(error: unknown): boolean {
  return isClientCertificateRefusal(error) || isServerCertificateUntrusted(error);
}

/**
 * The CarrierError for a connect failure that is a refusal, else undefined:
 * - `AUTH_FAILED`: the broker refused the SASL login (bad password, unknown user, mechanism not
 *   enabled) or the client certificate (none sent, or not signed by a CA it trusts);
 * - `CONNECTION`: the broker's certificate is not trusted by this client (the credentials were
 *   never sent: a configuration error on the client's side, like a wrong host).
 * The message names the user, never the password.
 */
export function refusalError(cause: unknown, options: KafkaUrlOptions): CarrierError | undefined {
  const at = options.brokers.join(',');
  for (const e of chain(cause)) {
    if (e.name === 'KafkaJSSASLAuthenticationError') {
      const sasl = options.sasl;
      const who = sasl ? ` of user ${JSON.stringify(sasl.username)} (${sasl.mechanism})` : '';
      return new CarrierError('AUTH_FAILED', `kafka at ${at} refused the SASL login${who}`, {
        transport: TRANSPORT,
        cause,
      });
    }
  }
  // the TLS alert's code as Node names it (OpenSSL 3.0, Node 20: ERR_SSL_SSLV3_ALERT_BAD_CERTIFICATE;
  // OpenSSL 3.5, Node 24: ERR_SSL_SSL/TLS_ALERT_BAD_CERTIFICATE): the core kit reads both
  const code = chain(cause).find((e) => typeof e.code === 'string')?.code ?? 'TLS alert';
  if (isClientCertificateRefusal(cause))
    return kafkaError('AUTH_FAILED', `kafka at ${at} refused the TLS client certificate (${code})`, cause);
  if (isServerCertificateUntrusted(cause))
    return kafkaError('CONNECTION', `the certificate of kafka at ${at} is not trusted (${code})`, cause);
  return undefined;
}
