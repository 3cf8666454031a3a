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

  it("accepts every key of Go CDK's metadata test but the one with CR, LF and NUL", () => {
    const keys = [
      'foo/bar/baz',
      '../foo/../bar/../../baz../',
      'foo\\bar\\baz',
      'foo"bar"baz',
      'foo bar baz',
      '☺☺☺',
    ];
    keys.push(
      String.fromCharCode(...Array.from({ length: 32 }, (_, i) => i).filter((c) => ![0, 10, 13].includes(c))),
    );
    keys.push(' !"#$%&\'()*+,-./:;<=>?', '@[\\]^_`', '{|}~\x7f', 'x'.repeat(255), 'é'.repeat(127));
    const headers = Object.fromEntries(keys.map((k) => [k, k]));
    expect(validateHeaders(headers)).toEqual(headers);
  });

  it.each([
    [{ '': 'v' }],
    [{ 'a\rb': 'v' }],
    [{ 'a\nb': 'v' }],
    [{ 'a\0b': 'v' }],
    [{ ['x'.repeat(256)]: 'v' }],
    [{ ['é'.repeat(128)]: 'v' }],
    [{ 'carrier-id': 'v' }],
    [{ 'Carrier-Key': 'v' }],
    [{ traceparent: 'v' }],
    [{ TraceState: 'v' }],
    // an own property, as JSON.parse makes it: `out[key] = value` would set the prototype instead
    [JSON.parse('{"__proto__": "v", "a": "b"}')],
    [{ k: 'line\nbreak' }],
    [{ k: 1 }],
  ])('rejects %j', (headers) => {
    expect(code(() => validateHeaders(headers))).toBe('INVALID_ARGUMENT');
  });
});
