import { afterEach, describe, expect, it } from 'vitest';
import type { CompatibilityLevel, SchemaDefinition } from './registry.js';
import { avroOrder, ID, NOTE, NOTE_DEFAULT, QTY, QTY_DEFAULT } from './test-support/avro-schemas.js';
import { fresh, implementations, type RegistryUnderTest, rejection } from './test-support/registries.js';

/**
 * Each level against the same Avro evolutions. Direction: BACKWARD = the new schema reads the old
 * data, FORWARD = the old schema reads the new data (Confluent's definitions).
 */
const v1 = avroOrder([ID, QTY]);
const evolutions: Record<string, SchemaDefinition> = {
  /** both ways: old readers ignore `note`, new readers default it */
  addWithDefault: avroOrder([ID, QTY, NOTE_DEFAULT]),
  /** new readers cannot read v1 data (no `note`, no default); old readers ignore it */
  addWithoutDefault: avroOrder([ID, QTY, NOTE]),
  /** new readers ignore `qty`; old readers need it and have no default */
  removeWithoutDefault: avroOrder([ID]),
  /** neither: a string cannot be read as an int nor the reverse */
  changeType: avroOrder([ID, { name: 'qty', type: 'string' }]),
};

const expected: Record<CompatibilityLevel, Record<keyof typeof evolutions, boolean>> = {
  NONE: { addWithDefault: true, addWithoutDefault: true, removeWithoutDefault: true, changeType: true },
  BACKWARD: { addWithDefault: true, addWithoutDefault: false, removeWithoutDefault: true, changeType: false },
  BACKWARD_TRANSITIVE: {
    addWithDefault: true,
    addWithoutDefault: false,
    removeWithoutDefault: true,
    changeType: false,
  },
  FORWARD: { addWithDefault: true, addWithoutDefault: true, removeWithoutDefault: false, changeType: false },
  FORWARD_TRANSITIVE: {
    addWithDefault: true,
    addWithoutDefault: true,
    removeWithoutDefault: false,
    changeType: false,
  },
  FULL: { addWithDefault: true, addWithoutDefault: false, removeWithoutDefault: false, changeType: false },
  FULL_TRANSITIVE: {
    addWithDefault: true,
    addWithoutDefault: false,
    removeWithoutDefault: false,
    changeType: false,
  },
};

/** Histories where the latest version accepts v3 but an earlier one does not. */
const transitive: Record<'BACKWARD' | 'FORWARD' | 'FULL', SchemaDefinition[]> = {
  // v3 reads v2's data (it has note) but not v1's (no note, no default)
  BACKWARD: [avroOrder([ID]), avroOrder([ID, NOTE_DEFAULT]), avroOrder([ID, NOTE])],
  // v2 reads v3's data (qty defaults) but v1 cannot (qty has no default there)
  FORWARD: [avroOrder([ID, QTY]), avroOrder([ID, QTY_DEFAULT]), avroOrder([ID])],
  // v3 and v2 read each other's data; v1 cannot read v3's
  FULL: [avroOrder([ID, QTY]), avroOrder([ID, QTY_DEFAULT]), avroOrder([ID])],
};

describe.each(implementations)('$name: compatibility levels', ({ open }) => {
  let current: RegistryUnderTest | undefined;
  afterEach(async () => {
    await current?.close();
    current = undefined;
  });

  for (const [level, outcomes] of Object.entries(expected) as [
    CompatibilityLevel,
    Record<string, boolean>,
  ][]) {
    it(`${level}: accepts and refuses the evolutions the level defines`, async () => {
      current = await open();
      const r = current.registry;
      for (const [name, schema] of Object.entries(evolutions)) {
        const subject = fresh(name);
        await r.setCompatibility(level, subject);
        await r.register(subject, v1);
        if (outcomes[name]) {
          expect(await r.register(subject, schema), name).toBeGreaterThan(0);
          expect(await r.versions(subject), name).toEqual([1, 2]);
        } else {
          expect((await rejection(r.register(subject, schema))).code, name).toBe('SCHEMA_INCOMPATIBLE');
          expect(await r.versions(subject), name).toEqual([1]);
        }
      }
    });
  }

  for (const [base, history] of Object.entries(transitive)) {
    it(`${base} checks only the latest version, ${base}_TRANSITIVE every version`, async () => {
      current = await open();
      const r = current.registry;
      const [first, second, third] = history as [SchemaDefinition, SchemaDefinition, SchemaDefinition];
      const plain = fresh(base);
      await r.setCompatibility(base as CompatibilityLevel, plain);
      await r.register(plain, first);
      await r.register(plain, second);
      await r.register(plain, third);
      expect(await r.versions(plain)).toEqual([1, 2, 3]);

      const strict = fresh(`${base}-transitive`);
      await r.setCompatibility(`${base}_TRANSITIVE` as CompatibilityLevel, strict);
      await r.register(strict, first);
      await r.register(strict, second);
      const error = await rejection(r.register(strict, third));
      expect(error.code).toBe('SCHEMA_INCOMPATIBLE');
      expect(error.message).toContain('version 1');
      expect(await r.versions(strict)).toEqual([1, 2]);
    });
  }

  it('the global level applies to subjects without their own', async () => {
    current = await open({ compatibility: 'FORWARD' });
    const r = current.registry;
    const subject = fresh('s');
    await r.register(subject, v1);
    expect(
      (await rejection(r.register(subject, evolutions.removeWithoutDefault as SchemaDefinition))).code,
    ).toBe('SCHEMA_INCOMPATIBLE');
    await r.register(subject, evolutions.addWithoutDefault as SchemaDefinition);
  });

  it("refuses a schema of another type than the subject's under any level but NONE", async () => {
    current = await open();
    const r = current.registry;
    const subject = fresh('s');
    await r.register(subject, v1);
    const json = { schemaType: 'JSON' as const, schema: '{"type":"object"}' };
    expect((await rejection(r.register(subject, json))).code).toBe('SCHEMA_INCOMPATIBLE');
    await r.setCompatibility('NONE', subject);
    await r.register(subject, json);
  });
});
