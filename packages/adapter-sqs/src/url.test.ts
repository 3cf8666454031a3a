import { CarrierError } from '@carrier/core';
import { describe, expect, it } from 'vitest';
import { parseSqsUrl } from './url.js';

describe('sqs:// URLs', () => {
  it('maps host:port to an emulator endpoint and no host (or aws) to AWS', () => {
    expect(parseSqsUrl(new URL('sqs://127.0.0.1:4566?region=us-east-1'))).toMatchObject({
      endpoint: 'http://127.0.0.1:4566',
      region: 'us-east-1',
      sns: true,
      fifo: false,
      provision: true,
      visibilityTimeoutSeconds: 15,
      waitTimeSeconds: 5,
      requestTimeoutMs: 10_000,
      caFile: undefined,
      connectTimeoutMs: undefined,
    });
    expect(parseSqsUrl(new URL('sqs://?region=eu-west-1'))).toMatchObject({
      endpoint: undefined,
      region: 'eu-west-1',
    });
    expect(parseSqsUrl(new URL('sqs://aws'))).toMatchObject({ endpoint: undefined, region: undefined });
    expect(parseSqsUrl(new URL('sqs://emu:443?tls=true')).endpoint).toBe('https://emu:443');
    expect(parseSqsUrl(new URL('sqs://emu:443?tls=true&caFile=%2Fca.pem')).caFile).toBe('/ca.pem');
    expect(() => parseSqsUrl(new URL('sqs://emu:443?caFile=%2Fca.pem'))).toThrow(/caFile needs tls/);
  });

  it("reads the deadlines (ms) and accepts core's connectTimeoutMs", () => {
    expect(parseSqsUrl(new URL('sqs://h:1?requestTimeoutMs=2500&connectTimeoutMs=1000'))).toMatchObject({
      requestTimeoutMs: 2_500,
      connectTimeoutMs: 1_000,
    });
    expect(() => parseSqsUrl(new URL('sqs://h:1?requestTimeoutMs=0'))).toThrow(CarrierError);
  });

  it('reads the modes and timings', () => {
    expect(
      parseSqsUrl(
        new URL('sqs://h:1?sns=false&fifo=true&provision=false&visibilityTimeout=30&waitTimeSeconds=5'),
      ),
    ).toMatchObject({
      sns: false,
      fifo: true,
      provision: false,
      visibilityTimeoutSeconds: 30,
      waitTimeSeconds: 5,
    });
  });

  it('refuses credentials in the URL without echoing them, unknown options and bad values', () => {
    let error: unknown;
    try {
      parseSqsUrl(new URL('sqs://AKIAEXAMPLE:s3cr3t@h:1'));
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(CarrierError);
    expect((error as CarrierError).code).toBe('INVALID_ARGUMENT');
    expect(String(error)).not.toMatch(/s3cr3t|AKIAEXAMPLE/);
    expect(() => parseSqsUrl(new URL('sqs://h:1?nope=1'))).toThrow(/unknown sqs:\/\/ option/);
    expect(() => parseSqsUrl(new URL('sqs://h:1?fifo=maybe'))).toThrow(/fifo must be true or false/);
    expect(() => parseSqsUrl(new URL('sqs://h:1?waitTimeSeconds=21'))).toThrow(/0 to 20/);
  });
});

describe('sqs:// options given twice', () => {
  it('refuses a repeated option with INVALID_ARGUMENT naming it, never the URL', () => {
    for (const url of [
      'sqs://h:4566?fifo=true&fifo=false',
      'sqs://h:4566?region=eu-west-1&sns=false&region=us-east-1',
      'sqs://?caFile=/a.pem&caFile=/b.pem&tls=true',
    ]) {
      const name = new URL(url).searchParams.keys().next().value!;
      let error: unknown;
      try {
        parseSqsUrl(new URL(url));
      } catch (e) {
        error = e;
      }
      expect(error, url).toBeInstanceOf(CarrierError);
      expect((error as CarrierError).code, url).toBe('INVALID_ARGUMENT');
      expect((error as CarrierError).transport, url).toBe('sqs');
      expect((error as Error).message, url).toContain(`"${name}" is given 2 times`);
      expect((error as Error).message, url).not.toContain('://');
    }
  });
});

describe('sqs:// flags', () => {
  it('reads sns, fifo, provision and tls as true/false, on/off, yes/no, 1/0 in any case', () => {
    expect(parseSqsUrl(new URL('sqs://h:1?sns=False&fifo=TRUE&provision=off&tls=Yes'))).toMatchObject({
      sns: false,
      fifo: true,
      provision: false,
      endpoint: 'https://h:1',
    });
    expect(parseSqsUrl(new URL('sqs://h:1?fifo=1&sns=ON&provision=NO'))).toMatchObject({
      sns: true,
      fifo: true,
      provision: false,
    });
  });

  it('refuses another value with INVALID_ARGUMENT listing the accepted words', () => {
    for (const url of ['sqs://h:1?fifo=maybe', 'sqs://h:1?sns=', 'sqs://h:1?provision=2'])
      expect(() => parseSqsUrl(new URL(url)), url).toThrow(
        /must be true or false \(or on\/off, yes\/no, 1\/0; in any case\)/,
      );
  });
});
