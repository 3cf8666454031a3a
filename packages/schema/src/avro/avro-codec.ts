import type { Codec, DecodeContext, EncodeContext, Encoded } from '@carrier/core';
import { CarrierError } from '@carrier/core';
import avro from 'avsc';
import {
  asBuffer,
  decodeError,
  encodeError,
  idUnder,
  OwnSchemaIds,
  pathInto,
  type SchemaCodecOptions,
  summarize,
  type ValidationIssue,
  WriterSchemas,
} from '../codec-support.js';
import { parseAvro } from '../formats/avro.js';
import { decodeFrame, encodeFrame } from '../framing.js';
import type { SchemaDefinition } from '../registry.js';
import { markWriterSchema, type WRITER_SCHEMA, writerSchemaOf } from '../writer-schema.js';
import { keepWriterOnlyFields, writerHasFieldsNotIn } from './writer-fields.js';

/** Content type of Avro bodies (Avro binary encoding, in the Confluent wire format). */
export const AVRO_CONTENT_TYPE = 'application/vnd.apache.avro+binary';

/** Options of {@link avroCodec}. */
export interface AvroCodecOptions extends SchemaCodecOptions {
  /**
   * The reader's and writer's schema: Avro schema JSON (an object, or its text) or an avsc `Type`.
   * Types built here omit avsc's record methods, so decoded records are plain data.
   */
  readonly schema: AvroSchema;
}

/** An Avro schema: its JSON (as an object, e.g. parsed from an `.avsc` file, or as text) or an avsc `Type`. */
export type AvroSchema = avro.Type | avro.Schema | string | { readonly [key: string]: unknown };

interface WriterType {
  readonly id: number;
  readonly definition: SchemaDefinition;
  readonly type: avro.Type;
  /** Resolves the writer's data to the codec's type; `undefined` when it is the same schema. */
  readonly resolver: avro.Resolver | undefined;
  /** Whether the writer's schema has fields the codec's lacks (else the codec's own schema carries all). */
  readonly hasFieldsWeLack: boolean;
}

/**
 * An Avro codec: bodies of type `T` (records as plain objects; `long` as number, `bytes` as
 * `Buffer`, as avsc reads them).
 *
 * **Encode**: validates the value against the schema (`INVALID_MESSAGE`, one issue per bad value
 * with its path), registers the schema under the subject on first use (or looks it up, see
 * `autoRegister`; `SCHEMA_INCOMPATIBLE` when the registry refuses it, `ENCODE_FAILED` when it
 * cannot be asked), then writes the Confluent frame (magic byte, schema id) and the Avro binary
 * encoding. `Encoded.schemaId` is the id as decimal text. A value bearing {@link WRITER_SCHEMA}
 * (a decoded body, or a copy spread from one) is written with that writer's schema and id when the
 * writer's schema has fields this codec's lacks and the value still fits it, so those fields
 * survive a forwarder; when this codec's schema has every field the writer's has (an older writer),
 * it is written with this codec's own schema, so edits to the newer fields are kept. The writer's schema
 * is then registered under the target subject first (with `autoRegister`), so the registry checks
 * it there too.
 *
 * **Decode**: reads the frame, fetches the writer's schema by id (once per id; `DECODE_FAILED`
 * for an id the registry does not know), and resolves the data to this codec's schema (Avro schema
 * resolution: reader fields missing from the writer take their defaults, promotions apply). Fields
 * only the writer has are kept on the returned record (and in nested records, arrays and maps of
 * records) with the writer's values, and the record is marked with {@link WRITER_SCHEMA}.
 * `DECODE_FAILED` for bytes that are not in the wire format or not valid under the writer's schema;
 * registry failures (`CONNECTION`, `TIMEOUT`, `AUTH_FAILED`) pass through, so a registry outage
 * does not dead-letter good messages.
 */
