import { createHash } from 'node:crypto';
import { CarrierError } from '@carrier/core';
import pg from 'pg';

/** Default schema of the outbox and inbox tables. */
export const DEFAULT_SCHEMA = 'carrier';
/** Default name of the outbox table. */
export const DEFAULT_OUTBOX_TABLE = 'outbox';
/** Default name of the inbox table. */
export const DEFAULT_INBOX_TABLE = 'inbox';

/** Suffix of the default dead-letter table name: `<outboxTable>_dead_letter`. */
export const DEAD_LETTER_SUFFIX = '_dead_letter';

/** What a valid schema or table name looks like: a lower-case, unquoted PostgreSQL identifier. */
export const IDENTIFIER = /^[a-z_][a-z0-9_]{0,62}$/;

/** Where the tables are: each name a PostgreSQL identifier matching {@link IDENTIFIER}. */
export interface TableNames {
  /** Schema of both tables. Default `carrier`. */
  schema?: string | undefined;
  /** Outbox table. Default `outbox`. */
  outboxTable?: string | undefined;
  /** Inbox table. Default `inbox`. */
  inboxTable?: string | undefined;
  /**
   * Dead-letter table of the outbox: rows the broker can never accept (see `OutboxRelay`).
   * Default `<outboxTable>_dead_letter`; when that is longer than 63 characters, the outbox
   * table's name cut to 42 characters, `_`, 8 hex digits of its SHA-256 and `_dead_letter` (long
   * names sharing a prefix still get different tables).
   */
  deadLetterTable?: string | undefined;
}

/** Validated names, raw and quoted (with pg's `escapeIdentifier`). */
export interface ResolvedNames {
  readonly schema: string;
  readonly outboxTable: string;
  readonly inboxTable: string;
  readonly deadLetterTable: string;
  /** `"schema"."outbox"`. */
  readonly outbox: string;
  /** `"schema"."inbox"`. */
  readonly inbox: string;
  /** `"schema"."outbox_dead_letter"`. */
  readonly deadLetter: string;
}

/**
 * `name` when it is a valid identifier (see {@link IDENTIFIER}).
 *
 * @throws CarrierError `INVALID_ARGUMENT` otherwise (`what` names the option).
 */
export function checkIdentifier(what: string, name: string): string {
  if (typeof name !== 'string' || !IDENTIFIER.test(name)) {
    throw new CarrierError(
      'INVALID_ARGUMENT',
      `${what} must be a PostgreSQL identifier of 1 to 63 characters (a-z, 0-9, _; not starting with a digit), not ${JSON.stringify(name)}`,
    );
  }
  return name;
}

/** The names of `options` with their defaults, validated and quoted. @throws CarrierError `INVALID_ARGUMENT` */
export function resolveNames(options: TableNames = {}): ResolvedNames {
  const schema = checkIdentifier('schema', options.schema ?? DEFAULT_SCHEMA);
  const outboxTable = checkIdentifier('outboxTable', options.outboxTable ?? DEFAULT_OUTBOX_TABLE);
  const inboxTable = checkIdentifier('inboxTable', options.inboxTable ?? DEFAULT_INBOX_TABLE);
  const deadLetterTable = checkIdentifier(
    'deadLetterTable',
    options.deadLetterTable ?? derivedName(outboxTable, DEAD_LETTER_SUFFIX),
  );
  const quotedSchema = pg.escapeIdentifier(schema);
  return {
    schema,
    outboxTable,
    inboxTable,
    deadLetterTable,
    outbox: `${quotedSchema}.${pg.escapeIdentifier(outboxTable)}`,
    inbox: `${quotedSchema}.${pg.escapeIdentifier(inboxTable)}`,
    deadLetter: `${quotedSchema}.${pg.escapeIdentifier(deadLetterTable)}`,
  };
}

/**
 * `<name><suffix>` when it fits in 63 characters; else the name cut short, `_`, the first 8 hex
 * digits of its SHA-256 and the suffix, so that long names sharing a prefix still differ.
 */
export function derivedName(name: string, suffix: string, max = 63): string {
  if (name.length + suffix.length <= max) return `${name}${suffix}`;
  const hash = createHash('sha256').update(name).digest('hex').slice(0, 8);
  return `${name.slice(0, max - suffix.length - hash.length - 1)}_${hash}${suffix}`;
}

/** Short stable digest of an outbox's qualified name (for channel and lock names). */
function digest(names: ResolvedNames): string {
  return createHash('sha256').update(`${names.schema}.${names.outboxTable}`).digest('hex').slice(0, 16);
}

/**
 * The LISTEN/NOTIFY channel of an outbox table: `carrier_outbox_` and a digest of its qualified
 * name (channel names are identifiers of at most 63 bytes, so not the names themselves).
 */
export function notifyChannel(names: ResolvedNames): string {
  return `carrier_outbox_${digest(names)}`;
}

/**
 * The text whose `hashtext` is the first key of the relay's session advisory locks on this
 * outbox (partition locks; the member locks use this text and `:members`).
 */
export function lockName(names: ResolvedNames): string {
  return `carrier-outbox:${digest(names)}`;
}
