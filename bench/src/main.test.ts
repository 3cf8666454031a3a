import { describe, expect, it } from 'vitest';
import { brokerCommand, brokerUrl, parseOptions, urlVariable } from './main.js';

describe('command line', () => {
  it('takes the documented example', () => {
    const o = parseOptions(['--broker', 'kafka', '--messages', '100000', '--size', '1024'], {});
    expect(o.brokers).toEqual(['kafka']);
    expect(o.messages).toBe(100_000);
    expect(o.size).toBe(1024);
    expect(o.rounds).toBe(5);
  });

  it('defaults to memory, core and the brokers the harness exported', () => {
    expect(parseOptions([], { CARRIER_TEST_NATS_URL: 'nats://127.0.0.1:4222' }).brokers).toEqual([
      'memory',
      'core',
      'nats',
    ]);
    expect(urlVariable('rabbitmq')).toBe('CARRIER_TEST_RABBITMQ_URL');
    expect(urlVariable('kafka-platformatic')).toBe('CARRIER_TEST_KAFKA_URL');
    expect(brokerUrl('kafka-platformatic', { CARRIER_TEST_KAFKA_URL: 'kafka://h:1' })).toBe(
      'kafka://h:1?client=platformatic',
    );
    expect(brokerUrl('kafka', { CARRIER_TEST_KAFKA_URL: 'kafka://h:1' })).toBe('kafka://h:1');
  });

  it('accepts comma lists and all', () => {
    expect(parseOptions(['--broker', 'memory,nats'], {}).brokers).toEqual(['memory', 'nats']);
    expect(parseOptions(['--broker', 'all'], {}).brokers).toHaveLength(8);
    expect([...parseOptions(['--skip', 'rss,ceiling'], {}).skip]).toEqual(['rss', 'ceiling']);
  });

  it('takes otel:<broker> for the OpenTelemetry comparison on a broker, not in all', () => {
    expect(parseOptions(['--broker', 'otel:nats,otel:kafka'], {}).brokers).toEqual([
      'otel:nats',
      'otel:kafka',
    ]);
    expect(parseOptions(['--broker', 'otel', '--broker', 'otel:sqs'], {}).brokers).toEqual([
      'otel',
      'otel:sqs',
    ]);
    expect(parseOptions(['--broker', 'all'], {}).brokers.filter((b) => b.startsWith('otel:'))).toEqual([]);
    expect(() => parseOptions(['--broker', 'otel:memory'], {})).toThrow(/unknown broker/);
    expect(() => parseOptions(['--broker', 'otel:redis'], {})).toThrow(/unknown broker/);
  });

  it('takes outbox:<broker> for the outbox relay on a broker and PostgreSQL, not in all', () => {
    expect(parseOptions(['--broker', 'outbox:nats,outbox:sqs'], {}).brokers).toEqual([
      'outbox:nats',
      'outbox:sqs',
    ]);
    expect(parseOptions(['--broker', 'all'], {}).brokers.filter((b) => b.startsWith('outbox:'))).toEqual([]);
    expect(() => parseOptions(['--broker', 'outbox:memory'], {})).toThrow(/unknown broker/);
  });

  it('rejects unknown brokers, options and bad numbers', () => {
    expect(() => parseOptions(['--broker', 'redis'], {})).toThrow(/unknown broker/);
    expect(() => parseOptions(['--messagez', '1'], {})).toThrow();
    expect(() => parseOptions(['--messages', '1.5'], {})).toThrow(/positive integer/);
  });

  it('gives each broker of a run the command that reproduces it alone', () => {
    expect(brokerCommand(['--broker', 'memory,core', '--rounds', '5'], 'core')).toBe(
      'npm run bench -- --broker core --rounds 5',
    );
    expect(brokerCommand(['--broker=nats', '--messages', '5000'], 'nats')).toBe(
      'npm run bench -- --broker nats --messages 5000',
    );
    expect(brokerCommand([], 'kafka')).toBe('npm run bench -- --broker kafka');
  });
});
