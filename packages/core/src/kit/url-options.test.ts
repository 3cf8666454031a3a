import { describe, expect, it } from 'vitest';
import { connect, parseCarrierUrl } from '../connect.js';
import { CarrierError } from '../errors.js';
import { createMemoryTransport } from '../memory/memory-transport.js';
import { refuseRepeatedOptions, urlChoice, urlFlag } from './url-options.js';

async function refusal(promise: Promise<unknown>): Promise<CarrierError> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(CarrierError);
  return error as CarrierError;
}

describe('a repeated URL option', () => {
  it('is refused by connect on every transport with INVALID_ARGUMENT naming the option, never the URL', async () => {
    for (const url of [
      'kafka://u:s3cret-pw@h:9092?client=kafkajs&client=platformatic',
      'kafkas://u:s3cret-pw@h1:9092,h2:9093?sasl=plain&sasl=scram-sha-512',
      'amqp://u:s3cret-pw@h:5672/?queueType=quorum&queueType=classic',
      'amqps://u:s3cret-pw@h:5671/?heartbeat=5&heartbeat=10',
      'nats://s3cret-pw@h:4222?retention=limits&retention=interest',
      'nats://h:4222?token=s3cret-pw&token=s3cret-pw2',
      'sqs://h:4566?fifo=true&region=eu-west-1&fifo=false',
      'memory://repeated?maxMessageBytes=10&maxMessageBytes=20',
    ]) {
      const name = /[?&]([^=&]+)=[^&]*&(?:.*&)?\1=/.exec(url)![1]!;
      // no transport given: core refuses it before loading any adapter package
      const error = await refusal(connect(url));
      expect(error.code, url).toBe('INVALID_ARGUMENT');
      expect(error.message, url).toContain(`"${name}" is given 2 times`);
      expect(error.message, url).not.toContain('s3cret');
      expect(error.message, url).not.toContain('://');
      expect(() => parseCarrierUrl(url), url).toThrow(CarrierError);
    }
  });

  it('is refused even when a transport factory is given, before the factory is called', async () => {
    let called = false;
    const error = await refusal(
      connect('kafka://h:9092?client=kafkajs&client=platformatic', {
        transport: async () => {
          called = true;
          throw new Error('not reached');
        },
      }),
    );
    expect(error.code).toBe('INVALID_ARGUMENT');
    expect(called).toBe(false);
  });

  it('counts every occurrence, empty values included, and names the first repeated option', () => {
    expect(() => refuseRepeatedOptions(new URL('nats://h?tls&tls=true'))).toThrow(/"tls" is given 2 times/);
    expect(() => refuseRepeatedOptions(new URL('nats://h?a=1&b=1&b=2&a=3&a=4'))).toThrow(
      /"a" is given 3 times/,
    );
    expect(() => refuseRepeatedOptions(new URL('nats://h?a=1&b=1'))).not.toThrow();
    const tagged = (() => {
      try {
        refuseRepeatedOptions(new URL('sqs://h?x=1&x=1'), 'sqs');
      } catch (e) {
        return e as CarrierError;
      }
      return undefined;
    })();
    expect(tagged?.transport).toBe('sqs');
  });

  it('is refused by the memory transport factory called directly', async () => {
    const error = await refusal(
      createMemoryTransport(new URL('memory://direct?maxMessageBytes=1&maxMessageBytes=2'), {
        onError: () => {},
        connectTimeoutMs: 1_000,
      }),
    );
    expect(error.code).toBe('INVALID_ARGUMENT');
  });
});

describe('hosts in the authority and in ?hosts= together', () => {
  it("merges them into one hosts option, the authority's pairs first", () => {
    const url = parseCarrierUrl('amqp://u:p@a:1,b:2/vh?hosts=c:3&heartbeat=5');
    expect(url.host).toBe('a:1');
    expect(url.pathname).toBe('/vh');
    expect(url.searchParams.getAll('hosts')).toEqual(['b:2,c:3']);
    expect(url.searchParams.get('heartbeat')).toBe('5');
    expect(parseCarrierUrl('nats://a:1,b:2?hosts=').searchParams.getAll('hosts')).toEqual(['b:2']);
    expect(parseCarrierUrl('kafka://a:1,b:2,c:3').searchParams.getAll('hosts')).toEqual(['b:2,c:3']);
  });

  it('still refuses ?hosts= given twice', () => {
    expect(() => parseCarrierUrl('amqp://a:1,b:2/?hosts=c:3&hosts=d:4')).toThrow(/"hosts" is given 2 times/);
    expect(() => parseCarrierUrl('amqp://a:1/?hosts=c:3&hosts=d:4')).toThrow(/"hosts" is given 2 times/);
  });

  it('keeps a fragment of a multi-host URL, so that it is refused (a password holding #)', () => {
    expect(() => parseCarrierUrl('nats://a:1,b:2?token=ab#s3cret')).toThrow(/fragment/);
  });
});

describe('enumerated URL option values and flags', () => {
  const params = (query: string) => new URLSearchParams(query);

  it('match in any case and come back as spelled in the list', () => {
    expect(urlChoice(params('client=Platformatic'), 'client', ['kafkajs', 'platformatic'], 'kafkajs')).toBe(
      'platformatic',
    );
    expect(urlChoice(params('mechanism=external'), 'mechanism', ['PLAIN', 'EXTERNAL'], 'PLAIN')).toBe(
      'EXTERNAL',
    );
    expect(urlChoice(params(''), 'client', ['kafkajs', 'platformatic'], 'kafkajs')).toBe('kafkajs');
  });

  it('refuse another value with INVALID_ARGUMENT listing the allowed ones', () => {
    const error = (() => {
      try {
        urlChoice(params('queueType=stream'), 'queueType', ['quorum', 'classic'], 'quorum', 'rabbitmq');
      } catch (e) {
        return e as CarrierError;
      }
      return undefined;
    })();
    expect(error).toBeInstanceOf(CarrierError);
    expect(error?.code).toBe('INVALID_ARGUMENT');
    expect(error?.transport).toBe('rabbitmq');
    expect(error?.message).toBe('URL option queueType must be one of quorum, classic (in any case)');
    expect(() => urlChoice(params('client='), 'client', ['kafkajs'], 'kafkajs')).toThrow(/one of kafkajs/);
  });

  it('read a flag as true/false, on/off, yes/no or 1/0 in any case, and refuse anything else', () => {
    for (const yes of ['true', 'TRUE', 'True', 'on', 'ON', 'yes', 'Yes', '1'])
      expect(urlFlag(params(`tls=${yes}`), 'tls', false), yes).toBe(true);
    for (const no of ['false', 'FALSE', 'off', 'Off', 'no', 'NO', '0'])
      expect(urlFlag(params(`tls=${no}`), 'tls', true), no).toBe(false);
    expect(urlFlag(params(''), 'tls', true)).toBe(true);
    for (const bad of ['', 'maybe', '2', 'y'])
      expect(() => urlFlag(params(`tls=${bad}`), 'tls', false), bad).toThrow(
        'URL option tls must be true or false (or on/off, yes/no, 1/0; in any case)',
      );
  });
});
