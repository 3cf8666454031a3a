import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTransport } from './factory.js';

// TLS files that can be read but not used, checked before dialling (port 1: nothing is dialled).

let dir: string;
const file = (name: string) => path.join(dir, name);

beforeAll(() => {
  dir = mkdtempSync(path.join(tmpdir(), 'rabbit-tls-'));
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
      ].concat(['-days', '1', '-subj', `/CN=${n}`]),
      { stdio: 'ignore' },
    );
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('rabbitmq TLS files', () => {
  it("refuses a keyFile that is not the certFile's key, or a certFile holding a key, with INVALID_ARGUMENT naming the files", async () => {
    for (const [query, reason] of [
      [
        `certFile=${file('a.pem')}&keyFile=${file('b.key')}`,
        /certFile .*a\.pem, keyFile .*b\.key\): .*key values mismatch/,
      ],
      [`certFile=${file('a.key')}&keyFile=${file('a.key')}`, /no start line/],
    ] as const) {
      const error = await createTransport(new URL(`amqps://127.0.0.1:1/?${query}`), {
        onError: () => {},
        connectTimeoutMs: 5_000,
      }).catch((e: unknown) => e);
      expect(error).toMatchObject({ code: 'INVALID_ARGUMENT', message: expect.stringMatching(reason) });
      expect((error as Error).message).not.toContain('PRIVATE KEY');
    }
  });
});
