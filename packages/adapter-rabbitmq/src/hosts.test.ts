import { CarrierError, parseCarrierUrl } from '@carrier/core';
import { describe, expect, it } from 'vitest';
import { noHostFailure, rabbitError } from './errors.js';
import { parseRabbitUrl } from './url.js';

const hostsOf = (raw: string) => parseRabbitUrl(parseCarrierUrl(raw)).amqpUrls.map((u) => new URL(u).host);

describe('several RabbitMQ hosts in the URL', () => {
  it('reads host:port pairs of the authority, which core moves to ?hosts=, in order', () => {
    expect(hostsOf('amqp://u:p@h1:5672,h2:5673,h3:5674/vhost')).toEqual(['h1:5672', 'h2:5673', 'h3:5674']);
  });

  it('gives every host the same credentials, vhost and amqplib parameters, without ?hosts=', () => {
    const s = parseRabbitUrl(
      parseCarrierUrl('amqp://u:p%40ss@h1:5672,h2:5673/my%2Fvhost?heartbeat=5&queueType=classic'),
    );
    expect(s.amqpUrl).toBe(s.amqpUrls[0]);
    for (const raw of s.amqpUrls) {
      const url = new URL(raw);
      expect([url.username, url.password, url.pathname, url.search]).toEqual([
        'u',
        'p%40ss',
        '/my%2Fvhost',
        '?heartbeat=5',
      ]);
    }
  });

  it("shares the authority's port among comma-separated hosts and gives ?hosts= entries the scheme's default port", () => {
    expect(hostsOf('amqp://h1,h2:5680?hosts=h3,h4:5690')).toEqual([
      'h1:5680',
      'h2:5680',
      'h3:5672',
      'h4:5690',
    ]);
    expect(hostsOf('amqps://h1?hosts=h2')).toEqual(['h1:5671', 'h2:5671']);
    expect(hostsOf('amqp://h1?hosts=%5B%3A%3A1%5D%3A5673')).toEqual(['h1:5672', '[::1]:5673']);
  });

  it('applies the TLS options of an amqps:// URL to every host', () => {
    const s = parseRabbitUrl(
      parseCarrierUrl('amqps://u:p@h1:5671,h2:5671/v?caFile=/ca.pem&servername=broker'),
    );
    expect(s.amqpUrls.map((u) => new URL(u).protocol)).toEqual(['amqps:', 'amqps:']);
    expect(s.tls).toEqual({ caFile: '/ca.pem', servername: 'broker' });
  });

  it.each([
    'amqp://u:s3cret@h1?hosts=h2:99999',
    'amqp://u:s3cret@h1?hosts=h2:x',
    'amqp://u:s3cret@h1?hosts=u:s3cret@h2',
  ])('refuses %s with INVALID_ARGUMENT, without the password', (raw) => {
    let error: unknown;
    try {
      parseRabbitUrl(new URL(raw));
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(CarrierError);
    expect((error as CarrierError).code).toBe('INVALID_ARGUMENT');
    expect((error as CarrierError).message).toMatch(/not host\[:port\]/);
    expect((error as CarrierError).message).not.toContain('s3cret');
  });
});

describe('noHostFailure', () => {
  const unreachable = (host: string) =>
    rabbitError('CONNECTION', `cannot connect to amqp://u:***@${host}/: ECONNREFUSED`);

  it('lists every unreachable host in one CONNECTION error', () => {
    const error = noHostFailure([unreachable('h1:5672'), unreachable('h2:5673')]);
    expect(error.code).toBe('CONNECTION');
    expect(error.message).toBe(
      'cannot connect to any of the 2 hosts: amqp://u:***@h1:5672/: ECONNREFUSED; amqp://u:***@h2:5673/: ECONNREFUSED',
    );
  });

  it('prefers a refused login, the same on every host, and keeps a single failure as it is', () => {
    const refused = rabbitError('AUTH_FAILED', 'refused');
    expect(noHostFailure([unreachable('h1:5672'), refused])).toBe(refused);
    const only = unreachable('h1:5672');
    expect(noHostFailure([only])).toBe(only);
  });
});
