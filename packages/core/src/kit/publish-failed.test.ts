import { describe, expect, it } from 'vitest';
import { CarrierError, isCarrierError } from '../errors.js';
import { nothingPublished, publishFailed } from './publish-failed.js';

const messages = [{ id: 'm0' }, { id: 'm1' }, { id: 'm2' }, { id: 'm3' }];

describe('publishFailed', () => {
  it('lists exactly the failed messages, in order, with ids; the first error is the cause', () => {
    const late = new Error('confirm timed out');
    const nacked = new Error('nacked');
    const error = publishFailed(
      'kafka',
      'orders',
      messages,
      new Map([
        [3, late],
        [1, nacked],
      ]),
    );
    expect(error).toBeInstanceOf(CarrierError);
    expect(isCarrierError(error, 'PUBLISH_FAILED')).toBe(true);
    expect(error.transport).toBe('kafka');
    expect(error.failures).toEqual([
      { index: 1, id: 'm1', error: nacked },
      { index: 3, id: 'm3', error: late },
    ]);
    expect(error.cause).toBe(nacked);
    expect(error.message).toBe('2 of 4 message(s) to orders not confirmed: nacked');
  });

  it('accepts [index, error] pairs, wraps non-Errors, keeps the last error of an index', () => {
    const error = publishFailed('sqs', 't', messages, [
      [0, 'first'],
      [0, 'second'],
    ]);
    expect(error.failures).toHaveLength(1);
    expect(error.failures[0]!.error).toBeInstanceOf(Error);
    expect(error.failures[0]!.error.message).toBe('second');
  });

  it('refuses an index outside the batch (a bug in the adapter)', () => {
    expect(() => publishFailed('nats', 't', messages, [[4, new Error('x')]])).toThrow(RangeError);
    expect(() => publishFailed('nats', 't', messages, [[-1, new Error('x')]])).toThrow(RangeError);
  });
});

describe('nothingPublished', () => {
  it('makes every message a failure with the one cause', () => {
    const cause = new Error('exchange cannot be declared');
    const error = nothingPublished('rabbitmq', 'orders', messages.slice(0, 2), cause);
    expect(isCarrierError(error, 'PUBLISH_FAILED')).toBe(true);
    expect(error.transport).toBe('rabbitmq');
    expect(error.cause).toBe(cause);
    expect(error.failures).toEqual([
      { index: 0, id: 'm0', error: cause },
      { index: 1, id: 'm1', error: cause },
    ]);
    expect(error.message).toBe('none of 2 message(s) to orders was published: exchange cannot be declared');
  });

  it('wraps a cause that is not an Error', () => {
    const error = nothingPublished('memory', 't', [{ id: 'a' }], 'closed');
    expect(error.failures[0]!.error.message).toBe('closed');
  });
});
