import {
  type DescEnum,
  type DescField,
  type DescFile,
  type DescMessage,
  isFieldSet,
  ScalarType,
} from '@bufbuild/protobuf';
import { protoCamelCase } from '@bufbuild/protobuf/reflect';
import {
  Edition,
  FieldDescriptorProto_Label,
  FieldDescriptorProto_Type,
  FieldDescriptorProtoSchema,
  FieldOptionsSchema,
} from '@bufbuild/protobuf/wkt';
import { CarrierError } from '@carrier/core';

/**
 * `.proto` text from a file descriptor (as protoc-gen-es v2 embeds it in generated code), for
 * registering the schema: the registry wants the source, and generated code carries only the
 * descriptor. Rendered: `syntax` (proto2, proto3), `package`, imports (plain, `public`, `weak`),
 * messages with nested messages and enums, fields with their labels (`optional`, `required`,
 * `repeated`, proto3 `optional`), scalar, enum, message and `map<,>` types (type names fully
 * qualified, with a leading dot), `oneof`s, the field options `default`, `packed`, `json_name`
 * and `deprecated`, `reserved` numbers and names, `extensions` ranges, enums with
 * `allow_alias`. Not rendered (absent from the registered text, which changes neither the wire
 * format nor Confluent's compatibility rules): comments, file and message options, services,
 * extension fields (`extend`), custom options.
 *
 * @throws CarrierError `INVALID_ARGUMENT` for a file in Protobuf editions syntax or with proto2
 *   groups; register such a schema's source text with the codec's `source` option instead.
 */
export function renderProto(file: DescFile): string {
  if (file.edition !== Edition.EDITION_PROTO2 && file.edition !== Edition.EDITION_PROTO3) {
    throw new CarrierError(
      'INVALID_ARGUMENT',
      `${file.proto.name} uses Protobuf editions, which Carrier does not render; pass its .proto text as the codec's \`source\``,
    );
  }
  const proto2 = file.edition === Edition.EDITION_PROTO2;
  const out: string[] = [`syntax = "${proto2 ? 'proto2' : 'proto3'}";`];
  if (file.proto.package) out.push('', `package ${file.proto.package};`);
  if (file.proto.dependency.length > 0) {
    out.push('');
    file.proto.dependency.forEach((name, i) => {
      const kind = file.proto.publicDependency.includes(i)
        ? 'public '
        : file.proto.weakDependency.includes(i)
          ? 'weak '
          : '';
      out.push(`import ${kind}${quote(name)};`);
    });
  }
  for (const message of file.messages) out.push('', ...renderMessage(message, proto2));
  for (const e of file.enums) out.push('', ...renderEnum(e));
  return `${out.join('\n')}\n`;
}

function renderMessage(message: DescMessage, proto2: boolean): string[] {
  const body: string[] = [];
  for (const member of message.members) {
    if (member.kind === 'field') body.push(renderField(member, proto2, false));
    else {
      body.push(`oneof ${member.name} {`);
      for (const field of member.fields) body.push(indent(renderField(field, proto2, true)));
      body.push('}');
    }
  }
  const ranges = message.proto.reservedRange.map((r) => range(r.start, r.end - 1, 536_870_911));
  if (ranges.length > 0) body.push(`reserved ${ranges.join(', ')};`);
  if (message.proto.reservedName.length > 0)
    body.push(`reserved ${message.proto.reservedName.map(quote).join(', ')};`);
  const extensions = message.proto.extensionRange.map((r) => range(r.start, r.end - 1, 536_870_911));
  if (extensions.length > 0) body.push(`extensions ${extensions.join(', ')};`);
  for (const nested of message.nestedMessages) body.push('', ...renderMessage(nested, proto2));
  for (const nested of message.nestedEnums) body.push('', ...renderEnum(nested));
  return [`message ${message.name} {`, ...body.map(indent), '}'];
}

