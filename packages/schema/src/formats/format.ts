import type { SchemaDefinition, SchemaType } from '../registry.js';

/**
 * What the embedded registry needs of a schema language: parse a schema (with the schemas it
 * references), say when two texts are the same schema, and say why one schema cannot read data
 * written with another. One module per language, loaded on first use, so that the embedded
 * registry costs a user only the languages they register.
 */

/** A schema with its references resolved to their definitions, recursively. */
export interface ResolvedSchema {
  readonly definition: SchemaDefinition;
  /** The referenced schemas, in the order of `definition.references`, under their reference names. */
  readonly references: readonly { readonly name: string; readonly schema: ResolvedSchema }[];
}

export interface SchemaFormat<Parsed> {
  /**
   * Parse a schema.
   *
   * @throws CarrierError `INVALID_ARGUMENT` when it (or a reference) does not parse.
   */
  parse(schema: ResolvedSchema): Parsed;
  /** A text equal for two schemas exactly when they are the same schema (formatting aside). */
  canonical(parsed: Parsed): string;
  /** Why `reader` cannot read data written with `writer`; empty when it can. */
  incompatibilities(reader: Parsed, writer: Parsed): string[];
}

/** Load the format of `type` (a dynamic import: avsc, protobufjs and ajv load only when used). */
export async function loadFormat(type: SchemaType): Promise<SchemaFormat<unknown>> {
  switch (type) {
    case 'AVRO':
      return (await import('./avro.js')).avroFormat as SchemaFormat<unknown>;
    case 'PROTOBUF':
      return (await import('./protobuf.js')).protobufFormat as SchemaFormat<unknown>;
    case 'JSON':
      return (await import('./json-schema.js')).jsonSchemaFormat as SchemaFormat<unknown>;
  }
}
