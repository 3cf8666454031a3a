import { CarrierError } from '@carrier/core';
import { describe, expect, it } from 'vitest';
import {
  DEFAULT_MAX_MESSAGE_BYTES,
  DEFAULT_MAX_MESSAGE_BYTES_V4,
  defaultMaxMessageBytes,
  parseRabbitUrl,
} from './url.js';

describe('parseRabbitUrl', () => {
  it("defaults: quorum queues, the server version's message size, heartbeat 15 s added for amqplib", () => {
    const s = parseRabbitUrl(new URL('amqp://guest:guest@127.0.0.1:5672'));
    expect(s.queueType).toBe('quorum');
    expect(s.maxMessageBytes).toBeUndefined();
    expect(s.recoveryTimeoutMs).toBe(30_000);
    expect(new URL(s.amqpUrl).searchParams.get('heartbeat')).toBe('15');
  });

  it("removes Carrier's parameters and keeps amqplib's, vhost and credentials", () => {
    const s = parseRabbitUrl(
      new URL(
        'amqps://u:p%40ss@h:5671/my%2Fvhost?queueType=classic&heartbeat=5&frameMax=8192&maxMessageBytes=1000&recoveryTimeout=50',
      ),
    );
    expect(s.queueType).toBe('classic');
    expect(s.maxMessageBytes).toBe(1000);
    expect(s.recoveryTimeoutMs).toBe(50);
    const amqp = new URL(s.amqpUrl);
    expect(amqp.protocol).toBe('amqps:');
    expect(amqp.pathname).toBe('/my%2Fvhost');
    expect(amqp.password).toBe('p%40ss');
    expect([...amqp.searchParams.keys()].sort()).toEqual(['frameMax', 'heartbeat']);
    expect(amqp.searchParams.get('heartbeat')).toBe('5');
  });

  it("picks the server version's default max_message_size", () => {
    expect(defaultMaxMessageBytes('3.10.8')).toBe(DEFAULT_MAX_MESSAGE_BYTES);
    expect(defaultMaxMessageBytes('3.13.7')).toBe(128 * 1024 * 1024);
    expect(defaultMaxMessageBytes('4.1.0')).toBe(DEFAULT_MAX_MESSAGE_BYTES_V4);
    expect(defaultMaxMessageBytes(undefined)).toBe(16 * 1024 * 1024);
  });

  it('takes TLS files for amqps:// only, and strips them from the URL amqplib sees', () => {
    const s = parseRabbitUrl(new URL('amqps://h?caFile=%2Fetc%2Fca.pem&certFile=c.pem&keyFile=k.pem'));
    expect(s.tls).toEqual({ caFile: '/etc/ca.pem', certFile: 'c.pem', keyFile: 'k.pem' });
    expect(new URL(s.amqpUrl).searchParams.has('caFile')).toBe(false);
    expect(() => parseRabbitUrl(new URL('amqp://h?caFile=ca.pem'))).toThrow(/amqps/);
    expect(() => parseRabbitUrl(new URL('amqps://h?certFile=c.pem'))).toThrow(/together/);
  });

  it('rejects unknown queue types and bad numbers with INVALID_ARGUMENT', () => {
    for (const bad of [
      'amqp://h?queueType=stream',
      'amqp://h?maxMessageBytes=0',
      'amqp://h?recoveryTimeout=x',
    ]) {
      expect(() => parseRabbitUrl(new URL(bad))).toThrow(CarrierError);
    }
    expect(() => parseRabbitUrl(new URL('kafka://h'))).toThrow(/amqp/);
  });
});

describe('connectTimeoutMs', () => {
  it('is read and removed from the amqplib URL; absent, the factory decides', () => {
    const s = parseRabbitUrl(new URL('amqp://h?connectTimeoutMs=1500'));
    expect(s.connectTimeoutMs).toBe(1500);
    expect(new URL(s.amqpUrl).searchParams.has('connectTimeoutMs')).toBe(false);
    expect(parseRabbitUrl(new URL('amqp://h')).connectTimeoutMs).toBeUndefined();
  });
});

