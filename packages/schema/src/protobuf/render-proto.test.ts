import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { clone, create, createFileRegistry, type DescFile, fromBinary, toJson } from '@bufbuild/protobuf';
import { protoCamelCase } from '@bufbuild/protobuf/reflect';
import {
  type FileDescriptorProto,
  FileDescriptorProtoSchema,
  FileDescriptorSetSchema,
  file_google_protobuf_timestamp,
} from '@bufbuild/protobuf/wkt';
import { describe, expect, it } from 'vitest';
import { file_carrier_test_legacy } from '../test-fixtures/gen/v1/carrier/test/legacy_pb.js';
import { file_carrier_test_order as orderV1 } from '../test-fixtures/gen/v1/carrier/test/order_pb.js';
import { file_carrier_test_order as orderV2 } from '../test-fixtures/gen/v2/carrier/test/order_pb.js';
import { rejection } from '../test-support/registries.js';
import { renderProto } from './render-proto.js';

const buf = join(dirname(fileURLToPath(import.meta.url)), '../../../../node_modules/.bin/buf');

/** Compile `.proto` text with the buf CLI and return the descriptor it makes of it. */
function compileWithBuf(name: string, text: string): FileDescriptorProto {
  const dir = mkdtempSync(join(tmpdir(), 'carrier-render-'));
  try {
    mkdirSync(dirname(join(dir, 'src', name)), { recursive: true });
    writeFileSync(join(dir, 'src', name), text);
    execFileSync(buf, ['build', join(dir, 'src'), '-o', join(dir, 'image.binpb')], { stdio: 'pipe' });
    const set = fromBinary(FileDescriptorSetSchema, readFileSync(join(dir, 'image.binpb')));
    const file = set.file.find((f) => f.name === name);
    if (!file) throw new Error(`buf produced no ${name}`);
    return file;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** A descriptor without what the rendering leaves out or protoc fills in: file options, default json_names. */
function comparable(file: FileDescriptorProto): unknown {
  const copy = clone(FileDescriptorProtoSchema, file);
  copy.options = undefined;
  copy.sourceCodeInfo = undefined;
  const walk = (messages: FileDescriptorProto['messageType']) => {
    for (const m of messages) {
      for (const f of m.field) if (f.jsonName === protoCamelCase(f.name)) f.jsonName = '';
      walk(m.nestedType);
    }
  };
  walk(copy.messageType);
  return toJson(FileDescriptorProtoSchema, copy);
}

describe('renderProto', () => {
  it.each([
    ['proto3 with imports, nested types, maps, oneofs, proto3 optional, reserved', orderV1],
    ['the same file at v2', orderV2],
    ['proto2 with required, defaults, packed, json_name, enum aliases', file_carrier_test_legacy],
  ])(
    'renders %s into text that protoc (buf) compiles back to the same descriptor',
    (_name, file: DescFile) => {
      const text = renderProto(file);
      expect(comparable(compileWithBuf(file.proto.name, text))).toEqual(comparable(file.proto));
    },
  );

  it('renders the well-known Timestamp as its own file', () => {
    expect(renderProto(file_google_protobuf_timestamp)).toBe(
      [
        'syntax = "proto3";',
        '',
        'package google.protobuf;',
        '',
        'message Timestamp {',
        '  int64 seconds = 1;',
        '  int32 nanos = 2;',
        '}',
        '',
      ].join('\n'),
    );
  });

  it('writes type names fully qualified and imports as declared', () => {
    const text = renderProto(orderV2);
    expect(text).toContain('import "google/protobuf/timestamp.proto";');
    expect(text).toContain('  .google.protobuf.Timestamp placed_at = 4;');
    expect(text).toContain('  repeated .carrier.test.Order.Line lines = 5;');
    expect(text).toContain('  map<string, string> tags = 6;');
    expect(text).toContain('  optional string coupon = 7;');
    expect(text).toContain('  oneof payment {\n    string card = 8;\n    string voucher = 9;\n  }');
    expect(text).not.toContain('TagsEntry');
  });

  it('refuses a file in editions syntax with INVALID_ARGUMENT, pointing at the source option', async () => {
    const proto = create(FileDescriptorProtoSchema, {
      name: 'editions.proto',
      package: 'e',
      syntax: 'editions',
      edition: 1000, // EDITION_2023
      messageType: [{ name: 'M', field: [{ name: 'a', number: 1, type: 9, label: 1, jsonName: 'a' }] }],
    });
    const file = createFileRegistry(proto, () => undefined).getFile('editions.proto');
    if (!file) throw new Error('no file');
    const error = await rejection(() => renderProto(file));
    expect(error.code).toBe('INVALID_ARGUMENT');
    expect(error.message).toContain('source');
  });
});
