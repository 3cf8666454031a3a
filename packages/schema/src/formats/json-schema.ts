import { createRequire } from 'node:module';
import { CarrierError } from '@carrier/core';
import { Ajv, type AnySchema, type AnySchemaObject, type ErrorObject, type ValidateFunction } from 'ajv';
import { Ajv2019 } from 'ajv/dist/2019.js';
import { Ajv2020 } from 'ajv/dist/2020.js';
import type { ValidationIssue } from '../codec-support.js';
import type { ResolvedSchema, SchemaFormat } from './format.js';

/**
 * JSON Schema: documents validated and compiled by ajv (drafts 06, 07, 2019-09 and 2020-12, chosen
 * by `$schema`; draft-07 when absent). Compatibility is a documented subset of Confluent's JSON
 * Schema rules
 * ({@link https://docs.confluent.io/platform/current/schema-registry/fundamentals/serdes-develop/serdes-json.html#json-schema-compatibility-rules | JSON Schema compatibility rules}),
 * comparing the schema data was written with (`writer`) to the one reading it (`reader`), with
 * Confluent's content models: an object schema is *open* when it allows any additional property
 * (`additionalProperties` absent or `true`, no `patternProperties`), *closed* when
 * `additionalProperties` is `false`, *partially open* when it is a schema. Incompatible:
 *
 * - a type the writer allows that the reader does not (`integer` → `number` widens and is
 *   compatible; `number` → `integer`, `string` → `number`, a typed schema where the writer had
 *   none are not);
 * - a property made required, or added as required, without a `default`;
 * - a property added to an open writer (its data may hold anything under that name), unless the
 *   reader's property schema accepts anything (`{}`); added to a partially open writer, unless the
 *   property's schema accepts what the writer's `additionalProperties` allowed;
 * - a property removed from a closed reader (the writer's data has it, the reader refuses it),
 *   unless the writer's property schema was `false`; removed from a partially open reader unless
 *   its `additionalProperties` accepts the writer's property;
 * - `additionalProperties` going from allowed to `false`, or from any value to a schema;
 * - an `enum` losing values;
 * - and the same, recursively, in properties, `additionalProperties` and `items`.
 *
 * A partially open model's schema for a property is that of the first `patternProperties` pattern
 * matching its name, else `additionalProperties`.
 *
 * Not checked (compatible as far as this registry is concerned; Confluent checks them): string,
 * number and array bounds (`maxLength`, `minimum`, `maxItems`, …), `pattern`, `dependencies`,
 * `allOf`/`anyOf`/`oneOf`/`not`, and `$ref` targets (two equal `$ref`s are the same schema;
 * different ones are incompatible).
 */

export interface ParsedJsonSchema {
  readonly document: JsonSchemaDocument;
  readonly validate: ValidateFunction;
  readonly canonical: string;
}

/** A JSON Schema document: an object or a boolean. */
export type JsonSchemaDocument = boolean | { readonly [keyword: string]: unknown };

type SchemaObject = { readonly [keyword: string]: unknown };

function ajvFor(document: JsonSchemaDocument): Ajv {
  const dialect =
    typeof document === 'object' && typeof document.$schema === 'string' ? document.$schema : '';
  const options = { strict: false, allErrors: true, validateFormats: false };
  if (dialect.includes('2020-12')) return new Ajv2020(options);
  if (dialect.includes('2019-09')) return new Ajv2019(options);
  const ajv = new Ajv(options);
  if (dialect.includes('draft-06')) ajv.addMetaSchema(draft06() as AnySchemaObject);
  return ajv;
}

/** Draft-06's meta-schema, which ajv ships as JSON but does not load by default. */
function draft06(): AnySchema {
  return createRequire(import.meta.url)('ajv/dist/refs/json-schema-draft-06.json') as AnySchema;
}

/**
 * Parse and compile a JSON Schema with its references (each added to ajv under its reference name,
 * so `$ref: "<name>"` resolves).
 *
 * @throws CarrierError `INVALID_ARGUMENT` when a document is not JSON or not a valid schema.
 */
export function compileJsonSchema(schema: ResolvedSchema): ParsedJsonSchema {
  const document = parseDocument(schema.definition.schema, 'schema');
  const ajv = ajvFor(document);
  const added = new Set<string>();
  const addReferences = (s: ResolvedSchema): void => {
    for (const reference of s.references) {
      if (added.has(reference.name)) continue;
      added.add(reference.name);
      addReferences(reference.schema);
      const referenced = parseDocument(reference.schema.definition.schema, `reference ${reference.name}`);
      try {
        ajv.addSchema(referenced as AnySchema, reference.name);
      } catch (cause) {
        throw invalid(`reference ${reference.name}`, cause);
      }
    }
  };
  addReferences(schema);
  let validate: ValidateFunction;
  try {
    validate = ajv.compile(document as AnySchema);
  } catch (cause) {
    throw invalid('schema', cause);
  }
  const canonical = `${JSON.stringify(document)}\n${JSON.stringify(schema.definition.references ?? [])}`;
  return { document, validate, canonical };
}

