/**
 * `@carrier/schema`: schema registries (a Confluent REST API client, an embedded registry and an
 * HTTP server for it) and the Confluent wire format. The codecs are subpath exports, so an
 * application pays only for the formats it imports: `@carrier/schema/avro` (avsc),
 * `@carrier/schema/protobuf` (@bufbuild/protobuf), `@carrier/schema/json-schema` (ajv).
 *
 * @packageDocumentation
 */

export type { SchemaCodecOptions } from './codec-support.js';
export { ConfluentRegistryClient, type ConfluentRegistryOptions } from './confluent-client.js';
export { EmbeddedRegistry, type EmbeddedRegistryOptions } from './embedded-registry.js';
export {
  type DecodeFrameOptions,
  decodeFrame,
  encodeFrame,
  encodeMessageIndexes,
  type Frame,
  HEADER_BYTES,
  MAGIC_BYTE,
} from './framing.js';
export {
  COMPATIBILITY_LEVELS,
  type CompatibilityLevel,
  type CompatibilityResult,
  type RegisteredSchema,
  type RegistryCallOptions,
  type SchemaDefinition,
  type SchemaReference,
  type SchemaRegistry,
  type SchemaType,
  type TestCompatibilityOptions,
} from './registry.js';
export { type ServedRegistry, type ServeRegistryOptions, serveRegistry } from './serve.js';
export { type SubjectStrategy, subjectFor, topicNameStrategy } from './subject.js';
export { WRITER_SCHEMA, writerSchemaOf } from './writer-schema.js';
