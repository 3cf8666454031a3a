import { CarrierError } from '@carrier/core';
import { parseCarrierUrl } from '@carrier/core/kit';
import { describe, expect, it } from 'vitest';
import { parseKafkaUrl } from './url.js';

const parse = (url: string) => parseKafkaUrl(new URL(url));

describe('parseKafkaUrl', () => {
  it('applies the defaults', () => {
    const o = parse('kafka://127.0.0.1:9092');
    expect(o.brokers).toEqual(['127.0.0.1:9092']);
    expect(o.clientId).toBe('carrier');
    expect(o.partitions).toBe(3);
    expect(o.replicationFactor).toBeUndefined();
    expect(o.provisioning).toBe(true);
    expect(o.tls).toBe(false);
    expect(o.sasl).toBeUndefined();
    expect(o.sessionTimeoutMs).toBe(10_000);
    expect(o.rebalanceTimeoutMs).toBe(30_000);
    expect(o.requestTimeoutMs).toBe(20_000);
    expect(o.connectionTimeoutMs).toBe(3_000);
    expect(o.client).toBe('kafkajs');
  });

  it('refuses heartbeatIntervalMs at or above sessionTimeoutMs with INVALID_ARGUMENT naming both values', () => {
    for (const url of [
      'kafka://h?sessionTimeoutMs=6000&heartbeatIntervalMs=6000',
      'kafka://h?sessionTimeoutMs=6000&heartbeatIntervalMs=7000',
      'kafka://h?heartbeatIntervalMs=10000', // the default session timeout, 10 000 ms
      'kafka://h?client=platformatic&sessionTimeoutMs=2000&heartbeatIntervalMs=3000',
    ]) {
      let error: unknown;
      try {
        parse(url);
      } catch (e) {
        error = e;
      }
      expect(error, url).toBeInstanceOf(CarrierError);
      expect((error as CarrierError).code, url).toBe('INVALID_ARGUMENT');
      const { searchParams } = new URL(url);
      const heartbeat = searchParams.get('heartbeatIntervalMs');
      const session = searchParams.get('sessionTimeoutMs') ?? '10000';
      expect((error as CarrierError).message, url).toContain(
        `heartbeatIntervalMs (${heartbeat}) must be less than sessionTimeoutMs (${session})`,
      );
    }
    expect(parse('kafka://h?sessionTimeoutMs=6000&heartbeatIntervalMs=5999').heartbeatIntervalMs).toBe(5_999);
    expect(parse('kafka://h?sessionTimeoutMs=1000').heartbeatIntervalMs).toBe(333); // the default: a third
  });

  it('reads the client library: kafkajs or platformatic, nothing else', () => {
    expect(parse('kafka://h?client=platformatic').client).toBe('platformatic');
    expect(parse('kafkas://h?client=kafkajs').client).toBe('kafkajs');
    expect(() => parse('kafka://h?client=rdkafka')).toThrow(/client must be one of kafkajs, platformatic/);
  });

  it('reads the deadline and liveness knobs; the rebalance timeout is at least the session timeout', () => {
    const o = parse(
      'kafka://h?sessionTimeoutMs=6000&rebalanceTimeoutMs=12000&requestTimeoutMs=5000&connectTimeoutMs=2000',
    );
    expect(o.sessionTimeoutMs).toBe(6_000);
    expect(o.rebalanceTimeoutMs).toBe(12_000);
    expect(o.requestTimeoutMs).toBe(5_000);
    expect(parse('kafka://h?sessionTimeoutMs=20000&rebalanceTimeoutMs=1000').rebalanceTimeoutMs).toBe(20_000);
    expect(() => parse('kafka://h?requestTimeoutMs=10')).toThrow(CarrierError);
  });

  it('reads several brokers, the default port and options', () => {
    const o = parse(
      'kafka://a,b:9093?brokers=c:9094,d&clientId=app&partitions=6&replicationFactor=2&provisioning=off',
    );
    expect(o.brokers).toEqual(['a:9093', 'b:9093', 'c:9094', 'd:9092']);
    expect(o.clientId).toBe('app');
    expect(o.partitions).toBe(6);
    expect(o.replicationFactor).toBe(2);
    expect(o.provisioning).toBe(false);
    expect(parse('kafka://host').brokers).toEqual(['host:9092']);
  });

  it('kafkas:// means TLS; user info means SASL', () => {
    const o = parse('kafkas://alice:s%3Acret@broker:9093?sasl=scram-sha-512');
    expect(o.tls).toBe(true);
    expect(o.sasl).toEqual({ mechanism: 'scram-sha-512', username: 'alice', password: 's:cret' });
    expect(parse('kafka://bob:pw@h:1').sasl?.mechanism).toBe('plain');
  });

  it('reads the TLS files and servername, which need TLS; certFile and keyFile go together', () => {
    const o = parse(
      'kafkas://h:9093?caFile=%2Fetc%2Fca.pem&certFile=c.pem&keyFile=k.pem&servername=kafka.example',
    );
    expect(o.tlsOptions).toEqual({
      caFile: '/etc/ca.pem',
      certFile: 'c.pem',
      keyFile: 'k.pem',
      servername: 'kafka.example',
    });
    expect(parse('kafka://h?tls=true&caFile=ca.pem').tlsOptions).toEqual({ caFile: 'ca.pem' });
    expect(parse('kafka://h').tlsOptions).toEqual({});
    expect(() => parse('kafka://h?caFile=ca.pem')).toThrow(/need TLS/);
    expect(() => parse('kafkas://h?certFile=c.pem')).toThrow(/together/);
    expect(() => parse('kafkas://h?caFile=')).toThrow(/empty/);
  });

  it('rejects unknown options and bad values without echoing credentials', () => {
    for (const bad of [
      'kafka://h:1?partition=3',
      'kafka://h:1?partitions=0',
      'kafka://h:1?provisioning=maybe',
      'kafka://u:topsecret@h:1?sasl=gssapi',
      'kafka://h:1?sasl=plain',
    ]) {
      let error: unknown;
      try {
        parse(bad);
      } catch (e) {
        error = e;
      }
      expect(error, bad).toBeInstanceOf(CarrierError);
      expect((error as CarrierError).code).toBe('INVALID_ARGUMENT');
      expect((error as CarrierError).message).not.toContain('topsecret');
    }
  });
});