function parseDocument(text: string, what: string): JsonSchemaDocument {
  let document: unknown;
  try {
    document = JSON.parse(text);
  } catch (cause) {
    throw new CarrierError(
      'INVALID_ARGUMENT',
      `JSON Schema ${what} is not JSON: ${(cause as Error).message}`,
      {
        cause,
      },
    );
  }
  if (
    typeof document !== 'boolean' &&
    (typeof document !== 'object' || document === null || Array.isArray(document))
  ) {
    throw new CarrierError('INVALID_ARGUMENT', `JSON Schema ${what} is neither an object nor a boolean`);
  }
  return document as JsonSchemaDocument;
}

function invalid(what: string, cause: unknown): CarrierError {
  return new CarrierError('INVALID_ARGUMENT', `invalid JSON Schema ${what}: ${(cause as Error).message}`, {
    cause,
  });
}

/** ajv's errors as validation issues, with paths of keys and array indexes into `value`. */
export function issuesOf(
  errors: readonly ErrorObject[] | null | undefined,
  value: unknown,
): ValidationIssue[] {
  return (errors ?? []).map((error) => {
    const path = pathOf(error.instancePath, value);
    const extra =
      error.keyword === 'additionalProperties'
        ? ` (${String((error.params as { additionalProperty?: unknown }).additionalProperty)})`
        : '';
    return { message: `${error.message ?? error.keyword}${extra}`, path };
  });
}

function pathOf(pointer: string, value: unknown): (string | number)[] {
  if (!pointer) return [];
  const path: (string | number)[] = [];
  let at: unknown = value;
  for (const raw of pointer.slice(1).split('/')) {
    const key = raw.replace(/~1/g, '/').replace(/~0/g, '~');
    const index = Array.isArray(at) && /^\d+$/.test(key) ? Number(key) : undefined;
    path.push(index ?? key);
    at = at !== null && typeof at === 'object' ? (at as Record<string, unknown>)[key] : undefined;
  }
  return path;
}

export const jsonSchemaFormat: SchemaFormat<ParsedJsonSchema> = {
  parse: compileJsonSchema,
  canonical: (parsed) => parsed.canonical,
  incompatibilities(reader, writer) {
    const problems: string[] = [];
    compare(writer.document, reader.document, '#', problems);
    return problems;
  },
};

const ANY_TYPE = ['array', 'boolean', 'integer', 'null', 'number', 'object', 'string'];

function isEmptySchema(s: JsonSchemaDocument): boolean {
  if (s === true) return true;
  if (typeof s !== 'object') return false;
  return Object.keys(s).every((k) =>
    ['$schema', '$id', 'title', 'description', '$comment', 'default'].includes(k),
  );
}

/** The JSON types a schema admits, from `type` or, when absent, from the keywords it uses. */
function typesOf(s: SchemaObject): string[] | undefined {
  if (typeof s.type === 'string') return [s.type];
  if (Array.isArray(s.type)) return s.type.filter((t): t is string => typeof t === 'string');
  if ('properties' in s || 'required' in s || 'additionalProperties' in s) return ['object'];
  if ('items' in s) return ['array'];
  return undefined;
}

function accepts(readerTypes: readonly string[], type: string): boolean {
  return readerTypes.includes(type) || (type === 'integer' && readerTypes.includes('number'));
}

function compare(
  writer: JsonSchemaDocument,
  reader: JsonSchemaDocument,
  path: string,
  problems: string[],
): void {
  if (isEmptySchema(reader) || writer === false) return;
  if (reader === false) {
    problems.push(`${path}: the reader accepts nothing`);
    return;
  }
  if (writer === true || typeof writer !== 'object' || typeof reader !== 'object') {
    problems.push(`${path}: type narrowed from any value`);
    return;
  }
  if (typeof writer.$ref === 'string' || typeof reader.$ref === 'string') {
    if (writer.$ref !== reader.$ref)
      problems.push(`${path}: $ref changed from ${writer.$ref} to ${reader.$ref}`);
    return;
  }
  const writerTypes = typesOf(writer) ?? ANY_TYPE;
  const readerTypes = typesOf(reader) ?? ANY_TYPE;
  const lost = writerTypes.filter((t) => !accepts(readerTypes, t));
  if (lost.length > 0) {
    problems.push(
      `${path}: type ${JSON.stringify(writer.type ?? 'any')} changed to ${JSON.stringify(reader.type)}`,
    );
    return;
  }
  compareEnum(writer, reader, path, problems);
  if (writerTypes.includes('object') && readerTypes.includes('object'))
    compareObjects(writer, reader, path, problems);
  if (writerTypes.includes('array') && readerTypes.includes('array')) {
    const wi = writer.items;
    const ri = reader.items;
    if (isDocument(wi) && isDocument(ri)) compare(wi, ri, `${path}/items`, problems);
  }
}

function isDocument(value: unknown): value is JsonSchemaDocument {
  return typeof value === 'boolean' || (typeof value === 'object' && value !== null && !Array.isArray(value));
}

