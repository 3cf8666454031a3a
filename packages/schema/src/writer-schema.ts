/**
 * The writer-schema marker. A schema codec's `decode` puts it on every object it returns: an
 * enumerable property under this symbol, holding the registry id of the schema the message was
 * written with. Being enumerable and own, it survives `{ ...body, field: x }` and
 * `Object.assign({}, body)` (not `structuredClone` or JSON); JSON and the codecs ignore it
 * otherwise.
 *
 * It is what keeps unknown fields through a forwarder: the Avro and JSON Schema codecs' `encode`,
 * given a value bearing the marker, re-encodes it with the writer's schema (the same id) when the
 * value still fits that schema, so the fields the forwarder's own schema lacks are written back with
 * their values; else with the codec's own schema. Protobuf needs no marker: unknown fields travel
 * in the message's `$unknown`.
 *
 * Shared through `Symbol.for`, so that copies of this package loaded twice agree.
 */
export const WRITER_SCHEMA: unique symbol = Symbol.for('@carrier/schema:writer-schema');

/** The writer schema id `value` carries under {@link WRITER_SCHEMA}, if any. */
export function writerSchemaOf(value: unknown): number | undefined {
  if (value === null || typeof value !== 'object') return undefined;
  const id = (value as { [WRITER_SCHEMA]?: unknown })[WRITER_SCHEMA];
  return typeof id === 'number' ? id : undefined;
}

/** Mark `value` (an object) with the writer schema id; other values are returned as they are. */
export function markWriterSchema<T>(value: T, id: number): T {
  if (value !== null && typeof value === 'object') {
    Object.defineProperty(value, WRITER_SCHEMA, {
      value: id,
      enumerable: true,
      writable: true,
      configurable: true,
    });
  }
  return value;
}
