import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseKafkaUrl } from '@carrier/adapter-kafka/driver-kit';
import { CarrierError } from '@carrier/core';
import { describe, expect, it } from 'vitest';
import { clientOptions } from './client-options.js';

const options = (url: string, connectTimeoutMs = 10_000) =>
  clientOptions(parseKafkaUrl(new URL(url)), connectTimeoutMs);

describe('clientOptions (URL options on @platformatic/kafka)', () => {
  it('maps brokers, client id and deadlines', async () => {
    const o = await options(
      'kafka://a,b:9093?client=platformatic&clientId=app&requestTimeoutMs=5000&connectionTimeoutMs=2000',
    );
    expect(o.bootstrapBrokers).toEqual(['a:9093', 'b:9093']);
    expect(o.clientId).toBe('app');
    expect(o.requestTimeout).toBe(5_000);
    expect(o.timeout).toBe(5_000);
    expect(o.connectTimeout).toBe(2_000);
    expect(o.tls).toBeUndefined();
    expect(o.sasl).toBeUndefined();
  });

  it('caps the connect timeout of one attempt by connectTimeoutMs', async () => {
    expect((await options('kafka://h?client=platformatic', 1_500)).connectTimeout).toBe(1_500);
  });

  it('maps each SASL mechanism, credentials from the user info', async () => {
    for (const [sasl, mechanism] of [
      ['plain', 'PLAIN'],
      ['scram-sha-256', 'SCRAM-SHA-256'],
      ['scram-sha-512', 'SCRAM-SHA-512'],
    ] as const) {
      const o = await options(`kafka://u%40x:p%3Aw@h?client=platformatic&sasl=${sasl}`);
      expect(o.sasl).toEqual({ mechanism, username: 'u@x', password: 'p:w' });
    }
  });

  it('maps TLS: rejectUnauthorized, servername and the CA file', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'carrier-plat-'));
    const ca = join(dir, 'ca.pem');
    await writeFile(ca, '-----BEGIN CERTIFICATE-----\nnot checked here\n-----END CERTIFICATE-----\n');
    const o = await options(
      `kafkas://h?client=platformatic&tlsRejectUnauthorized=false&servername=broker.test&caFile=${ca}`,
    );
    expect(o.tls).toMatchObject({ rejectUnauthorized: false, servername: 'broker.test' });
    expect(o.tls?.ca).toBeDefined();
  });

  it('refuses a log level: @platformatic/kafka has no logger (never silently ignored)', async () => {
    const error = await options('kafka://h?client=platformatic&logLevel=debug').catch((e: unknown) => e);
    expect(error).toBeInstanceOf(CarrierError);
    expect((error as CarrierError).code).toBe('INVALID_ARGUMENT');
    expect((error as CarrierError).message).toMatch(
      /logLevel=debug is not supported with client=platformatic/,
    );
  });

  it('an unreadable TLS file is INVALID_ARGUMENT', async () => {
    const error = await options('kafkas://h?client=platformatic&caFile=/nonexistent/ca.pem').catch(
      (e: unknown) => e,
    );
    expect((error as CarrierError).code).toBe('INVALID_ARGUMENT');
  });
});
