import { CarrierError } from '@carrier/core';
import protobuf from 'protobufjs';
import type { ResolvedSchema, SchemaFormat } from './format.js';

/**
 * Protobuf: `.proto` text parsed by protobufjs; compatibility by rules on the parsed files, the
 * rule set of Confluent's Protobuf check
 * ({@link https://docs.confluent.io/platform/current/schema-registry/fundamentals/schema-evolution.html#protobuf-compatibility-rules | Schema Evolution: Protobuf compatibility rules};
 * the Protobuf guide's {@link https://protobuf.dev/programming-guides/proto3/#updating | Updating a Message Type}
 * for the wire facts). Fields are matched by number, messages by full name; `writer` is the schema
 * the data was written with, `reader` the one reading it. Incompatible:
 *
 * - the package changes;
 * - a message of the writer is missing in the reader;
 * - a field changes kind (scalar or enum / message / map), or its scalar type leaves its wire
 *   group: {int32, uint32, int64, uint64, bool, enum}, {sint32, sint64}, {string, bytes},
 *   {fixed32, sfixed32}, {fixed64, sfixed64}, {float}, {double};
 * - a message-typed field names another message (by resolved full name);
 * - a `required` field (proto2) is added or removed, or a field becomes or stops being `required`;
 * - a numeric, bool or enum field changes between singular and `repeated` (packed encoding);
 *   for string, bytes and message fields the change is compatible (same wire type);
 * - several existing fields move into one new `oneof`, or an existing field moves into an
 *   existing `oneof`.
 *
 * Compatible: adding or removing optional fields (proto3 fields, `optional`, `repeated`), renaming
 * a field, adding messages, adding, removing or changing enums and their values, moving a message
 * within the file, adding or removing a `oneof` around a single field.
 *
 * Type names are resolved across the schema's references (and the well-known types of
 * protobufjs); a name that cannot be resolved is compared as written.
 */

export interface ParsedProto {
  /** The schema's own package ('' when none). */
  readonly packageName: string;
  /** Every message the schema itself defines (nested included), by full name without the leading dot. */
  readonly messages: ReadonlyMap<string, protobuf.Type>;
  /** The top-level namespace of the schema's own file, for message indexes. */
  readonly top: protobuf.NamespaceBase;
  readonly canonical: string;
}

const WELL_KNOWN = /^google\/protobuf\/[a-z_]+\.proto$/;

/** Parse `.proto` text; the references (imports) are parsed into the same root for type resolution. */
export function parseProto(schema: ResolvedSchema): ParsedProto {
  const root = new protobuf.Root();
  const own = parseText(schema.definition.schema, root, 'schema');
  const packageName = own.package ?? '';
  const top = packageName ? (root.lookup(packageName) as protobuf.NamespaceBase) : root;
  const messages = new Map<string, protobuf.Type>();
  collectMessages(top, messages);
  const canonical = JSON.stringify({
    package: packageName,
    imports: own.imports ?? [],
    root: root.toJSON(),
    references: schema.definition.references ?? [],
  });
  const loaded = new Set<string>();
  for (const reference of schema.references) addReference(reference.name, reference.schema, root, loaded);
  for (const name of own.imports ?? []) {
    if (!loaded.has(name) && WELL_KNOWN.test(name)) {
      const json = protobuf.common.get(name);
      if (json) root.addJSON((json as { nested: Record<string, protobuf.AnyNestedObject> }).nested);
      loaded.add(name);
    }
  }
  return { packageName, messages, top, canonical };
}

function addReference(name: string, schema: ResolvedSchema, root: protobuf.Root, loaded: Set<string>): void {
  if (loaded.has(name)) return;
  loaded.add(name);
  for (const reference of schema.references) addReference(reference.name, reference.schema, root, loaded);
  parseText(schema.definition.schema, root, `reference ${name}`);
}

