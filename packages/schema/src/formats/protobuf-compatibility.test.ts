import { describe, expect, it } from 'vitest';
import { messageAt, parseProto, protobufFormat } from './protobuf.js';

function parse(body: string, pkg = 'shop') {
  const text = `syntax = "proto3";\n${pkg ? `package ${pkg};\n` : ''}${body}`;
  return parseProto({ definition: { schemaType: 'PROTOBUF', schema: text }, references: [] });
}

/** Problems of reading data written with `writer` by `reader` (the BACKWARD direction). */
function problems(writer: string, reader: string, writerPackage = 'shop', readerPackage = 'shop'): string[] {
  return protobufFormat.incompatibilities(parse(reader, readerPackage), parse(writer, writerPackage));
}

const ORDER =
  'message Order { string id = 1; int32 qty = 2; repeated string tags = 3; Line line = 4; }\nmessage Line { string sku = 1; }';

describe('Protobuf compatibility rules', () => {
  it('accepts adding and removing optional fields, and renaming a field', () => {
    expect(
      problems(ORDER, ORDER.replace('Line line = 4;', 'Line line = 4; optional string note = 5;')),
    ).toEqual([]);
    expect(problems(ORDER, ORDER.replace('int32 qty = 2; ', ''))).toEqual([]);
    expect(problems(ORDER, ORDER.replace('int32 qty = 2;', 'int32 quantity = 2;'))).toEqual([]);
  });

  it("refuses changing a field number's type to another wire group", () => {
    const changed = problems(ORDER, ORDER.replace('int32 qty = 2;', 'string qty = 2;'));
    expect(changed).toHaveLength(1);
    expect(changed[0]).toContain('Order field 2');
    expect(problems(ORDER, ORDER.replace('int32 qty = 2;', 'double qty = 2;'))).toHaveLength(1);
    expect(problems(ORDER, ORDER.replace('int32 qty = 2;', 'sint32 qty = 2;'))).toHaveLength(1);
  });

  it('accepts type changes within a wire group (int32/int64/uint/bool/enum, string/bytes, fixed32/sfixed32)', () => {
    expect(problems(ORDER, ORDER.replace('int32 qty = 2;', 'int64 qty = 2;'))).toEqual([]);
    expect(problems(ORDER, ORDER.replace('string id = 1;', 'bytes id = 1;'))).toEqual([]);
    const withEnum = `${ORDER.replace('int32 qty = 2;', 'Size qty = 2;')}\nenum Size { S = 0; M = 1; }`;
    expect(problems(ORDER, withEnum)).toEqual([]);
  });

  it('refuses changing a field between scalar, message and map kinds, or to another message', () => {
    expect(problems(ORDER, ORDER.replace('Line line = 4;', 'string line = 4;'))).toHaveLength(1);
    expect(problems(ORDER, ORDER.replace('Line line = 4;', 'map<string, string> line = 4;'))).toHaveLength(1);
    const other = `${ORDER.replace('Line line = 4;', 'Other line = 4;')}\nmessage Other { string sku = 1; }`;
    expect(problems(ORDER, other)[0]).toContain('message type changed from shop.Line to shop.Other');
  });

  it('refuses removing a message type, accepts adding one', () => {
    expect(
      problems(ORDER, 'message Order { string id = 1; int32 qty = 2; repeated string tags = 3; }'),
    ).toContain('message shop.Line removed');
    expect(problems(ORDER, `${ORDER}\nmessage Refund { string id = 1; }`)).toEqual([]);
  });

  it('refuses a package change', () => {
    expect(problems(ORDER, ORDER, 'shop', 'store')[0]).toContain('package changed');
  });

  it('refuses label changes of numeric fields between singular and repeated; accepts them for strings and messages', () => {
    expect(problems(ORDER, ORDER.replace('int32 qty = 2;', 'repeated int32 qty = 2;'))).toHaveLength(1);
    expect(problems(ORDER, ORDER.replace('repeated string tags = 3;', 'string tags = 3;'))).toEqual([]);
    expect(problems(ORDER, ORDER.replace('Line line = 4;', 'repeated Line line = 4;'))).toEqual([]);
  });

  it('refuses proto2 required fields added, removed or made required', () => {
    const v1 = 'syntax = "proto2";\npackage p;\nmessage M { required string id = 1; optional int32 n = 2; }';
    const parse2 = (text: string) =>
      parseProto({ definition: { schemaType: 'PROTOBUF', schema: text }, references: [] });
    const check = (reader: string) => protobufFormat.incompatibilities(parse2(reader), parse2(v1));
    expect(
      check(v1.replace('optional int32 n = 2;', 'optional int32 n = 2; required int32 k = 3;')),
    ).toHaveLength(1);
    expect(check(v1.replace('required string id = 1; ', ''))).toHaveLength(1);
    expect(check(v1.replace('optional int32 n', 'required int32 n'))).toHaveLength(1);
    expect(check(v1.replace('optional int32 n = 2;', 'optional int32 n = 2; optional int32 k = 3;'))).toEqual(
      [],
    );
  });

  it('refuses moving several existing fields into a new oneof; accepts wrapping one field', () => {
    const two = 'message Order { oneof pay { string card = 1; string voucher = 2; } }';
    const flat = 'message Order { string card = 1; string voucher = 2; }';
    expect(problems(flat, two)[0]).toContain('several existing fields');
    const one = 'message Order { oneof pay { string card = 1; } string voucher = 2; }';
    expect(problems(flat, one)).toEqual([]);
  });

  it('compares nested messages and map values', () => {
    const nested =
      'message Order { Line line = 1; message Line { string sku = 1; } map<string, int32> m = 2; }';
    expect(problems(nested, nested.replace('string sku = 1;', 'int32 sku = 1;'))[0]).toContain(
      'shop.Order.Line field 1',
    );
    expect(problems(nested, nested.replace('map<string, int32>', 'map<string, string>'))).toHaveLength(1);
  });

  it('finds the message at Confluent message indexes, counting messages only', () => {
    const parsed = parse(
      'enum E { A = 0; }\nmessage A { message B {} enum F { X = 0; } message C { message D {} } }\nmessage G {}',
    );
    expect(messageAt(parsed, [0])).toBe('shop.A');
    expect(messageAt(parsed, [1])).toBe('shop.G');
    expect(messageAt(parsed, [0, 1, 0])).toBe('shop.A.C.D');
    expect(messageAt(parsed, [2])).toBeUndefined();
    expect(messageAt(parse('message Top {}', ''), [0])).toBe('Top');
  });
});