function renderField(field: DescField, proto2: boolean, inOneof: boolean): string {
  const proto = field.proto;
  if (proto.type === FieldDescriptorProto_Type.GROUP) {
    throw new CarrierError(
      'INVALID_ARGUMENT',
      `${field.parent.typeName}.${field.name} is a proto2 group, which Carrier does not render; pass the .proto text as the codec's \`source\``,
    );
  }
  let label = '';
  if (field.fieldKind === 'list') label = 'repeated ';
  else if (field.fieldKind !== 'map' && !inOneof) {
    if (proto.label === FieldDescriptorProto_Label.REQUIRED) label = 'required ';
    else if (proto2 || proto.proto3Optional) label = 'optional ';
  }
  const options: string[] = [];
  if (isFieldSet(proto, FieldDescriptorProtoSchema.field.defaultValue)) {
    options.push(`default = ${defaultValue(field)}`);
  }
  if (proto.options && isFieldSet(proto.options, FieldOptionsSchema.field.packed)) {
    options.push(`packed = ${proto.options.packed}`);
  }
  if (proto.options?.deprecated) options.push('deprecated = true');
  if (
    isFieldSet(proto, FieldDescriptorProtoSchema.field.jsonName) &&
    proto.jsonName !== protoCamelCase(proto.name)
  ) {
    options.push(`json_name = ${quote(proto.jsonName)}`);
  }
  const suffix = options.length > 0 ? ` [${options.join(', ')}]` : '';
  return `${label}${typeOf(field)} ${proto.name} = ${proto.number}${suffix};`;
}

function typeOf(field: DescField): string {
  switch (field.fieldKind) {
    case 'scalar':
      return scalarName(field.scalar);
    case 'enum':
      return `.${field.enum.typeName}`;
    case 'message':
      return `.${field.message.typeName}`;
    case 'list':
      if (field.listKind === 'scalar') return scalarName(field.scalar);
      return `.${field.listKind === 'enum' ? field.enum.typeName : field.message.typeName}`;
    case 'map': {
      const value =
        field.mapKind === 'scalar'
          ? scalarName(field.scalar)
          : `.${field.mapKind === 'enum' ? field.enum.typeName : field.message.typeName}`;
      return `map<${scalarName(field.mapKey)}, ${value}>`;
    }
  }
}

function scalarName(scalar: ScalarType): string {
  return ScalarType[scalar].toLowerCase();
}

function defaultValue(field: DescField): string {
  const raw = field.proto.defaultValue;
  switch (field.proto.type) {
    case FieldDescriptorProto_Type.STRING:
      return quote(raw);
    case FieldDescriptorProto_Type.BYTES:
      // descriptor.proto: "For bytes, contains the C escaped value": already escaped.
      return `"${raw}"`;
    default:
      // numbers (inf, -inf, nan included), bool, enum value names: as written.
      return raw;
  }
}

function renderEnum(e: DescEnum): string[] {
  const body: string[] = [];
  if (e.proto.options?.allowAlias) body.push('option allow_alias = true;');
  for (const value of e.values) body.push(`${value.name} = ${value.number};`);
  const ranges = e.proto.reservedRange.map((r) => range(r.start, r.end));
  if (ranges.length > 0) body.push(`reserved ${ranges.join(', ')};`);
  if (e.proto.reservedName.length > 0) body.push(`reserved ${e.proto.reservedName.map(quote).join(', ')};`);
  return [`enum ${e.name} {`, ...body.map(indent), '}'];
}

/** `a`, `a to b`, or `a to max` (inclusive bounds). */
function range(start: number, end: number, max?: number): string {
  if (start === end) return String(start);
  return `${start} to ${end === max ? 'max' : end}`;
}

function indent(line: string): string {
  return line === '' ? line : `  ${line}`;
}

/** A string literal of the .proto language (C escapes). */
function quote(text: string): string {
  let out = '"';
  for (const byte of new TextEncoder().encode(text)) {
    if (byte === 0x22) out += '\\"';
    else if (byte === 0x5c) out += '\\\\';
    else if (byte === 0x0a) out += '\\n';
    else if (byte === 0x0d) out += '\\r';
    else if (byte === 0x09) out += '\\t';
    else if (byte >= 0x20 && byte < 0x7f) out += String.fromCharCode(byte);
    else out += `\\${byte.toString(8).padStart(3, '0')}`;
  }
  return `${out}"`;
}
