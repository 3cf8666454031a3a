/**
 * `@carrier/schema/protobuf`: the Protocol Buffers codec (@bufbuild/protobuf v2, generated code
 * from protoc-gen-es), with the Confluent wire format and a schema registry.
 *
 * @packageDocumentation
 */
export { messageIndexes } from './message-indexes.js';
export { PROTOBUF_CONTENT_TYPE, type ProtobufCodecOptions, protobufCodec } from './protobuf-codec.js';
export { renderProto } from './render-proto.js';
