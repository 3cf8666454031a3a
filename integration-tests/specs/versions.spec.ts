import { afterEach, describe, expect, it } from 'vitest';
import { kafkaPin, natsPin, VERSION_ENV } from '../src/versions.js';

// The version variables as a user sets them (no broker: the pins only).

const saved = { nats: process.env[VERSION_ENV.nats], kafka: process.env[VERSION_ENV.kafka] };
afterEach(() => {
  for (const [name, value] of [
    [VERSION_ENV.nats, saved.nats],
    [VERSION_ENV.kafka, saved.kafka],
  ] as const) {
    if (value === undefined) delete process.env[name];
    else process.env[name] = value;
  }
});

describe('broker version variables', () => {
  it('an empty or blank CARRIER_TEST_NATS_VERSION / CARRIER_TEST_KAFKA_VERSION means the newest line', () => {
    for (const blank of ['', ' ']) {
      process.env[VERSION_ENV.nats] = blank;
      process.env[VERSION_ENV.kafka] = blank;
      expect(natsPin().line).toBe(natsPin('2.15').line);
      expect(kafkaPin().line).toBe(kafkaPin('4.4').line);
    }
    process.env[VERSION_ENV.nats] = ' 2.10 ';
    expect(natsPin().version).toBe('v2.10.27');
  });

  it('an unknown line names the variable when it came from it, and the spec when a spec asked', () => {
    process.env[VERSION_ENV.nats] = '2.9';
    expect(() => natsPin()).toThrow(/^CARRIER_TEST_NATS_VERSION=2\.9: the harness pins only 2\.15/);
    delete process.env[VERSION_ENV.kafka];
    expect(() => kafkaPin('3.8')).toThrow(/^the version 3\.8 a spec asked for: the harness pins only 4\.4/);
  });
});
