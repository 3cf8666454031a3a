import { describe, expect, it } from 'vitest';
import { isClientCertificateRefusal, isServerCertificateUntrusted } from './tls-refusal.js';

function nodeError(code: string, message: string): Error {
  return Object.assign(new Error(message), { code });
}

describe('TLS refusals', () => {
  it('recognizes the alerts by which a server refuses the client certificate, also in a cause', () => {
    for (const [code, message] of [
      ['ERR_SSL_TLSV13_ALERT_CERTIFICATE_REQUIRED', 'tlsv13 alert certificate required'],
      ['ERR_SSL_TLSV1_ALERT_UNKNOWN_CA', 'tlsv1 alert unknown ca'],
      ['ERR_SSL_SSLV3_ALERT_BAD_CERTIFICATE', 'sslv3 alert bad certificate'],
    ] as const) {
      expect(isClientCertificateRefusal(nodeError(code, message))).toBe(true);
      expect(isClientCertificateRefusal(new Error('wrapped', { cause: nodeError(code, message) }))).toBe(
        true,
      );
      expect(isServerCertificateUntrusted(nodeError(code, message))).toBe(false);
    }
  });

  it('tells an untrusted server certificate apart, and ignores other errors', () => {
    const untrusted = nodeError('UNABLE_TO_VERIFY_LEAF_SIGNATURE', 'unable to verify the first certificate');
    expect(isServerCertificateUntrusted(untrusted)).toBe(true);
    expect(isServerCertificateUntrusted(nodeError('ERR_TLS_CERT_ALTNAME_INVALID', 'altname'))).toBe(true);
    expect(isClientCertificateRefusal(untrusted)).toBe(false);
    for (const other of [nodeError('ECONNREFUSED', 'connect ECONNREFUSED'), 'text', null, undefined]) {
      expect(isClientCertificateRefusal(other)).toBe(false);
      expect(isServerCertificateUntrusted(other)).toBe(false);
    }
  });

  it('stops on a cause cycle', () => {
    const a = new Error('a');
    const b = new Error('b', { cause: a });
    (a as { cause?: unknown }).cause = b;
    expect(isClientCertificateRefusal(a)).toBe(false);
  });
});
