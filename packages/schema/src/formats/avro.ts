import { CarrierError } from '@carrier/core';
import avro from 'avsc';
import type { ResolvedSchema, SchemaFormat } from './format.js';

/**
 * Avro: parsed by avsc; compatibility is Avro schema resolution itself
 * ({@link https://avro.apache.org/docs/1.12.0/specification/#schema-resolution | Avro specification: Schema Resolution}):
 * a reader can read a writer's data exactly when avsc can build a resolver from the writer's type
 * to the reader's (`reader.createResolver(writer)`): same named types (or aliases), promotable
 * primitives (int → long, float, double; string ↔ bytes), every reader field either in the writer
 * or with a default, union branches that resolve. Confluent's Avro check is the same resolution
 * ({@link https://docs.confluent.io/platform/current/schema-registry/fundamentals/schema-evolution.html#avro-compatibility | Avro compatibility}).
 */

export interface ParsedAvro {
  readonly type: avro.Type;
  readonly referenceKey: string;
}

/** Parse an Avro schema text (JSON) with the named types of its references. */
export function parseAvro(schema: ResolvedSchema, registry: Record<string, avro.Type> = {}): avro.Type {
  for (const reference of schema.references) parseAvro(reference.schema, registry);
  let json: unknown;
  try {
    json = JSON.parse(schema.definition.schema);
  } catch (cause) {
    throw new CarrierError('INVALID_ARGUMENT', `Avro schema is not JSON: ${(cause as Error).message}`, {
      cause,
    });
  }
  try {
    return avro.Type.forSchema(json as avro.Schema, { registry });
  } catch (cause) {
    throw new CarrierError('INVALID_ARGUMENT', `invalid Avro schema: ${(cause as Error).message}`, { cause });
  }
}

export const avroFormat: SchemaFormat<ParsedAvro> = {
  parse(schema) {
    const referenceKey = JSON.stringify(schema.definition.references ?? []);
    return { type: parseAvro(schema), referenceKey };
  },
  canonical(parsed) {
    return `${JSON.stringify(parsed.type.schema({ exportAttrs: true }))}\n${parsed.referenceKey}`;
  },
  incompatibilities(reader, writer) {
    const problem = explain(reader.type, writer.type, reader.type.name ?? reader.type.typeName);
    return problem === undefined ? [] : [problem];
  },
};

/**
 * Why `reader` cannot resolve `writer`, at the deepest record field, array items or map values
 * where resolution fails (avsc's own message names types, not fields); `undefined` when it can.
 */
function explain(reader: avro.Type, writer: avro.Type, path: string): string | undefined {
  try {
    reader.createResolver(writer);
    return undefined;
  } catch (error) {
    const deeper = explainInside(reader, writer, path);
    return deeper ?? `${path}: ${(error as Error).message}`;
  }
}

function explainInside(reader: avro.Type, writer: avro.Type, path: string): string | undefined {
  if (reader.typeName === 'record' && writer.typeName === 'record') {
    const writerFields = (writer as avro.types.RecordType).fields;
    for (const field of (reader as avro.types.RecordType).fields) {
      const names = [field.name, ...(field.aliases ?? [])];
      const match = writerFields.find((w) => names.includes(w.name));
      const problem = match && explain(field.type, match.type, `${path}.${field.name}`);
      if (problem) return problem;
    }
  } else if (reader.typeName === 'array' && writer.typeName === 'array') {
    const items = (t: avro.Type) => (t as avro.types.ArrayType).itemsType;
    return explain(items(reader), items(writer), `${path}[]`);
  } else if (reader.typeName === 'map' && writer.typeName === 'map') {
    const values = (t: avro.Type) => (t as avro.types.MapType).valuesType as avro.Type;
    return explain(values(reader), values(writer), `${path}{}`);
  }
  return undefined;
}
