import { describe, expect, it } from 'vitest';
import { asError, describeError } from './describe-error.js';

describe('describeError', () => {
  it.each([
    ['an Error', new TypeError('bad type'), 'bad type'],
    ['a string', 'plain words', 'plain words'],
    ['an object with a message', { message: 'from a plain object', code: 5 }, 'from a plain object'],
    ['a number', 42, '42'],
    ['undefined', undefined, 'undefined'],
    ['null', null, 'null'],
    ['an object without a message', { code: 5 }, '[object Object]'],
  ])('%s', (_, value, text) => {
    expect(describeError(value)).toBe(text);
  });

  it('never throws, even when toString does', () => {
    const hostile = {
      toString() {
        throw new Error('no');
      },
    };
    expect(describeError(hostile)).toBe('[object Object]');
    expect(describeError(Object.create(null))).toBe('[object Object]');
  });
});

describe('asError', () => {
  it('keeps an Error as it is', () => {
    const error = new Error('x');
    expect(asError(error)).toBe(error);
  });

  it('wraps anything else, keeping it as the cause', () => {
    const wrapped = asError('oops');
    expect(wrapped).toBeInstanceOf(Error);
    expect(wrapped.message).toBe('oops');
    expect(wrapped.cause).toBe('oops');
  });
});
