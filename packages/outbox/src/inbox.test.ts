import { CarrierError } from '@carrier/core';
import pg from 'pg';
import { afterAll, describe, expect, it } from 'vitest';
import { withInbox } from './inbox.js';
import { inboxTableName } from './inbox-table.js';
import { pruneInbox } from './prune.js';

// Argument checks, before anything reaches PostgreSQL: the pool below points at a closed port,
// so a call that got past its checks would fail with a connection error, not INVALID_ARGUMENT.
// The behaviour against a real server is in integration-tests/specs/inbox*.spec.ts.
const pool = new pg.Pool({
  connectionString: 'postgres://nobody@127.0.0.1:1/none',
  connectionTimeoutMillis: 1,
});
afterAll(() => pool.end());

const invalid = (f: () => unknown) => {
  try {
    f();
  } catch (e) {
    expect(e).toBeInstanceOf(CarrierError);
    return (e as CarrierError).code;
  }
  throw new Error('did not throw');
};

describe('inbox names', () => {
  it('default to "carrier"."inbox" and are quoted', () => {
    expect(inboxTableName({})).toBe('"carrier"."inbox"');
    expect(inboxTableName({ schema: 'app_1', table: '_seen' })).toBe('"app_1"."_seen"');
  });

  it.each([
    ['upper case', 'Inbox'],
    ['a leading digit', '1inbox'],
    ['a quote', 'inbox"; drop table x; --'],
    ['a dot', 'a.b'],
    ['64 characters', 'a'.repeat(64)],
    ['empty', ''],
  ])('refuses a table or schema name with %s (INVALID_ARGUMENT)', (_, name) => {
    expect(invalid(() => inboxTableName({ table: name }))).toBe('INVALID_ARGUMENT');
    expect(invalid(() => inboxTableName({ schema: name }))).toBe('INVALID_ARGUMENT');
  });

  it('accept 63 characters', () => {
    expect(inboxTableName({ table: 'a'.repeat(63) })).toBe(`"carrier"."${'a'.repeat(63)}"`);
  });
});

describe('withInbox', () => {
  it.each([
    ['missing', undefined],
    ['empty', ''],
    ['with NUL', 'a\0b'],
    ['longer than 1024', 'g'.repeat(1025)],
  ])('refuses a group %s at once (INVALID_ARGUMENT)', (_, group) => {
    expect(invalid(() => withInbox(pool, { group: group as string }, () => {}))).toBe('INVALID_ARGUMENT');
  });

  it('refuses a bad table name or a handler that is not a function at once (INVALID_ARGUMENT)', () => {
    expect(invalid(() => withInbox(pool, { group: 'g', table: 'In box' }, () => {}))).toBe(
      'INVALID_ARGUMENT',
    );
    expect(invalid(() => withInbox(pool, { group: 'g' }, 'nope' as never))).toBe('INVALID_ARGUMENT');
  });
});

describe('pruneInbox', () => {
  it.each([
    ['olderThanMs 0', { olderThanMs: 0 }],
    ['olderThanMs negative', { olderThanMs: -1 }],
    ['olderThanMs fractional', { olderThanMs: 1.5 }],
    ['olderThanMs NaN', { olderThanMs: Number.NaN }],
    ['olderThanMs Infinity', { olderThanMs: Number.POSITIVE_INFINITY }],
    ['olderThanMs beyond 100 years', { olderThanMs: 101 * 365 * 24 * 3_600_000 }],
    ['no options', undefined],
    ['batchSize 0', { olderThanMs: 1000, batchSize: 0 }],
    ['an empty group', { olderThanMs: 1000, group: '' }],
    ['a bad schema', { olderThanMs: 1000, schema: 'x-y' }],
  ])('refuses %s before touching the database (INVALID_ARGUMENT)', async (_, options) => {
    const error = await pruneInbox(pool, options as never).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(CarrierError);
    expect((error as CarrierError).code).toBe('INVALID_ARGUMENT');
  });
});
