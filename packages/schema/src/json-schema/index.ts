/**
 * `@carrier/schema/json-schema`: the JSON Schema codec (ajv), with the Confluent wire format and a
 * schema registry.
 *
 * @packageDocumentation
 */
export type { JsonSchemaDocument } from '../formats/json-schema.js';
export {
  JSON_SCHEMA_CONTENT_TYPE,
  type JsonSchemaCodecOptions,
  jsonSchemaCodec,
} from './json-schema-codec.js';