function compareEnum(writer: SchemaObject, reader: SchemaObject, path: string, problems: string[]): void {
  if (!Array.isArray(reader.enum)) return;
  const readerValues = new Set(reader.enum.map((v) => JSON.stringify(v)));
  const writerValues = Array.isArray(writer.enum) ? writer.enum : undefined;
  if (!writerValues) {
    problems.push(`${path}: enum added`);
    return;
  }
  const lost = writerValues.filter((v) => !readerValues.has(JSON.stringify(v)));
  if (lost.length > 0)
    problems.push(`${path}: enum values removed: ${lost.map((v) => JSON.stringify(v)).join(', ')}`);
}

type ContentModel = 'open' | 'closed' | 'partial';

/** Confluent's content models: open (anything else allowed), closed, or partially open. */
function contentModel(s: SchemaObject): ContentModel {
  if (s.additionalProperties === false) return 'closed';
  const patterns = s.patternProperties;
  const hasPatterns =
    isDocument(patterns) && typeof patterns === 'object' && Object.keys(patterns).length > 0;
  if (hasPatterns || (isDocument(s.additionalProperties) && s.additionalProperties !== true))
    return 'partial';
  return 'open';
}

/** The schema a partially open model applies to a property it does not name. */
function schemaOfUnnamed(s: SchemaObject, name: string): JsonSchemaDocument | undefined {
  const patterns = s.patternProperties;
  if (typeof patterns === 'object' && patterns !== null) {
    for (const [pattern, schema] of Object.entries(patterns)) {
      if (matches(pattern, name) && isDocument(schema)) return schema;
    }
  }
  const additional = s.additionalProperties;
  return isDocument(additional) ? additional : undefined;
}

function matches(pattern: string, name: string): boolean {
  try {
    return new RegExp(pattern, 'u').test(name);
  } catch {
    return false;
  }
}

function propertiesOf(s: SchemaObject): Record<string, JsonSchemaDocument> {
  const properties = s.properties;
  if (typeof properties !== 'object' || properties === null) return {};
  return properties as Record<string, JsonSchemaDocument>;
}

function requiredOf(s: SchemaObject): Set<string> {
  return new Set(
    Array.isArray(s.required) ? s.required.filter((r): r is string => typeof r === 'string') : [],
  );
}

function hasDefault(s: JsonSchemaDocument | undefined): boolean {
  return typeof s === 'object' && s !== null && 'default' in s;
}

function compareObjects(writer: SchemaObject, reader: SchemaObject, path: string, problems: string[]): void {
  const wp = propertiesOf(writer);
  const rp = propertiesOf(reader);
  const wr = requiredOf(writer);
  const rr = requiredOf(reader);
  const writerModel = contentModel(writer);
  const readerModel = contentModel(reader);
  for (const name of new Set([...Object.keys(wp), ...Object.keys(rp)])) {
    const at = `${path}/properties/${name}`;
    const w = wp[name];
    const r = rp[name];
    if (w !== undefined && r !== undefined) {
      if (!wr.has(name) && rr.has(name) && !hasDefault(r))
        problems.push(`${at}: became required without a default`);
      compare(w, r, at, problems);
    } else if (w !== undefined) {
      const covering = readerModel === 'partial' ? schemaOfUnnamed(reader, name) : undefined;
      if (covering !== undefined) {
        if (!compatible(w, covering, at))
          problems.push(`${at}: removed, and the reader's schema for it refuses its values`);
      } else if (readerModel !== 'open' && w !== false) {
        problems.push(`${at}: removed from a closed content model`);
      }
    } else if (r !== undefined) {
      const covered = writerModel === 'partial' ? schemaOfUnnamed(writer, name) : undefined;
      if (writerModel === 'open' && !isEmptySchema(r)) {
        problems.push(`${at}: added to an open content model`);
      } else if (covered !== undefined && !compatible(covered, r, at)) {
        problems.push(`${at}: added, and refuses values the writer allowed under that name`);
      }
      if (writerModel !== 'open' && rr.has(name) && !hasDefault(r)) {
        problems.push(`${at}: required property added without a default`);
      }
    }
  }
  const at = `${path}/additionalProperties`;
  const wa = writer.additionalProperties;
  const ra = reader.additionalProperties;
  const writerAllows = wa !== false;
  const readerAllows = ra !== false;
  if (writerAllows && !readerAllows) {
    problems.push(`${at}: additional properties no longer allowed`);
  } else if (writerAllows && readerAllows) {
    const wSchema = isDocument(wa) && wa !== true ? wa : undefined;
    const rSchema = isDocument(ra) && ra !== true ? ra : undefined;
    if (wSchema === undefined && rSchema !== undefined) problems.push(`${at}: narrowed to a schema`);
    else if (wSchema !== undefined && rSchema !== undefined) compare(wSchema, rSchema, at, problems);
  }
}

function compatible(writer: JsonSchemaDocument, reader: JsonSchemaDocument, path: string): boolean {
  const sub: string[] = [];
  compare(writer, reader, path, sub);
  return sub.length === 0;
}
