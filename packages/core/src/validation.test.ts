import type { StandardSchemaV1 } from '@standard-schema/spec';
import { describe, expect, it } from 'vitest';
import { isCarrierError } from './errors.js';
import { invalidMessage, validate, withUnknownKeys } from './validation.js';

describe('withUnknownKeys', () => {
  it('puts back keys the validator dropped, recursively through objects and arrays, values as received', () => {
    const input = {
      a: 1,
      extra: { deep: [1] },
      nested: { known: 'x', added: true },
      list: [{ k: 1, more: 'm' }],
    };
    const output = { a: 1, nested: { known: 'X' }, list: [{ k: 1 }] };
    expect(withUnknownKeys(input, output)).toEqual({
      a: 1,
      extra: { deep: [1] },
      nested: { known: 'X', added: true },
      list: [{ k: 1, more: 'm' }],
    });
    expect(output).toEqual({ a: 1, nested: { known: 'X' }, list: [{ k: 1 }] }); // not modified
  });

  it("keeps the validator's own values: defaults, coercions, transforms", () => {
    const input = { n: '5', when: '2024-01-01', tags: ['a', 'b'] };
    const when = new Date('2024-01-01');
    const output = { n: 5, when, tags: ['a'], fallback: 0 };
    const restored = withUnknownKeys(input, output) as typeof output;
    expect(restored).toBe(output);
    expect(restored.when).toBe(when);
  });

  it('merges nothing into class instances, and returns the very output when nothing was dropped', () => {
    class Order {
      id = 1;
    }
    const order = new Order();
    expect(withUnknownKeys({ id: 1, extra: true }, order)).toBe(order);
    const same = { a: { b: 1 } };
    expect(withUnknownKeys({ a: { b: 1 } }, same)).toBe(same);
  });

  it("puts back what a validator dropped from a codec's record instance, its enumerable symbol marks included", () => {
    const mark = Symbol('writer schema');
    class Order {
      id = 'o-1';
      total = 10;
      currency = 'USD'; // a field of a newer writer the validator does not know
      [mark] = 7;
    }
    const restored = withUnknownKeys(new Order(), { id: 'o-1', total: 10 }) as Record<
      string | symbol,
      unknown
    >;
    expect(restored).toEqual({ id: 'o-1', total: 10, currency: 'USD', [mark]: 7 });
    expect(restored[mark]).toBe(7);
    expect(withUnknownKeys(new Date(0), { t: 0 })).toEqual({ t: 0 }); // not a record
    expect(withUnknownKeys(new Uint8Array([1, 2]), { b: 1 })).toEqual({ b: 1 });
  });

  it('restores a __proto__ key as data, never as a prototype', () => {
    const input = JSON.parse('{"a":1,"__proto__":{"polluted":true}}') as Record<string, unknown>;
    const restored = withUnknownKeys(input, { a: 1 }) as Record<string, unknown>;
    expect(Object.getPrototypeOf(restored)).toBe(Object.prototype);
    expect(Object.hasOwn(restored, '__proto__')).toBe(true);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    expect(JSON.stringify(restored)).toBe('{"a":1,"__proto__":{"polluted":true}}');
  });
});

describe('validate', () => {
  const positive: StandardSchemaV1<unknown, number> = {
    '~standard': {
      version: 1,
      vendor: 'test',
      validate: (value) =>
        typeof value === 'number' && value > 0
          ? { value }
          : { issues: [{ message: 'must be positive', path: [{ key: 'items' }, 0, Symbol.for('s')] }] },
    },
  };

  it('answers synchronously for a synchronous validator, and refuses with INVALID_MESSAGE and the issues', () => {
    expect(validate(positive, 3, 't')).toBe(3);
    let error: unknown;
    try {
      validate(positive, -1, 'orders');
    } catch (e) {
      error = e;
    }
    expect(isCarrierError(error, 'INVALID_MESSAGE')).toBe(true);
    expect((error as { issues: unknown }).issues).toEqual([
      { message: 'must be positive', path: ['items', 0, 'Symbol(s)'] },
    ]);
    expect((error as Error).message).toBe(
      'body does not match the schema of topic orders: items.0.Symbol(s): must be positive',
    );
  });

  it('names at most ten issues in the message, all of them in issues', () => {
    const issues = Array.from({ length: 12 }, (_, i) => ({ message: `issue ${i}` }));
    const error = invalidMessage('t', issues);
    expect(error.issues).toHaveLength(12);
    expect(error.message).toMatch(/issue 9 \(and 2 more\)$/);
  });
});