export function avroCodec<T = unknown>(options: AvroCodecOptions): Codec<T> {
  const type = toType(options.schema);
  const definition: SchemaDefinition = {
    schemaType: 'AVRO',
    schema: JSON.stringify(type.schema({ exportAttrs: true })),
  };
  const ownIds = new OwnSchemaIds(options, async () => definition);
  const writers = new WriterSchemas<WriterType>(options.registry, (id, resolved) => {
    const writerType = parseAvro(resolved, {});
    const same = writerType.equals(type);
    return {
      id,
      definition: resolved.definition,
      type: writerType,
      resolver: same ? undefined : type.createResolver(writerType),
      hasFieldsWeLack: !same && writerHasFieldsNotIn(writerType, type),
    };
  });
  /** Subjects the writer schema of a forwarded value was registered under, by `subject id`. */
  const forwardedUnder = new Map<string, Promise<number>>();

  async function encodeWithWriter(
    value: T,
    id: number,
    context: EncodeContext,
  ): Promise<Encoded | undefined> {
    let writer: WriterType;
    try {
      writer = await writers.get(id, context.signal);
    } catch (error) {
      throw encodeError(error, `writer schema ${id} of the value`);
    }
    // the writer's schema only when it has fields this codec's lacks (else this codec's own schema
    // carries everything, edits to its own newer fields included) and the value still fits it
    if (writer.resolver === undefined || !writer.hasFieldsWeLack || !writer.type.isValid(value))
      return undefined;
    if (options.autoRegister ?? true) {
      const subject = ownIds.subject(context.topic);
      const key = `${subject}\n${id}`;
      let registered = forwardedUnder.get(key);
      if (!registered) {
        registered = idUnder(options, subject, writer.definition, context.signal);
        forwardedUnder.set(key, registered);
        registered.catch(() => forwardedUnder.delete(key));
      }
      try {
        await registered;
      } catch (error) {
        throw encodeError(error, `writer schema ${id} under subject "${subject}"`);
      }
    }
    return framed(id, writer.type, value);
  }

  return {
    name: 'avro',
    contentType: AVRO_CONTENT_TYPE,
    async encode(value, context) {
      const writerId = writerSchemaOf(value);
      if (writerId !== undefined) {
        const encoded = await encodeWithWriter(value, writerId, context);
        if (encoded) return encoded;
      }
      const issues = validate(type, value);
      if (issues.length > 0) {
        throw new CarrierError(
          'INVALID_MESSAGE',
          `body does not match the Avro schema: ${summarize(issues)}`,
          {
            issues,
          },
        );
      }
      const id = await ownIds.idFor(context.topic, context.signal);
      return framed(id, type, value);
    },
    async decode(bytes, context: DecodeContext) {
      const frame = decodeFrame(bytes);
      const writer = await writers.get(frame.schemaId, context.signal);
      try {
        const payload = asBuffer(frame.payload);
        if (writer.resolver === undefined) return markWriterSchema(type.fromBuffer(payload) as T, writer.id);
        const value = type.fromBuffer(payload, writer.resolver);
        keepWriterOnlyFields(value, writer.type.fromBuffer(payload), type, writer.type);
        return markWriterSchema(value as T, writer.id);
      } catch (error) {
        throw decodeError(error, `bytes do not match Avro writer schema ${writer.id}`);
      }
    },
  };
}

function framed(id: number, type: avro.Type, value: unknown): Encoded {
  let payload: Buffer;
  try {
    payload = type.toBuffer(value);
  } catch (error) {
    throw new CarrierError(
      'INVALID_MESSAGE',
      `body does not match the Avro schema: ${(error as Error).message}`,
      {
        issues: [{ message: (error as Error).message }],
        cause: error,
      },
    );
  }
  return { bytes: encodeFrame(id, payload), contentType: AVRO_CONTENT_TYPE, schemaId: String(id) };
}

function toType(schema: AvroSchema): avro.Type {
  if (schema instanceof avro.Type) return schema;
  let json: avro.Schema;
  try {
    json = typeof schema === 'string' ? (JSON.parse(schema) as avro.Schema) : (schema as avro.Schema);
    return avro.Type.forSchema(json, { omitRecordMethods: true });
  } catch (cause) {
    throw new CarrierError('INVALID_ARGUMENT', `invalid Avro schema: ${(cause as Error).message}`, { cause });
  }
}

function validate(type: avro.Type, value: unknown): ValidationIssue[] {
  const issues: ValidationIssue[] = [];
  type.isValid(value, {
    errorHook: (path: string[], bad: unknown, expected: avro.Type) => {
      issues.push({
        message: `expected ${describeType(expected)}, got ${describeValue(bad)}`,
        path: pathInto(value, path),
      });
    },
  });
  return issues;
}

function describeType(type: avro.Type): string {
  return type.name ?? type.branchName ?? type.typeName;
}

function describeValue(value: unknown): string {
  if (value === undefined) return 'nothing';
  if (value instanceof Uint8Array) return `${value.length} bytes`;
  const text = typeof value === 'string' ? JSON.stringify(value) : (JSON.stringify(value) ?? String(value));
  return text.length > 60 ? `${text.slice(0, 57)}...` : text;
}
