// A throwaway certificate authority for TLS tests: a CA, server certificates for 127.0.0.1 and
// localhost, and client certificates, made with the machine's `openssl` (a well-kept tool beats a
// hand-written X.509 encoder) in a fresh temporary folder that `remove()` deletes.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';

/** PEM files of one certificate and its key (paths, and contents for clients that take strings). */
export interface CertFiles {
  /** Path of the certificate (PEM). */
  readonly certFile: string;
  /** Path of the private key (PEM, unencrypted PKCS#8). */
  readonly keyFile: string;
  /** The certificate's PEM text. */
  readonly cert: string;
  /** The key's PEM text. */
  readonly key: string;
}

/** A throwaway CA; every certificate it issues lives in `dir` until {@link Pki.remove}. */
export interface Pki {
  /** The folder holding every file. */
  readonly dir: string;
  /** The CA certificate (PEM path and text): what clients and servers trust. */
  readonly ca: { readonly certFile: string; readonly cert: string };
  /** A server certificate for `127.0.0.1`, `::1` and `localhost` (plus `altNames`). */
  server(name: string, altNames?: readonly string[]): CertFiles;
  /** A client certificate whose subject CN is `commonName` (RabbitMQ's EXTERNAL login uses it). */
  client(commonName: string): CertFiles;
  /** Writes the certificate and key into one PKCS#12 file (for JVM brokers), returns its path. */
  pkcs12(files: CertFiles, name: string, password: string): string;
  /** A JKS-free PKCS#12 trust store holding the CA only (for JVM brokers), returns its path. */
  truststore(name: string, password: string): string;
  /** Deletes the folder. */
  remove(): void;
}

function openssl(args: readonly string[], cwd: string): void {
  execFileSync('openssl', args, { cwd, stdio: ['ignore', 'ignore', 'pipe'] });
}

/** Creates a CA valid for one day (tests need no more) with an RSA 2048 key. */
export function createPki(): Pki {
  const dir = mkdtempSync(path.join(tmpdir(), 'carrier-pki-'));
  const file = (name: string) => path.join(dir, name);
  openssl(
    [
      'req',
      '-x509',
      '-newkey',
      'rsa:2048',
      '-nodes',
      '-days',
      '1',
      '-subj',
      '/CN=Carrier test CA',
      '-keyout',
      'ca.key',
      '-out',
      'ca.pem',
      '-addext',
      'basicConstraints=critical,CA:TRUE',
      '-addext',
      'keyUsage=critical,keyCertSign,cRLSign',
    ],
    dir,
  );
  const issue = (name: string, subject: string, extensions: string): CertFiles => {
    openssl(
      [
        'req',
        '-newkey',
        'rsa:2048',
        '-nodes',
        '-subj',
        subject,
        '-keyout',
        `${name}.key`,
        '-out',
        `${name}.csr`,
      ],
      dir,
    );
    writeFileSync(file(`${name}.ext`), extensions);
    openssl(
      [
        'x509',
        '-req',
        '-in',
        `${name}.csr`,
        '-CA',
        'ca.pem',
        '-CAkey',
        'ca.key',
        '-CAcreateserial',
        '-days',
        '1',
        '-out',
        `${name}.pem`,
        '-extfile',
        `${name}.ext`,
      ],
      dir,
    );
    return {
      certFile: file(`${name}.pem`),
      keyFile: file(`${name}.key`),
      cert: readFileSync(file(`${name}.pem`), 'utf8'),
      key: readFileSync(file(`${name}.key`), 'utf8'),
    };
  };
  return {
    dir,
    ca: { certFile: file('ca.pem'), cert: readFileSync(file('ca.pem'), 'utf8') },
    server(name, altNames = []) {
      const sans = ['IP:127.0.0.1', 'IP:::1', 'DNS:localhost', ...altNames.map((n) => `DNS:${n}`)];
      return issue(name, `/CN=${name}`, `subjectAltName=${sans.join(',')}\nextendedKeyUsage=serverAuth\n`);
    },
    client(commonName) {
      return issue(`client-${commonName}`, `/CN=${commonName}`, 'extendedKeyUsage=clientAuth\n');
    },
    pkcs12(files, name, password) {
      const out = file(`${name}.p12`);
      openssl(
        [
          'pkcs12',
          '-export',
          '-in',
          files.certFile,
          '-inkey',
          files.keyFile,
          '-certfile',
          'ca.pem',
          '-name',
          name,
          '-out',
          out,
          '-passout',
          `pass:${password}`,
        ],
        dir,
      );
      return out;
    },
    truststore(name, password) {
      const out = file(`${name}.p12`);
      execFileSync(
        'keytool',
        [
          '-importcert',
          '-noprompt',
          '-alias',
          'ca',
          '-file',
          file('ca.pem'),
          '-keystore',
          out,
          '-storetype',
          'PKCS12',
          '-storepass',
          password,
        ],
        { stdio: ['ignore', 'ignore', 'pipe'] },
      );
      return out;
    },
    remove() {
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