function parseText(text: string, root: protobuf.Root, what: string): protobuf.IParserResult {
  try {
    return protobuf.parse(text, root, { keepCase: true });
  } catch (cause) {
    throw new CarrierError('INVALID_ARGUMENT', `invalid Protobuf ${what}: ${(cause as Error).message}`, {
      cause,
    });
  }
}

function collectMessages(namespace: protobuf.NamespaceBase, into: Map<string, protobuf.Type>): void {
  for (const nested of namespace.nestedArray) {
    if (nested instanceof protobuf.Type) into.set(nested.fullName.replace(/^\./, ''), nested);
    if (nested instanceof protobuf.Namespace || nested instanceof protobuf.Type) {
      collectMessages(nested as protobuf.NamespaceBase, into);
    }
  }
}

/**
 * The messages of a namespace in declaration order, as Confluent's message indexes count them
 * (map entries are not messages in `.proto` text, enums are not counted).
 */
export function messagesIn(namespace: protobuf.NamespaceBase): protobuf.Type[] {
  return namespace.nestedArray.filter((n): n is protobuf.Type => n instanceof protobuf.Type);
}

/**
 * Full name (no leading dot) of the message at `indexes` in the parsed file, or `undefined` when
 * the path leads nowhere.
 */
export function messageAt(parsed: ParsedProto, indexes: readonly number[]): string | undefined {
  let namespace: protobuf.NamespaceBase = parsed.top;
  let found: protobuf.Type | undefined;
  for (const index of indexes) {
    found = messagesIn(namespace)[index];
    if (!found) return undefined;
    namespace = found;
  }
  return found?.fullName.replace(/^\./, '');
}

export const protobufFormat: SchemaFormat<ParsedProto> = {
  parse: parseProto,
  canonical: (parsed) => parsed.canonical,
  incompatibilities(reader, writer) {
    const problems: string[] = [];
    if (reader.packageName !== writer.packageName) {
      problems.push(`package changed from "${writer.packageName}" to "${reader.packageName}"`);
    }
    for (const [name, writerMessage] of writer.messages) {
      const readerMessage = reader.messages.get(name);
      if (!readerMessage) problems.push(`message ${name} removed`);
      else compareMessages(name, readerMessage, writerMessage, problems);
    }
    return problems;
  },
};

type Kind = 'scalar' | 'message' | 'map';

const SCALAR_GROUP: Record<string, string> = {
  int32: 'varint',
  uint32: 'varint',
  int64: 'varint',
  uint64: 'varint',
  bool: 'varint',
  sint32: 'zigzag',
  sint64: 'zigzag',
  string: 'length-delimited',
  bytes: 'length-delimited',
  fixed32: 'fixed32',
  sfixed32: 'fixed32',
  fixed64: 'fixed64',
  sfixed64: 'fixed64',
  float: 'float',
  double: 'double',
};

interface FieldType {
  readonly kind: Kind;
  /** The scalar's wire group, or the message's full name. */
  readonly name: string;
  /** For maps: key and value. */
  readonly key?: FieldType;
  readonly value?: FieldType;
  readonly lengthDelimited: boolean;
}

function compareMessages(
  name: string,
  reader: protobuf.Type,
  writer: protobuf.Type,
  problems: string[],
): void {
  const readerFields = new Map(reader.fieldsArray.map((f) => [f.id, f]));
  const writerFields = new Map(writer.fieldsArray.map((f) => [f.id, f]));
  for (const [id, w] of writerFields) {
    const r = readerFields.get(id);
    const where = `${name} field ${id}`;
    if (!r) {
      if (isRequired(w)) problems.push(`${where} (${w.name}): required field removed`);
      continue;
    }
    const wt = fieldType(w);
    const rt = fieldType(r);
    const typeProblem = compareTypes(wt, rt);
    if (typeProblem) problems.push(`${where} (${r.name}): ${typeProblem}`);
    if (isRequired(w) !== isRequired(r)) {
      problems.push(`${where} (${r.name}): ${isRequired(r) ? 'became required' : 'is no longer required'}`);
    }
    if (isRepeated(w) !== isRepeated(r) && wt.kind !== 'map' && !(wt.lengthDelimited && rt.lengthDelimited)) {
      problems.push(
        `${where} (${r.name}): changed from ${isRepeated(w) ? 'repeated' : 'singular'} to ${isRepeated(r) ? 'repeated' : 'singular'} for a ${wt.name} field`,
      );
    }
  }
  for (const [id, r] of readerFields) {
    if (!writerFields.has(id) && isRequired(r))
      problems.push(`${name} field ${id} (${r.name}): required field added`);
  }
  compareOneofs(name, reader, writer, problems);
}

