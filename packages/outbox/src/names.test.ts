import { CarrierError } from '@carrier/core';
import { describe, expect, it } from 'vitest';
import { migrationSql } from './migrate.js';
import { lockName, notifyChannel, resolveNames } from './names.js';

describe('table names', () => {
  it('default to schema carrier with tables outbox and inbox, quoted', () => {
    const names = resolveNames();
    expect(names.outbox).toBe('"carrier"."outbox"');
    expect(names.inbox).toBe('"carrier"."inbox"');
    expect(names.deadLetter).toBe('"carrier"."outbox_dead_letter"');
  });

  it('name the dead-letter table after the outbox table unless given, within 63 characters', () => {
    expect(resolveNames({ outboxTable: 'orders_outbox' }).deadLetterTable).toBe('orders_outbox_dead_letter');
    expect(resolveNames({ deadLetterTable: 'rejected' }).deadLetter).toBe('"carrier"."rejected"');
    const long = resolveNames({ outboxTable: 'o'.repeat(63) }).deadLetterTable;
    expect(long).toBe(`${'o'.repeat(51)}_dead_letter`);
    expect(long).toHaveLength(63);
  });

  it.each(['Outbox', '1table', 'a-b', 'x'.repeat(64), '', 'a"b', 'a b', 'é'])(
    'refuse %j with INVALID_ARGUMENT',
    (name) => {
      for (const option of ['schema', 'outboxTable', 'inboxTable', 'deadLetterTable'] as const) {
        const error = (() => {
          try {
            resolveNames({ [option]: name });
          } catch (e) {
            return e;
          }
        })();
        expect(error).toBeInstanceOf(CarrierError);
        expect((error as CarrierError).code).toBe('INVALID_ARGUMENT');
        expect((error as CarrierError).message).toContain(option);
      }
    },
  );

  it('accept 63-character identifiers with digits and underscores', () => {
    const name = `_${'a1'.repeat(31)}`;
    expect(resolveNames({ schema: name }).schema).toBe(name);
  });

  it('give each outbox its own channel and lock name, within 63 bytes', () => {
    const a = resolveNames({ schema: 's1' });
    const b = resolveNames({ schema: 's1', outboxTable: 'other' });
    expect(notifyChannel(a)).not.toBe(notifyChannel(b));
    expect(lockName(a)).not.toBe(lockName(b));
    expect(
      notifyChannel(resolveNames({ schema: 'x'.repeat(63), outboxTable: 'y'.repeat(63) })).length,
    ).toBeLessThan(64);
  });
});

describe('migration SQL', () => {
  it('has every placeholder replaced by the quoted names', async () => {
    const sql = await migrationSql({ schema: 'shop', outboxTable: 'events', inboxTable: 'handled' });
    expect(sql).not.toMatch(/\{\{/);
    expect(sql).toContain('CREATE TABLE IF NOT EXISTS "shop"."events"');
    expect(sql).toContain('CREATE TABLE IF NOT EXISTS "shop"."handled"');
    expect(sql).toContain('"events_partition_seq_idx"');
  });

  it('keeps index names distinct from 63-character table names', async () => {
    const table = 't'.repeat(63);
    const sql = await migrationSql({ outboxTable: table });
    const index = /CREATE INDEX IF NOT EXISTS "([^"]+)" ON "carrier"\."t+"/.exec(sql)?.[1];
    expect(index).toBeDefined();
    expect(index).not.toBe(table);
    expect(index!.length).toBeLessThan(64);
  });
});
