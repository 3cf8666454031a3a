import { describe, expect, it } from 'vitest';
import { compileJsonSchema, jsonSchemaFormat } from './json-schema.js';

const parse = (document: unknown) =>
  compileJsonSchema({ definition: { schemaType: 'JSON', schema: JSON.stringify(document) }, references: [] });

/** Problems of reading data written with `writer` by `reader` (the BACKWARD direction). */
const problems = (writer: unknown, reader: unknown) =>
  jsonSchemaFormat.incompatibilities(parse(reader), parse(writer));

const closed = (properties: Record<string, unknown>, required: string[] = []) => ({
  type: 'object',
  properties,
  required,
  additionalProperties: false,
});
const open = (properties: Record<string, unknown>, required: string[] = []) => ({
  type: 'object',
  properties,
  required,
});

describe("JSON Schema compatibility rules (subset of Confluent's)", () => {
  it('accepts an optional property added to a closed model, refuses one added to an open model', () => {
    const id = { id: { type: 'string' } };
    expect(problems(closed(id), closed({ ...id, note: { type: 'string' } }))).toEqual([]);
    expect(problems(open(id), open({ ...id, note: { type: 'string' } }))[0]).toContain(
      'added to an open content model',
    );
    expect(problems(open(id), open({ ...id, note: {} }))).toEqual([]);
  });

  it('accepts a property removed from an open reader, refuses one removed from a closed reader', () => {
    const both = { id: { type: 'string' }, note: { type: 'string' } };
    expect(problems(open(both), open({ id: { type: 'string' } }))).toEqual([]);
    expect(problems(closed(both), closed({ id: { type: 'string' } }))[0]).toContain(
      'removed from a closed content model',
    );
  });

  it('refuses a required property added without a default, accepts it with one', () => {
    const id = { id: { type: 'string' } };
    expect(problems(closed(id), closed({ ...id, n: { type: 'integer' } }, ['n']))[0]).toContain('required');
    expect(problems(closed(id), closed({ ...id, n: { type: 'integer', default: 0 } }, ['n']))).toEqual([]);
    const both = { ...id, n: { type: 'integer' } };
    expect(problems(closed(both), closed(both, ['n']))[0]).toContain('became required');
    expect(problems(closed(both, ['n']), closed(both))).toEqual([]);
  });

  it('refuses a property type change or narrowing, accepts widening integer to number', () => {
    expect(problems(closed({ n: { type: 'integer' } }), closed({ n: { type: 'string' } }))[0]).toContain(
      '#/properties/n',
    );
    expect(problems(closed({ n: { type: 'number' } }), closed({ n: { type: 'integer' } }))).toHaveLength(1);
    expect(problems(closed({ n: { type: 'integer' } }), closed({ n: { type: 'number' } }))).toEqual([]);
    expect(problems(closed({ n: { type: 'string' } }), closed({ n: { type: ['string', 'null'] } }))).toEqual(
      [],
    );
  });

  it('refuses closing an open model and narrowing additionalProperties; accepts opening a closed one', () => {
    const id = { id: { type: 'string' } };
    expect(problems(open(id), closed(id))[0]).toContain('no longer allowed');
    expect(problems(open(id), { ...open(id), additionalProperties: { type: 'string' } })[0]).toContain(
      'narrowed',
    );
    expect(problems(closed(id), open(id))).toEqual([]);
  });

  it('checks a property added to a partially open writer against its additionalProperties schema', () => {
    const writer = { ...open({ id: { type: 'string' } }), additionalProperties: { type: 'string' } };
    const fits = { ...writer, properties: { id: { type: 'string' }, note: { type: 'string' } } };
    const clashes = { ...writer, properties: { id: { type: 'string' }, note: { type: 'integer' } } };
    expect(problems(writer, fits)).toEqual([]);
    expect(problems(writer, clashes)[0]).toContain('note');
  });

  it('refuses enum values removed, accepts values added', () => {
    const e = (values: string[]) => closed({ s: { enum: values } });
    expect(problems(e(['a', 'b']), e(['a', 'b', 'c']))).toEqual([]);
    expect(problems(e(['a', 'b']), e(['a']))[0]).toContain('"b"');
  });

  it('compares nested objects and array items', () => {
    const nested = (t: string) => closed({ lines: { type: 'array', items: closed({ qty: { type: t } }) } });
    expect(problems(nested('integer'), nested('string'))[0]).toContain(
      '#/properties/lines/items/properties/qty',
    );
  });

  it('refuses a schema ajv cannot compile with INVALID_ARGUMENT', () => {
    expect(() => parse({ type: 'object', properties: { a: { type: 'no-such-type' } } })).toThrow(
      /invalid JSON Schema/,
    );
  });
});
