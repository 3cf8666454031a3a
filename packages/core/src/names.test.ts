import { describe, expect, it } from 'vitest';
import { CarrierError } from './errors.js';
import { validateHeaders, validateName } from './names.js';

function code(fn: () => unknown): string | undefined {
  try {
    fn();
  } catch (e) {
    return e instanceof CarrierError ? e.code : 'not-a-carrier-error';
  }
  return undefined;
}

describe('portable names', () => {
  it.each(['orders', 'Orders.v2', 'a', 'x-y_z.1', '9lives', 'a'.repeat(100)])('accepts %s', (name) => {
    expect(validateName('topic', name)).toBe(name);
  });

  it.each(['', ' ', 'a b', 'a..b', 'a.', '.a', '-a', '_a', 'a/b', 'a*b', 'a>b', 'ü', 'a'.repeat(101)])(
    'rejects %j',
    (name) => {
      expect(code(() => validateName('group', name))).toBe('INVALID_NAME');
    },
  );

  it('rejects non-strings', () => {
    expect(code(() => validateName('topic', 42))).toBe('INVALID_NAME');
  });
});

describe('portable headers', () => {
  it('accepts unicode values and keeps them', () => {
    expect(validateHeaders({ tenant: 'ácmé 🚀', 'x-trace.id_1': '' })).toEqual({
      tenant: 'ácmé 🚀',
      'x-trace.id_1': '',
    });
  });

  it.each([
    [{ 'has space': 'v' }],
    [{ 'carrier-id': 'v' }],
    [{ 'Carrier-Key': 'v' }],
    [{ k: 'line\nbreak' }],
    [{ k: 1 }],
    [{ ü: 'v' }],
  ])('rejects %j', (headers) => {
    expect(code(() => validateHeaders(headers))).toBe('INVALID_ARGUMENT');
  });
});
