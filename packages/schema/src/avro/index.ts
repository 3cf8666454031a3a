/**
 * `@carrier/schema/avro`: the Avro codec (avsc), with the Confluent wire format and a schema
 * registry.
 *
 * @packageDocumentation
 */
export { AVRO_CONTENT_TYPE, type AvroCodecOptions, type AvroSchema, avroCodec } from './avro-codec.js';