describe('several host:port pairs in the authority', () => {
  it('reads the pairs core moved to ?hosts=', () => {
    expect(parseKafkaUrl(parseCarrierUrl('kafka://h1:9092,h2:9093,h3:9094')).brokers).toEqual([
      'h1:9092',
      'h2:9093',
      'h3:9094',
    ]);
  });
});

describe('kafka URL options given twice', () => {
  it('refuses a repeated option with INVALID_ARGUMENT naming it, never the URL or the password', () => {
    for (const url of [
      'kafka://u:s3cret-pw@h:9092?client=kafkajs&client=platformatic',
      'kafka://h:9092?partitions=3&partitions=6',
      'kafka://h:9092?hosts=h2:9093&hosts=h3:9094',
      'kafka://h:9092?brokers=h2:9093&brokers=h3:9094',
    ]) {
      const name = new URL(url).searchParams.keys().next().value!;
      let error: unknown;
      try {
        parse(url);
      } catch (e) {
        error = e;
      }
      expect(error, url).toBeInstanceOf(CarrierError);
      expect((error as CarrierError).code, url).toBe('INVALID_ARGUMENT');
      expect((error as CarrierError).transport, url).toBe('kafka');
      expect((error as Error).message, url).toContain(`"${name}" is given 2 times`);
      expect((error as Error).message, url).not.toContain('s3cret');
    }
    // a list is one comma-separated value; brokers and hosts are two options
    expect(parse('kafka://h:9092?brokers=h2:9093,h3:9094&hosts=h4:9095').brokers).toEqual([
      'h:9092',
      'h2:9093',
      'h3:9094',
      'h4:9095',
    ]);
  });

  it("keeps core's hosts and a hosts option of the URL in one list, the authority's pairs first", () => {
    expect(parseKafkaUrl(parseCarrierUrl('kafka://h1:9092,h2:9093?hosts=h3:9094')).brokers).toEqual([
      'h1:9092',
      'h2:9093',
      'h3:9094',
    ]);
  });
});

describe('kafka enumerated option values and flags', () => {
  it('reads client, sasl and logLevel in any case', () => {
    expect(parse('kafka://h?client=Platformatic').client).toBe('platformatic');
    expect(parse('kafka://h?client=KAFKAJS').client).toBe('kafkajs');
    expect(parse('kafka://u:p@h?sasl=SCRAM-SHA-512').sasl?.mechanism).toBe('scram-sha-512');
    expect(parse('kafka://h?logLevel=Warn').logLevel).toBe('warn');
  });

  it('reads the flags provisioning, tls and tlsRejectUnauthorized as true/false, on/off, yes/no, 1/0 in any case', () => {
    expect(parse('kafka://h?provisioning=OFF').provisioning).toBe(false);
    expect(parse('kafka://h?provisioning=False').provisioning).toBe(false);
    expect(parse('kafka://h?provisioning=on').provisioning).toBe(true);
    expect(parse('kafka://h?tls=TRUE').tls).toBe(true);
    expect(parse('kafka://h?tls=Yes&tlsRejectUnauthorized=NO').tlsRejectUnauthorized).toBe(false);
  });

  it('refuses another value with INVALID_ARGUMENT listing the allowed ones', () => {
    expect(() => parse('kafka://h?client=rdkafka')).toThrow(
      'URL option client must be one of kafkajs, platformatic (in any case)',
    );
    expect(() => parse('kafka://u:p@h?sasl=gssapi')).toThrow(
      'URL option sasl must be one of plain, scram-sha-256, scram-sha-512 (in any case)',
    );
    expect(() => parse('kafka://h?logLevel=trace')).toThrow(
      /logLevel must be one of nothing, error, warn, info, debug/,
    );
    expect(() => parse('kafka://h?provisioning=maybe')).toThrow(
      'URL option provisioning must be true or false (or on/off, yes/no, 1/0; in any case)',
    );
    expect(() => parse('kafka://h?tls=')).toThrow(/tls must be true or false/);
  });
});
