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
    expect(long).toMatch(new RegExp(`^${'o'.repeat(42)}_[0-9a-f]{8}_dead_letter$`));
    expect(long).toHaveLength(63);
    expect(resolveNames({ outboxTable: 'o'.repeat(51) }).deadLetterTable).toBe(
      `${'o'.repeat(51)}_dead_letter`,
    );
  });

  it('give long outbox tables sharing a prefix different default dead-letter tables and indexes', async () => {
    const a = `${'p'.repeat(55)}_a`;
    const b = `${'p'.repeat(55)}_b`;
    expect(resolveNames({ outboxTable: a }).deadLetterTable).not.toBe(
      resolveNames({ outboxTable: b }).deadLetterTable,
    );
    const indexes = async (outboxTable: string, inboxTable: string) =>
      [
        ...(await migrationSql({ outboxTable, inboxTable })).matchAll(
          /CREATE INDEX IF NOT EXISTS ("[^"]+")/g,
        ),
      ].map((m) => m[1]);
    const [outboxA, inboxA] = await indexes(a, `${a}_in`);
    const [outboxB, inboxB] = await indexes(b, `${b}_in`);
    expect(outboxA).not.toBe(outboxB);
    expect(inboxA).not.toBe(inboxB);
    for (const name of [outboxA, inboxA, outboxB, inboxB]) expect(name!.length - 2).toBeLessThanOrEqual(63);
  });

  it.each([
    ['outbox and inbox', { outboxTable: 'events', inboxTable: 'events' }],
    ['outbox and dead-letter', { outboxTable: 'events', deadLetterTable: 'events' }],
    ['inbox and dead-letter', { inboxTable: 'outbox_dead_letter' }],
    ['schema pg_catalog', { schema: 'pg_catalog' }],
    ['schema information_schema', { schema: 'information_schema' }],
    ['a pg_ schema', { schema: 'pg_mine' }],
  ])(
    'refuse to migrate with the same name for %s or a schema of PostgreSQL (INVALID_ARGUMENT)',
    async (_, options) => {
      await expect(migrationSql(options)).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
    },
  );

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