describe('parseRabbitUrl TLS and login options', () => {
  it('reads servername and mechanism=EXTERNAL and keeps them from amqplib', () => {
    const s = parseRabbitUrl(
      new URL(
        'amqps://h:5671/app?caFile=/ca.pem&certFile=/c.pem&keyFile=/c.key&servername=broker&mechanism=external',
      ),
    );
    expect(s.tls).toEqual({ caFile: '/ca.pem', certFile: '/c.pem', keyFile: '/c.key', servername: 'broker' });
    expect(s.mechanism).toBe('EXTERNAL');
    expect(new URL(s.amqpUrl).search).toBe('?heartbeat=15');
    expect(parseRabbitUrl(new URL('amqp://u:p@h')).mechanism).toBe('PLAIN');
  });

  it.each([
    ['amqp://h?servername=x', /need an amqps:\/\/ URL/],
    ['amqps://h?mechanism=GSSAPI', /mechanism must be one of PLAIN, EXTERNAL/],
    ['amqps://h?mechanism=EXTERNAL', /needs amqps:\/\/, certFile and keyFile/],
    ['amqps://u:s3cret@h?mechanism=EXTERNAL&certFile=/c&keyFile=/k', /remove the user and password/],
  ])('refuses %s with INVALID_ARGUMENT', (raw, message) => {
    let error: unknown;
    try {
      parseRabbitUrl(new URL(raw));
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(CarrierError);
    expect((error as CarrierError).code).toBe('INVALID_ARGUMENT');
    expect((error as CarrierError).message).toMatch(message);
    expect((error as CarrierError).message).not.toContain('s3cret');
  });
});

describe('amqp URL parameters given twice', () => {
  it("refuses a repeated parameter, Carrier's or amqplib's, with INVALID_ARGUMENT naming it, never the URL or the password", () => {
    for (const url of [
      'amqp://u:s3cret-pw@h:5672/?queueType=quorum&queueType=classic',
      'amqp://u:s3cret-pw@h:5672/?heartbeat=5&heartbeat=30',
      'amqp://u:s3cret-pw@h:5672/?hosts=h2:5673&hosts=h3:5674',
      'amqps://h:5671/?caFile=/a.pem&caFile=/b.pem',
    ]) {
      const name = new URL(url).searchParams.keys().next().value!;
      let error: unknown;
      try {
        parseRabbitUrl(new URL(url));
      } catch (e) {
        error = e;
      }
      expect(error, url).toBeInstanceOf(CarrierError);
      expect((error as CarrierError).code, url).toBe('INVALID_ARGUMENT');
      expect((error as CarrierError).transport, url).toBe('rabbitmq');
      expect((error as Error).message, url).toContain(`"${name}" is given 2 times`);
      expect((error as Error).message, url).not.toContain('s3cret');
    }
  });
});

describe('amqp enumerated parameter values', () => {
  it('reads queueType and mechanism in any case', () => {
    expect(parseRabbitUrl(new URL('amqp://h?queueType=Classic')).queueType).toBe('classic');
    expect(parseRabbitUrl(new URL('amqp://h?queueType=QUORUM')).queueType).toBe('quorum');
    expect(parseRabbitUrl(new URL('amqp://u:p@h?mechanism=plain')).mechanism).toBe('PLAIN');
    expect(
      parseRabbitUrl(new URL('amqps://h?certFile=/c.pem&keyFile=/c.key&mechanism=External')).mechanism,
    ).toBe('EXTERNAL');
  });

  it('refuses another value with INVALID_ARGUMENT listing the allowed ones', () => {
    expect(() => parseRabbitUrl(new URL('amqp://h?queueType=stream'))).toThrow(
      'URL option queueType must be one of quorum, classic (in any case)',
    );
    expect(() => parseRabbitUrl(new URL('amqp://h?queueType='))).toThrow(/queueType must be one of/);
  });
});
