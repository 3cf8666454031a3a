import type avro from 'avsc';

/**
 * Copy the fields only the writer's schema has from the writer's reading of a record onto the
 * reader's (resolved) reading, so that a forwarder that knows an older schema keeps them. Record
 * fields are matched as Avro resolution matches them: by name or by a reader field's alias. The
 * walk follows records, arrays, maps and unwrapped unions (the branch each value is valid under);
 * a wrapped union (avsc wraps unions it cannot tell apart, e.g. two records) is not entered, so
 * writer-only fields inside one are not kept.
 */
export function keepWriterOnlyFields(
  readerValue: unknown,
  writerValue: unknown,
  readerType: avro.Type,
  writerType: avro.Type,
): void {
  if (!isObject(readerValue) || !isObject(writerValue)) return;
  const reader = branchOf(readerType, readerValue);
  const writer = branchOf(writerType, writerValue);
  if (!reader || !writer) return;
  if (reader.typeName === 'record' && writer.typeName === 'record') {
    mergeRecord(readerValue, writerValue, reader as avro.types.RecordType, writer as avro.types.RecordType);
  } else if (reader.typeName === 'array' && writer.typeName === 'array') {
    const items = (t: avro.Type) => (t as avro.types.ArrayType).itemsType;
    if (!Array.isArray(readerValue) || !Array.isArray(writerValue)) return;
    for (const [i, item] of readerValue.entries()) {
      keepWriterOnlyFields(item, writerValue[i], items(reader), items(writer));
    }
  } else if (reader.typeName === 'map' && writer.typeName === 'map') {
    const values = (t: avro.Type) => (t as avro.types.MapType).valuesType as avro.Type;
    for (const key of Object.keys(readerValue)) {
      keepWriterOnlyFields(readerValue[key], writerValue[key], values(reader), values(writer));
    }
  }
}

function mergeRecord(
  readerValue: Record<string, unknown>,
  writerValue: Record<string, unknown>,
  reader: avro.types.RecordType,
  writer: avro.types.RecordType,
): void {
  for (const field of writer.fields) {
    const match = reader.fields.find((f) => f.name === field.name || (f.aliases ?? []).includes(field.name));
    if (match) keepWriterOnlyFields(readerValue[match.name], writerValue[field.name], match.type, field.type);
    else if (!(field.name in readerValue)) readerValue[field.name] = writerValue[field.name];
  }
}

/** The type a value has under `type`: itself, or for an unwrapped union the branch it is valid under. */
function branchOf(type: avro.Type, value: unknown): avro.Type | undefined {
  if (type.typeName === 'union:wrapped') return undefined;
  if (type.typeName !== 'union:unwrapped') return type;
  return (type as avro.types.UnwrappedUnionType).types.find((t) => t.typeName !== 'null' && t.isValid(value));
}

function isObject(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === 'object';
}

/**
 * Whether the writer's schema has a record field the reader's lacks (matched as resolution matches
 * them: by name or a reader field's alias), anywhere in records, arrays, maps and union branches
 * (a union branch is matched by type name and, for named types, name). When it has none, the
 * reader's schema can carry everything the writer wrote, and a value read under the writer is best
 * written back with the reader's own schema: edits to the reader's own fields then survive too.
 */
export function writerHasFieldsNotIn(writerType: avro.Type, readerType: avro.Type): boolean {
  return hasFieldsNotIn(writerType, readerType, new Set());
}

function hasFieldsNotIn(writer: avro.Type, reader: avro.Type, seen: Set<string>): boolean {
  const key = `${writer.name ?? writer.typeName}|${reader.name ?? reader.typeName}`;
  if (seen.has(key)) return false; // a recursive type: already being compared
  if (writer.typeName === 'record' && reader.typeName === 'record') {
    seen.add(key);
    const r = reader as avro.types.RecordType;
    return (writer as avro.types.RecordType).fields.some((field) => {
      const match = r.fields.find((f) => f.name === field.name || (f.aliases ?? []).includes(field.name));
      return match === undefined || hasFieldsNotIn(field.type, match.type, seen);
    });
  }
  if (writer.typeName === 'array' && reader.typeName === 'array')
    return hasFieldsNotIn(
      (writer as avro.types.ArrayType).itemsType,
      (reader as avro.types.ArrayType).itemsType,
      seen,
    );
  if (writer.typeName === 'map' && reader.typeName === 'map')
    return hasFieldsNotIn(
      (writer as avro.types.MapType).valuesType as avro.Type,
      (reader as avro.types.MapType).valuesType as avro.Type,
      seen,
    );
  const branches = (t: avro.Type): avro.Type[] =>
    t.typeName.startsWith('union') ? [...(t as avro.types.UnwrappedUnionType).types] : [t];
  const readerBranches = branches(reader);
  return branches(writer).some((w) => {
    if (w.typeName !== 'record' && w.typeName !== 'array' && w.typeName !== 'map') return false;
    const match = readerBranches.find((r) => r.typeName === w.typeName && (r.name ?? '') === (w.name ?? ''));
    return match === undefined || hasFieldsNotIn(w, match, seen);
  });
}
