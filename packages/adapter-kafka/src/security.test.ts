import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { refusalError, tlsConfig, tlsRefusal } from './security.js';
import { parseKafkaUrl } from './url.js';

const options = parseKafkaUrl(new URL('kafkas://alice:pw-secret-1@h:9093?sasl=scram-sha-512'));
const coded = (code: string) => Object.assign(new Error(`Connection error: ${code}`), { code });
const wrapped = (cause: Error) => Object.assign(new Error('retries exceeded'), { cause });

describe('refusalError', () => {
  it('is AUTH_FAILED for a refused SASL login, naming the user, never the password', () => {
    const sasl = Object.assign(new Error('SASL SCRAM SHA512 authentication failed'), {
      name: 'KafkaJSSASLAuthenticationError',
    });
    const error = refusalError(wrapped(sasl), options);
    expect(error?.code).toBe('AUTH_FAILED');
    expect(error?.message).toContain('"alice" (scram-sha-512)');
    expect(error?.message).not.toContain('pw-secret-1');
  });

  it('is AUTH_FAILED for a refused client certificate, CONNECTION for an untrusted broker certificate', () => {
    const refused = [
      'ERR_SSL_TLSV13_ALERT_CERTIFICATE_REQUIRED',
      'ERR_SSL_TLSV1_ALERT_UNKNOWN_CA',
      // Node 24 (OpenSSL 3.5) names the same alerts after OpenSSL's new reason strings
      'ERR_SSL_SSL/TLS_ALERT_BAD_CERTIFICATE',
      'ERR_SSL_SSL/TLS_ALERT_CERTIFICATE_UNKNOWN',
    ];
    for (const code of refused) {
      expect(refusalError(wrapped(coded(code)), options)?.code).toBe('AUTH_FAILED');
      expect(tlsRefusal(wrapped(coded(code)))).toBe(true);
    }
    for (const code of ['SELF_SIGNED_CERT_IN_CHAIN', 'ERR_TLS_CERT_ALTNAME_INVALID'])
      expect(refusalError(coded(code), options)?.code).toBe('CONNECTION');
    expect(tlsRefusal(coded('UNABLE_TO_VERIFY_LEAF_SIGNATURE'))).toBe(true);
  });

  it('is undefined for failures a retry may mend', () => {
    expect(refusalError(coded('ECONNREFUSED'), options)).toBeUndefined();
    expect(tlsRefusal(coded('ECONNRESET'))).toBe(false);
  });
});

describe('tlsConfig', () => {
  it('is false without TLS and names the path of an unreadable file, INVALID_ARGUMENT', async () => {
    expect(await tlsConfig(parseKafkaUrl(new URL('kafka://h')))).toBe(false);
    await expect(
      tlsConfig(parseKafkaUrl(new URL('kafkas://h?caFile=/nonexistent/ca.pem'))),
    ).rejects.toMatchObject({
      code: 'INVALID_ARGUMENT',
      message: expect.stringContaining('/nonexistent/ca.pem'),
    });
  });

  it("refuses a key that is not the certificate's, or a certificate file holding a key, at once with INVALID_ARGUMENT naming the files (kafkajs retried it until TIMEOUT)", async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'kafka-tls-'));
    dirs.push(dir);
    const file = (name: string) => path.join(dir, name);
    for (const n of ['a', 'b'])
      execFileSync(
        'openssl',
        [
          'req',
          '-x509',
          '-newkey',
          'rsa:2048',
          '-nodes',
          '-keyout',
          file(`${n}.key`),
          '-out',
          file(`${n}.pem`),
          '-days',
          '1',
          '-subj',
          `/CN=${n}`,
        ],
        { stdio: 'ignore' },
      );
    const config = (q: string) => tlsConfig(parseKafkaUrl(new URL(`kafkas://h?${q}`)));
    expect(
      await config(`certFile=${file('a.pem')}&keyFile=${file('a.key')}&caFile=${file('b.pem')}`),
    ).toMatchObject({ cert: expect.any(String) });
    for (const [q, reason] of [
      [`certFile=${file('a.pem')}&keyFile=${file('b.key')}`, /key values mismatch/],
      [`certFile=${file('a.key')}&keyFile=${file('a.key')}`, /no start line/],
    ] as const) {
      const error = await config(q).catch((e: unknown) => e);
      expect(error).toMatchObject({ code: 'INVALID_ARGUMENT', message: expect.stringMatching(reason) });
      expect((error as Error).message).toContain(
        `certFile ${JSON.stringify(file(q.includes('a.pem') ? 'a.pem' : 'a.key'))}`,
      );
      expect((error as Error).message).not.toContain('PRIVATE KEY');
    }
  });
});

const dirs: string[] = [];
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});
