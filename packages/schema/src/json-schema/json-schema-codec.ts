import type { Codec, DecodeContext, EncodeContext, Encoded } from '@carrier/core';
import { CarrierError } from '@carrier/core';
import {
  decodeError,
  encodeError,
  idUnder,
  OwnSchemaIds,
  resolveReferences,
  type SchemaCodecOptions,
  summarize,
  WriterSchemas,
} from '../codec-support.js';
import {
  compileJsonSchema,
  issuesOf,
  type JsonSchemaDocument,
  type ParsedJsonSchema,
} from '../formats/json-schema.js';
import { decodeFrame, encodeFrame } from '../framing.js';
import type { SchemaDefinition, SchemaReference } from '../registry.js';
import { markWriterSchema, type WRITER_SCHEMA, writerSchemaOf } from '../writer-schema.js';

/**
 * Content type of JSON Schema bodies: UTF-8 JSON behind the Confluent frame. Not `+json`: the
 * five header bytes make the body something a plain JSON reader cannot parse, so a reader without
 * this codec gets the bytes rather than a JSON error.
 */
export const JSON_SCHEMA_CONTENT_TYPE = 'application/vnd.carrier.json-schema';

/** Options of {@link jsonSchemaCodec}. */
export interface JsonSchemaCodecOptions extends SchemaCodecOptions {
  /** The schema (a JSON Schema document; draft-07 unless its `$schema` names 06, 2019-09 or 2020-12). */
  readonly schema: JsonSchemaDocument;
  /** Schemas it references by `$ref` (already registered); each is added to ajv under its `name`. */
  readonly references?: readonly SchemaReference[] | undefined;
  /** Validate decoded bodies against the writer's schema (`INVALID_MESSAGE`). Default `true`. */
  readonly validateOnDecode?: boolean | undefined;
}

/**
 * A JSON Schema codec: bodies of type `T` as JSON, validated by ajv, in the Confluent wire format
 * (as Confluent's JSON Schema serializer writes them: magic byte, schema id, UTF-8 JSON).
 *
 * **Encode**: validates the value (`INVALID_MESSAGE`, one issue per ajv error with its path),
 * registers or looks up the schema on first use (`SCHEMA_INCOMPATIBLE`, `ENCODE_FAILED`), writes
 * the frame and `JSON.stringify(value)`. A value bearing {@link WRITER_SCHEMA} is validated against
 * (and framed with) the writer's schema when it fits it, as the Avro codec does: a forwarder whose
 * own schema is closed (`additionalProperties: false`) can so pass on a newer writer's properties.
 *
 * **Decode**: reads the frame, parses the JSON (every property is kept, known or not), validates
 * it against the writer's schema, fetched by id once (`INVALID_MESSAGE` with the issues; turn it
 * off with `validateOnDecode: false`), marks the object with {@link WRITER_SCHEMA}. The reader's
 * own schema is not applied on decode (JSON needs no resolution; a typed topic validates with its
 * own validator). `DECODE_FAILED` for bytes outside the wire format, not UTF-8 or not JSON, and
 * (when validating) for an unknown schema id; registry failures pass through.
 */
export function jsonSchemaCodec<T = unknown>(options: JsonSchemaCodecOptions): Codec<T> {
  const references = options.references ?? [];
  const definition: SchemaDefinition = {
    schemaType: 'JSON',
    schema: JSON.stringify(options.schema),
    ...(references.length > 0 ? { references } : {}),
  };
  let own: Promise<ParsedJsonSchema> | undefined;
  const ownSchema = (signal: AbortSignal | undefined): Promise<ParsedJsonSchema> => {
    own ??= resolveReferences(options.registry, definition, signal).then(compileJsonSchema);
    own.catch(() => {
      own = undefined;
    });
    return own;
  };
  if (references.length === 0) own = Promise.resolve(compileJsonSchema({ definition, references: [] }));
  const ownIds = new OwnSchemaIds(options, async () => definition);
  const writers = new WriterSchemas<ParsedJsonSchema>(options.registry, (_id, resolved) =>
    compileJsonSchema(resolved),
  );
  const forwardedUnder = new Map<string, Promise<number>>();

  async function encodeWithWriter(
    value: T,
    id: number,
    context: EncodeContext,
  ): Promise<Encoded | undefined> {
    let writer: ParsedJsonSchema;
    try {
      writer = await writers.get(id, context.signal);
    } catch (error) {
      throw encodeError(error, `writer schema ${id} of the value`);
    }
    if (!writer.validate(value)) return undefined;
    if (options.autoRegister ?? true) {
      const subject = ownIds.subject(context.topic);
      const key = `${subject}\n${id}`;
      let registered = forwardedUnder.get(key);
      if (!registered) {
        const writerDefinition = await options.registry.schemaById(id, { signal: context.signal });
        if (!writerDefinition) return undefined;
        registered = idUnder(options, subject, writerDefinition, context.signal);
        forwardedUnder.set(key, registered);
        registered.catch(() => forwardedUnder.delete(key));
      }
      try {
        await registered;
      } catch (error) {
        throw encodeError(error, `writer schema ${id} under subject "${subject}"`);
      }
    }
    return framed(id, value);
  }

  return {
    name: 'json-schema',
    contentType: JSON_SCHEMA_CONTENT_TYPE,
    async encode(value, context) {
      const writerId = writerSchemaOf(value);
      if (writerId !== undefined) {
        const encoded = await encodeWithWriter(value, writerId, context);
        if (encoded) return encoded;
      }
      let schema: ParsedJsonSchema;
      try {
        schema = await ownSchema(context.signal);
      } catch (error) {
        throw encodeError(error, "the codec's schema");
      }
      if (!schema.validate(value)) {
        const issues = issuesOf(schema.validate.errors, value);
        throw new CarrierError(
          'INVALID_MESSAGE',
          `body does not match the JSON Schema: ${summarize(issues)}`,
          {
            issues,
          },
        );
      }
      const id = await ownIds.idFor(context.topic, context.signal);
      return framed(id, value);
    },
    async decode(bytes, context: DecodeContext) {
      const frame = decodeFrame(bytes);
      let value: unknown;
      try {
        value = JSON.parse(strictUtf8.decode(frame.payload));
      } catch (error) {
        throw decodeError(error, 'body is not UTF-8 JSON');
      }
      if (options.validateOnDecode ?? true) {
        const writer = await writers.get(frame.schemaId, context.signal);
        if (!writer.validate(value)) {
          const issues = issuesOf(writer.validate.errors, value);
          throw new CarrierError(
            'INVALID_MESSAGE',
            `body does not match its writer's JSON Schema ${frame.schemaId}: ${summarize(issues)}`,
            { issues },
          );
        }
      }
      return markWriterSchema(value as T, frame.schemaId);
    },
  };
}

const strictUtf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });
const utf8 = new TextEncoder();

function framed(id: number, value: unknown): Encoded {
  let text: string | undefined;
  try {
    text = JSON.stringify(value);
  } catch (cause) {
    throw new CarrierError('INVALID_MESSAGE', `body cannot be written as JSON: ${(cause as Error).message}`, {
      issues: [{ message: (cause as Error).message }],
      cause,
    });
  }
  if (text === undefined) {
    throw new CarrierError('INVALID_MESSAGE', 'body cannot be written as JSON', {
      issues: [{ message: `a ${typeof value} is not JSON` }],
    });
  }
  return {
    bytes: encodeFrame(id, utf8.encode(text)),
    contentType: JSON_SCHEMA_CONTENT_TYPE,
    schemaId: String(id),
  };
}
