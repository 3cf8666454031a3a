import { describe, expect, it } from 'vitest';
import { instructionBrokers } from './instructions.js';
import { brokerCommand, brokerUrl, parseOptions, SKIP_PARTS, urlVariable } from './main.js';

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

  it('measures each Kafka driver whatever client the Kafka URL names (a second client option would be refused)', () => {
    const env = { CARRIER_TEST_KAFKA_URL: 'kafka://h:1,h2:2?client=Platformatic&logLevel=warn' };
    expect(brokerUrl('kafka-platformatic', env)).toBe('kafka://h:1,h2:2?logLevel=warn&client=platformatic');
    expect(brokerUrl('kafka', env)).toBe('kafka://h:1,h2:2?logLevel=warn');
    expect(brokerUrl('kafka', { CARRIER_TEST_KAFKA_URL: 'kafka://h:1?client=kafkajs' })).toBe('kafka://h:1');
  });

  it('accepts comma lists and all', () => {
    expect(parseOptions(['--broker', 'memory,nats'], {}).brokers).toEqual(['memory', 'nats']);
    expect([...parseOptions(['--skip', 'rss,ceiling'], {}).skip]).toEqual(['rss', 'ceiling']);
    expect([...parseOptions(['--skip', 'rss', '--skip', 'instructions'], {}).skip]).toEqual([
      'rss',
      'instructions',
    ]);
  });

  it('runs memory, core and the five brokers for all, not otel, codecs, otel:<broker> or outbox:<broker>, which run only when named', () => {
    expect(parseOptions(['--broker', 'all'], {}).brokers).toEqual([
      'memory',
      'core',
      'kafka',
      'kafka-platformatic',
      'rabbitmq',
      'nats',
      'sqs',
    ]);
    // named next to all, they run too (all no longer replaces the names given with it)
    expect(parseOptions(['--broker', 'all,otel', '--broker', 'codecs'], {}).brokers).toEqual([
      'memory',
      'core',
      'kafka',
      'kafka-platformatic',
      'rabbitmq',
      'nats',
      'sqs',
      'otel',
      'codecs',
    ]);
  });

  it('refuses an unknown --skip part, listing the known ones', () => {
    expect(() => parseOptions(['--skip', 'rss,ceilng'], {})).toThrow(
      `unknown --skip part ceilng (known: ${SKIP_PARTS.join(', ')})`,
    );
    expect(() => parseOptions(['--skip', 'platformatic'], {})).toThrow(/unknown --skip part platformatic/);
    for (const part of SKIP_PARTS) expect(parseOptions(['--skip', part], {}).skip.has(part)).toBe(true);
  });

  it('refuses a --broker or --skip that names nothing, and numbers that are not plain decimal digits', () => {
    expect(() => parseOptions(['--broker', ''], {})).toThrow(/--broker has an empty name/);
    expect(() => parseOptions(['--broker', 'memory,,core'], {})).toThrow(/--broker has an empty name/);
    expect(() => parseOptions(['--skip', ''], {})).toThrow(/--skip has an empty name/);
    for (const bad of ['0x10', '1e3', '', ' 5', '0', '-1'])
      expect(() => parseOptions([`--rounds=${bad}`], {}), bad).toThrow(/--rounds must be a positive integer/);
    expect(parseOptions(['--rounds', '3'], {}).rounds).toBe(3);
  });

  it('refuses a positional argument (a misspelt option value)', () => {
    expect(() => parseOptions(['--broker', 'memory', 'core'], {})).toThrow();
  });

  it('takes core and memory for bench:core, and refuses anything else listing them', () => {
    expect(instructionBrokers([])).toEqual(['core', 'memory']);
    expect(instructionBrokers(['memory'])).toEqual(['memory']);
    expect(() => instructionBrokers(['kafka'])).toThrow('unknown broker kafka (known: memory, core)');
    expect(() => instructionBrokers(['--broker', 'core'])).toThrow(/usage: npm run bench:core/);
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
