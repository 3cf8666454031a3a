import { afterEach, describe, expect, it } from 'vitest';
import { avroOrder, ID, NOTE, NOTE_DEFAULT, QTY } from './test-support/avro-schemas.js';
import { fresh, implementations, type RegistryUnderTest, rejection } from './test-support/registries.js';

describe.each(implementations)('$name: registry semantics', ({ open }) => {
  let current: RegistryUnderTest | undefined;
  afterEach(async () => {
    await current?.close();
    current = undefined;
  });
  const registry = async () => {
    current = await open();
    return current.registry;
  };

  it('gives the same schema the same global id in every subject, and versions per subject', async () => {
    const r = await registry();
    const [a, b] = [fresh('a'), fresh('b')];
    const v1 = avroOrder([ID]);
    const id = await r.register(a, v1);
    expect(await r.register(b, v1)).toBe(id);
    expect(await r.versions(a)).toEqual([1]);
    expect(await r.versions(b)).toEqual([1]);
    expect(await r.latest(b)).toMatchObject({ subject: b, id, version: 1, schemaType: 'AVRO' });
  });

  it('returns the existing id when a schema is registered again, adding no version', async () => {
    const r = await registry();
    const subject = fresh('orders-value');
    const id1 = await r.register(subject, avroOrder([ID]));
    const id2 = await r.register(subject, avroOrder([ID, NOTE_DEFAULT]));
    expect(id2).not.toBe(id1);
    expect(await r.register(subject, avroOrder([ID]))).toBe(id1);
    expect(await r.register(subject, avroOrder([ID], 2))).toBe(id1); // formatting aside
    expect(await r.versions(subject)).toEqual([1, 2]);
  });

  it('registers concurrent new versions one after the other, each checked against the previous', async () => {
    const r = await registry();
    const subject = fresh('s');
    await r.register(subject, avroOrder([ID]));
    const extra = (name: string) => ({ name, type: 'string', default: '' });
    const ids = await Promise.all(
      ['a', 'b', 'c', 'd'].map((n) => r.register(subject, avroOrder([ID, extra(n)]))),
    );
    expect(new Set(ids).size).toBe(4);
    expect(await r.versions(subject)).toEqual([1, 2, 3, 4, 5]);
  });

  it('serves schemas by id and versions by number or latest, undefined when absent', async () => {
    const r = await registry();
    const subject = fresh('s');
    const v1 = avroOrder([ID]);
    const v2 = avroOrder([ID, NOTE_DEFAULT]);
    const id1 = await r.register(subject, v1);
    const id2 = await r.register(subject, v2);
    expect(await r.schemaById(id1)).toEqual(v1);
    expect(await r.schemaById(id2)).toEqual(v2);
    expect(await r.schemaById(987_654)).toBeUndefined();
    expect(await r.version(subject, 1)).toEqual({ ...v1, subject, id: id1, version: 1 });
    expect(await r.latest(subject)).toEqual({ ...v2, subject, id: id2, version: 2 });
    expect(await r.version(subject, 3)).toBeUndefined();
    expect(await r.latest(fresh('unknown'))).toBeUndefined();
    expect(await r.version(fresh('unknown'), 1)).toBeUndefined();
    expect(await r.versions(fresh('unknown'))).toEqual([]);
  });

  it('looks a schema up under a subject, undefined when it is not registered there', async () => {
    const r = await registry();
    const subject = fresh('s');
    const v1 = avroOrder([ID]);
    const id = await r.register(subject, v1);
    expect(await r.lookup(subject, avroOrder([ID], 4))).toMatchObject({ subject, id, version: 1 });
    expect(await r.lookup(subject, avroOrder([ID, NOTE_DEFAULT]))).toBeUndefined();
    expect(await r.lookup(fresh('unknown'), v1)).toBeUndefined();
  });

  it('has BACKWARD as the global default; a subject level overrides the global one', async () => {
    const r = await registry();
    const subject = fresh('s');
    expect(await r.compatibility()).toBe('BACKWARD');
    expect(await r.compatibility(subject)).toBe('BACKWARD');
    await r.setCompatibility('FULL', subject);
    expect(await r.compatibility(subject)).toBe('FULL');
    await r.setCompatibility('NONE');
    expect(await r.compatibility()).toBe('NONE');
    expect(await r.compatibility(fresh('other'))).toBe('NONE');
    expect(await r.compatibility(subject)).toBe('FULL');
  });

  it('refuses an unknown level and a schema that does not parse with INVALID_ARGUMENT', async () => {
    const r = await registry();
    expect((await rejection(r.setCompatibility('SIDEWAYS' as never))).code).toBe('INVALID_ARGUMENT');
    const broken = { schemaType: 'AVRO' as const, schema: '{"type": "record", "name": "X"}' };
    expect((await rejection(r.register(fresh('s'), broken))).code).toBe('INVALID_ARGUMENT');
    const notJson = { schemaType: 'JSON' as const, schema: '{' };
    expect((await rejection(r.register(fresh('s'), notJson))).code).toBe('INVALID_ARGUMENT');
  });

  it('refuses an incompatible version with SCHEMA_INCOMPATIBLE and the reasons, storing nothing', async () => {
    const r = await registry();
    const subject = fresh('orders-value');
    await r.register(subject, avroOrder([ID, QTY]));
    const v2 = avroOrder([ID, QTY, NOTE]); // a new field without a default: v1 data cannot be read
    const error = await rejection(r.register(subject, v2));
    expect(error.code).toBe('SCHEMA_INCOMPATIBLE');
    expect(error.message).toContain(subject);
    expect(error.message).toContain('note');
    expect(await r.versions(subject)).toEqual([1]);
    expect(await r.lookup(subject, v2)).toBeUndefined();
    // the id the refused schema would have had is not used up either
    const next = await r.register(fresh('other'), v2);
    expect(await r.schemaById(next)).toEqual(v2);
  });

  it('tests compatibility without registering', async () => {
    const r = await registry();
    const subject = fresh('s');
    expect(await r.testCompatibility(subject, avroOrder([ID]))).toEqual({ compatible: true, messages: [] });
    await r.register(subject, avroOrder([ID]));
    const bad = await r.testCompatibility(subject, avroOrder([ID, NOTE]));
    expect(bad.compatible).toBe(false);
    expect(bad.messages.join(' ')).toContain('note');
    expect(await r.testCompatibility(subject, avroOrder([ID, NOTE_DEFAULT]), { version: 1 })).toEqual({
      compatible: true,
      messages: [],
    });
    expect(await r.versions(subject)).toEqual([1]);
    expect((await rejection(r.testCompatibility(subject, avroOrder([ID]), { version: 5 }))).code).toBe(
      'INVALID_ARGUMENT',
    );
  });

  it('keeps references and resolves Protobuf imports through them', async () => {
    const r = await registry();
    const common = fresh('common.proto');
    await r.register(common, {
      schemaType: 'PROTOBUF',
      schema: 'syntax = "proto3";\npackage shared;\nmessage Money { int64 cents = 1; }\n',
    });
    const subject = fresh('s');
    const references = [{ name: 'common.proto', subject: common, version: 1 }];
    const order = (type: string) => ({
      schemaType: 'PROTOBUF' as const,
      schema: `syntax = "proto3";\nimport "common.proto";\nmessage Order { ${type} total = 1; }\n`,
      references,
    });
    const id = await r.register(subject, order('shared.Money'));
    expect(await r.schemaById(id)).toEqual(order('shared.Money'));
    expect((await r.testCompatibility(subject, order('.shared.Money'))).compatible).toBe(true);
    expect((await r.testCompatibility(subject, order('string'))).compatible).toBe(false);
    const missing = {
      ...order('shared.Money'),
      references: [{ name: 'x.proto', subject: fresh('none'), version: 1 }],
    };
    expect((await rejection(r.register(subject, missing))).code).toBe('INVALID_ARGUMENT');
  });
});
