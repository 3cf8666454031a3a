import { CarrierError } from '@carrier/core';
import { JetStreamApiError } from '@nats-io/jetstream';
import { describe, expect, it } from 'vitest';
import { replicasHint } from './errors.js';
import { MAX_REPLICAS, parseNatsUrl } from './url.js';

const replicas = (query: string) => parseNatsUrl(new URL(`nats://h:4222${query}`)).replicas;

describe('?replicas=', () => {
  it('defaults to 1 and reads 1 to 5', () => {
    expect(replicas('')).toBe(1);
    for (const n of [1, 2, 3, 4, 5]) expect(replicas(`?replicas=${n}`)).toBe(n);
    expect(MAX_REPLICAS).toBe(5);
  });

  it.each(['0', '6', '-1', '2.5', 'three', ''])('refuses replicas=%s with INVALID_ARGUMENT', (value) => {
    let error: unknown;
    try {
      replicas(`?replicas=${value}`);
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(CarrierError);
    expect((error as CarrierError).code).toBe('INVALID_ARGUMENT');
    expect((error as CarrierError).message).toMatch(/replicas must be/);
  });
});

describe('replicasHint', () => {
  const refusal = (errCode: number, description: string) =>
    new JetStreamApiError({ code: 500, err_code: errCode, description });

  it('explains a stream refused for too few servers', () => {
    const single = refusal(10074, 'replicas > 1 not supported in non-clustered mode');
    expect(replicasHint(single, 3)).toMatch(
      /replicas=3: a stream with 3 replicas needs a JetStream cluster of at least 3 servers/,
    );
    expect(replicasHint(refusal(10023, 'insufficient resources'), 5)).toMatch(/at least 5 servers/);
  });

  it('says nothing for other refusals or a single replica', () => {
    expect(replicasHint(refusal(10065, 'subjects overlap with an existing stream'), 3)).toBe('');
    expect(replicasHint(refusal(10023, 'insufficient resources'), 1)).toBe('');
    expect(replicasHint(new Error('timeout'), 3)).toBe('');
  });
});