/** From the rule as written (protobufjs's `required` getter depends on resolved editions features). */
function isRequired(field: protobuf.Field): boolean {
  return (field as { rule?: string }).rule === 'required';
}

function isRepeated(field: protobuf.Field): boolean {
  return (field as { rule?: string }).rule === 'repeated';
}

function compareOneofs(name: string, reader: protobuf.Type, writer: protobuf.Type, problems: string[]): void {
  const writerOneofOf = new Map<number, string>();
  for (const oneof of realOneofs(writer))
    for (const f of oneof.fieldsArray) writerOneofOf.set(f.id, oneof.name);
  for (const oneof of realOneofs(reader)) {
    const members = oneof.fieldsArray.map((f) => f.id);
    const movedIn = members.filter((id) => writer.fieldsById[id] && !writerOneofOf.has(id));
    const existing = members.filter((id) => writerOneofOf.has(id));
    if (movedIn.length > 1) {
      problems.push(
        `${name} oneof ${oneof.name}: several existing fields (${movedIn.join(', ')}) moved into it`,
      );
    } else if (movedIn.length === 1 && existing.length > 0) {
      problems.push(`${name} oneof ${oneof.name}: field ${movedIn[0]} moved into an existing oneof`);
    }
  }
}

/** Oneofs written in the text (not the synthetic ones of proto3 `optional` fields). */
function realOneofs(type: protobuf.Type): protobuf.OneOf[] {
  return type.oneofsArray.filter(
    (o) => !(o.fieldsArray.length === 1 && o.fieldsArray[0]?.options?.proto3_optional === true),
  );
}

function compareTypes(writer: FieldType, reader: FieldType): string | undefined {
  if (writer.kind !== reader.kind) return `kind changed from ${writer.kind} to ${reader.kind}`;
  if (writer.kind === 'map' && writer.key && reader.key && writer.value && reader.value) {
    return compareTypes(writer.key, reader.key) ?? compareTypes(writer.value, reader.value);
  }
  if (writer.name !== reader.name) {
    return writer.kind === 'scalar'
      ? `type changed between wire groups ${writer.name} and ${reader.name}`
      : `message type changed from ${writer.name} to ${reader.name}`;
  }
  return undefined;
}

function fieldType(field: protobuf.FieldBase): FieldType {
  if (field instanceof protobuf.MapField) {
    return {
      kind: 'map',
      name: 'map',
      key: namedType(field.keyType, field),
      value: namedType(field.type, field),
      lengthDelimited: true,
    };
  }
  return namedType(field.type, field);
}

function namedType(typeName: string, field: protobuf.FieldBase): FieldType {
  const group = SCALAR_GROUP[typeName];
  if (group) return { kind: 'scalar', name: group, lengthDelimited: group === 'length-delimited' };
  let resolved: protobuf.ReflectionObject | null = null;
  try {
    resolved = field.parent?.lookupTypeOrEnum(typeName) ?? null;
  } catch {
    resolved = null;
  }
  if (resolved instanceof protobuf.Enum) return { kind: 'scalar', name: 'varint', lengthDelimited: false };
  const name = resolved ? resolved.fullName.replace(/^\./, '') : typeName.replace(/^\./, '');
  return { kind: 'message', name, lengthDelimited: true };
}
