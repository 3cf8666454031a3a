import { CarrierError } from '@carrier/core';
import { escapeIdentifier } from 'pg';

/** Default schema of the inbox table: `carrier`. */
export const DEFAULT_INBOX_SCHEMA = 'carrier';
/** Default name of the inbox table: `inbox`. */
export const DEFAULT_INBOX_TABLE = 'inbox';

/** SQL identifiers Carrier accepts for its schema and table names (unquoted PostgreSQL style, at most 63 bytes). */
const IDENTIFIER = /^[a-z_][a-z0-9_]{0,62}$/;

/** Where the inbox table is: its schema and table names. */
export interface InboxTableOptions {
  /**
   * Schema of the inbox table: lower-case letters, digits and `_`, starting with a letter or `_`,
   * at most 63 characters. Default `carrier`.
   */
  schema?: string | undefined;
  /** Name of the inbox table, same grammar as `schema`. Default `inbox`. */
  table?: string | undefined;
}

/**
 * The schema-qualified, quoted name of the inbox table (e.g. `"carrier"."inbox"`).
 *
 * @throws CarrierError `INVALID_ARGUMENT` for a schema or table name outside the grammar.
 */
export function inboxTableName(options: InboxTableOptions): string {
  const schema = identifier('schema', options.schema ?? DEFAULT_INBOX_SCHEMA);
  const table = identifier('table', options.table ?? DEFAULT_INBOX_TABLE);
  return `${escapeIdentifier(schema)}.${escapeIdentifier(table)}`;
}

function identifier(what: string, value: unknown): string {
  if (typeof value !== 'string' || !IDENTIFIER.test(value)) {
    throw new CarrierError(
      'INVALID_ARGUMENT',
      `${what} must match ${IDENTIFIER.source} (lower-case letters, digits, _; at most 63), got ${describe(value)}`,
    );
  }
  return value;
}

/**
 * Checks an inbox group: a non-empty string of at most 1 024 characters without NUL (PostgreSQL
 * text cannot hold NUL).
 *
 * @throws CarrierError `INVALID_ARGUMENT` otherwise.
 */
export function inboxGroup(value: unknown): string {
  if (typeof value !== 'string' || value.length === 0 || value.length > 1024 || value.includes('\0')) {
    throw new CarrierError(
      'INVALID_ARGUMENT',
      `group must be a non-empty string of at most 1024 characters without NUL, got ${describe(value)}`,
    );
  }
  return value;
}

function describe(value: unknown): string {
  return typeof value === 'string' ? JSON.stringify(value.slice(0, 80)) : typeof value;
}
