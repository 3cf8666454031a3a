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
    expect(() => parseSqsUrl(new URL('sqs://h:1?fifo=yes'))).toThrow(/true or false/);
    expect(() => parseSqsUrl(new URL('sqs://h:1?waitTimeSeconds=21'))).toThrow(/0 to 20/);
  });
});
