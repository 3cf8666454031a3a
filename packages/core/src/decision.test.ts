import { describe, expect, it } from 'vitest';
import type { RetryPolicy } from './backoff.js';
import { admit, type Decision, decide, failureReason, type Outcome, unsettledReason } from './decision.js';
import { NonRetryableError } from './errors.js';

const retry: RetryPolicy = { maxAttempts: 3, initialDelayMs: 100, maxDelayMs: 1_000 };
const on = { retry, deadLetter: true };
const off = { retry, deadLetter: false };
const boom = new Error('boom');
const handled: Outcome = { kind: 'handled' };
const threw: Outcome = { kind: 'threw', error: boom };
const hopeless: Outcome = { kind: 'threw', error: new NonRetryableError('bad data') };
const undecodable: Outcome = { kind: 'undecodable', error: new SyntaxError('Unexpected token') };
/** Jitter at its upper end: the delay is the ceiling `min(1000, 100 · 2^(attempt-1))`. */
const top = () => 0.999_999;

describe('decide: the decision after a delivery was handled', () => {
  it.each<[string, Outcome, number, typeof on, Decision]>([
    ['handled → ack', handled, 1, on, { action: 'ack' }],
    ['handled on the last attempt → ack', handled, 3, on, { action: 'ack' }],
    ['handled, dead letters off → ack', handled, 9, off, { action: 'ack' }],
    ['threw on attempt 1 → retry after ~100 ms', threw, 1, on, { action: 'retry', delayMs: 100 }],
    ['threw on attempt 2 → retry after ~200 ms', threw, 2, on, { action: 'retry', delayMs: 200 }],
    [
      'threw on attempt maxAttempts → dead letter',
      threw,
      3,
      on,
      { action: 'deadLetter', reason: 'boom', attempts: 3 },
    ],
    [
      'threw past maxAttempts → dead letter',
      threw,
      4,
      on,
      { action: 'deadLetter', reason: 'boom', attempts: 4 },
    ],
    ['threw, dead letters off → retry forever', threw, 3, off, { action: 'retry', delayMs: 400 }],
    [
      'threw, dead letters off, late attempt → delay capped at maxDelayMs',
      threw,
      40,
      off,
      { action: 'retry', delayMs: 1_000 },
    ],
    [
      'NonRetryableError on attempt 1 → dead letter at once',
      hopeless,
      1,
      on,
      { action: 'deadLetter', reason: 'bad data', attempts: 1 },
    ],
    ['NonRetryableError, dead letters off → retry', hopeless, 1, off, { action: 'retry', delayMs: 100 }],
    [
      'undecodable on attempt 1 → dead letter at once',
      undecodable,
      1,
      on,
      { action: 'deadLetter', reason: 'Unexpected token', attempts: 1 },
    ],
    ['undecodable, dead letters off → retry', undecodable, 2, off, { action: 'retry', delayMs: 200 }],
  ])('%s', (_, outcome, attempt, policy, decision) => {
    expect(decide(outcome, attempt, policy, top)).toEqual(decision);
  });

  it('the retry delay has equal jitter: uniform in [d/2, d]', () => {
    expect(decide(threw, 3, off, () => 0)).toEqual({ action: 'retry', delayMs: 200 });
    for (let i = 0; i < 100; i++) {
      const decision = decide(threw, 2, on);
      expect(decision.action).toBe('retry');
      const { delayMs } = decision as { delayMs: number };
      expect(delayMs).toBeGreaterThanOrEqual(100);
      expect(delayMs).toBeLessThanOrEqual(200);
    }
  });

  it('maxAttempts 1 dead-letters the first failure', () => {
    expect(decide(threw, 1, { retry: { ...retry, maxAttempts: 1 }, deadLetter: true })).toEqual({
      action: 'deadLetter',
      reason: 'boom',
      attempts: 1,
    });
  });
});

describe('admit: the decision before the handler runs', () => {
  it.each<[string, number, typeof on, Decision | undefined]>([
    ['attempt 1 → run', 1, on, undefined],
    ['attempt maxAttempts → run', 3, on, undefined],
    [
      'attempt maxAttempts + 1 → dead letter without the handler',
      4,
      on,
      { action: 'deadLetter', reason: unsettledReason(3), attempts: 3 },
    ],
    [
      'attempt 10 → dead letter naming 9 deliveries',
      10,
      on,
      { action: 'deadLetter', reason: unsettledReason(9), attempts: 9 },
    ],
    ['attempt past maxAttempts, dead letters off → run', 10, off, undefined],
  ])('%s', (_, attempt, policy, decision) => {
    expect(admit(attempt, policy)).toEqual(decision);
  });
});

describe('reasons', () => {
  it.each([
    [new Error('the message'), 'the message'],
    [new TypeError(''), 'TypeError'],
    ['a string', 'a string'],
    [42, '42'],
  ])('failureReason(%o) is %j', (error, reason) => {
    expect(failureReason(error)).toBe(reason);
  });

  it('unsettledReason names the deliveries', () => {
    expect(unsettledReason(4)).toBe(
      'delivered 4 times, the last one without settlement (consumer crashed or lost its lease)',
    );
  });
});
