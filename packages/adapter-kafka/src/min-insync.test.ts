import { CarrierError } from '@carrier/core';
import { describe, expect, it } from 'vitest';
import { checkMinInsyncReplicas, parseKafkaUrl } from './url.js';

const parse = (url: string) => parseKafkaUrl(new URL(url));

function invalidArgument(run: () => unknown): CarrierError {
  try {
    run();
  } catch (error) {
    expect(error).toBeInstanceOf(CarrierError);
    expect((error as CarrierError).code).toBe('INVALID_ARGUMENT');
    return error as CarrierError;
  }
  throw new Error('expected INVALID_ARGUMENT');
}

describe('?minInsyncReplicas=', () => {
  it('is unset by default: the broker decides', () => {
    expect(parse('kafka://h:9092').minInsyncReplicas).toBeUndefined();
  });

  it('reads an integer from 1 up to the replication factor', () => {
    expect(parse('kafka://h?minInsyncReplicas=1').minInsyncReplicas).toBe(1);
    const o = parse('kafka://h?replicationFactor=3&minInsyncReplicas=2');
    expect([o.replicationFactor, o.minInsyncReplicas]).toEqual([3, 2]);
    expect(parse('kafka://h?replicationFactor=3&minInsyncReplicas=3').minInsyncReplicas).toBe(3);
  });

  it.each(['0', '-1', '1.5', 'two', ''])('refuses minInsyncReplicas=%s with INVALID_ARGUMENT', (value) => {
    const error = invalidArgument(() => parse(`kafka://h?minInsyncReplicas=${value}`));
    expect(error.message).toMatch(/minInsyncReplicas must be an integer >= 1/);
  });

  it('refuses more in-sync replicas than the replication factor of the URL', () => {
    const error = invalidArgument(() => parse('kafka://h?replicationFactor=2&minInsyncReplicas=3'));
    expect(error.message).toMatch(/must not exceed the replication factor \(2\)/);
  });

  it('is checked against the default replication factor once the cluster size is known', () => {
    expect(() => checkMinInsyncReplicas(1, 1)).not.toThrow();
    expect(invalidArgument(() => checkMinInsyncReplicas(2, 1)).message).toMatch(/\(2\) must not exceed/);
  });
});
