import { readFile } from 'node:fs/promises';
import { CarrierError } from '@carrier/core';
import pg from 'pg';
import { derivedName, type ResolvedNames, resolveNames, type TableNames } from './names.js';

/** The migration file shipped with the package (`@carrier/outbox/sql/carrier-outbox.sql`). */
const SQL_FILE = new URL('../sql/carrier-outbox.sql', import.meta.url);

/** Key of the transaction-level advisory lock that serialises concurrent migrations. */
const MIGRATION_LOCK = 'carrier-outbox:migrate';

/** What `migrate` needs of a pool: a client to run one transaction on (`pg.Pool` has it). */
export interface MigrationPool {
  connect(): Promise<pg.PoolClient>;
}

/**
 * Index names derived from a table name: `<table>_<suffix>`, or, when that is too long, the table
 * name cut short with a hash of the whole name (long names sharing a prefix get different indexes).
 */
function indexName(table: string, suffix: string): string {
  return pg.escapeIdentifier(derivedName(table, `_${suffix}`));
}

/** Columns each table must have (an existing table of that name with another shape is refused). */
const EXPECTED_COLUMNS = {
  outbox: [
    'seq',
    'xid',
    'topic',
    'message_id',
    'key',
    'headers',
    'metadata',
    'content_type',
    'body',
    'published_at',
    'partition',
  ],
  deadLetter: [
    'seq',
    'xid',
    'topic',
    'message_id',
    'key',
    'headers',
    'metadata',
    'content_type',
    'body',
    'published_at',
    'error_code',
    'reason',
    'dead_lettered_at',
  ],
  inbox: ['consumer_group', 'message_id', 'handled_at'],
} as const;

/** Schemas the tables may not go in: PostgreSQL's own (`pg_catalog`, `pg_toast`, any `pg_*`) and `information_schema`. */
function checkMigrationNames(names: ResolvedNames): void {
  if (names.schema.startsWith('pg_') || names.schema === 'information_schema') {
    throw new CarrierError(
      'INVALID_ARGUMENT',
      `outbox migrate: schema ${names.schema} is PostgreSQL's own (pg_*, information_schema); choose another`,
    );
  }
  const tables = [names.outboxTable, names.inboxTable, names.deadLetterTable];
  if (new Set(tables).size !== tables.length) {
    throw new CarrierError(
      'INVALID_ARGUMENT',
      `outbox migrate: the outbox, inbox and dead-letter tables need three different names, not ${tables.join(', ')}`,
    );
  }
}

/** @throws CarrierError `TOPOLOGY_CONFLICT` when an existing table lacks expected columns. */
async function checkShape(client: pg.PoolClient, names: ResolvedNames): Promise<void> {
  const problems = await missingColumns(client, names);
  if (problems.length > 0) {
    throw new CarrierError(
      'TOPOLOGY_CONFLICT',
      `outbox migrate: existing tables lack columns the outbox needs (another table of that name? choose other names): ${problems.join('; ')}`,
    );
  }
}

/** The expected columns missing from each existing table, e.g. `"carrier"."inbox": handled_at`. */
async function missingColumns(client: pg.PoolClient, names: ResolvedNames): Promise<string[]> {
  const problems: string[] = [];
  for (const [table, expected] of [
    [names.outbox, EXPECTED_COLUMNS.outbox],
    [names.deadLetter, EXPECTED_COLUMNS.deadLetter],
    [names.inbox, EXPECTED_COLUMNS.inbox],
  ] as const) {
    const { rows } = await client.query<{ columns: string[] | null }>(
      `SELECT (SELECT array_agg(attname::text) FROM pg_attribute
          WHERE attrelid = to_regclass($1) AND attnum > 0 AND NOT attisdropped) AS columns
        WHERE to_regclass($1) IS NOT NULL`,
      [table],
    );
    if (rows.length === 0) continue; // not created yet
    const present = new Set(rows[0]!.columns ?? []);
    const missing = expected.filter((column) => !present.has(column));
    if (missing.length > 0) problems.push(`${table}: ${missing.join(', ')}`);
  }
  return problems;
}

/**
 * The migration SQL (`sql/carrier-outbox.sql`) with its placeholders replaced by the validated,
 * quoted names of `options` (defaults: schema `carrier`, tables `outbox`, `inbox` and
 * `outbox_dead_letter`): for
 * applying it with your own migration tool instead of {@link migrate}.
 *
 * @throws CarrierError `INVALID_ARGUMENT` for a name that is not a valid identifier, a schema of
 *   PostgreSQL's own (`pg_*`, `information_schema`), or two tables of the same name.
 */
export async function migrationSql(options: TableNames = {}): Promise<string> {
  const names = resolveNames(options);
  checkMigrationNames(names);
  return render(await readFile(SQL_FILE, 'utf8'), names);
}

function render(template: string, names: ResolvedNames): string {
  const values: Record<string, string> = {
    schema: pg.escapeIdentifier(names.schema),
    outbox: pg.escapeIdentifier(names.outboxTable),
    inbox: pg.escapeIdentifier(names.inboxTable),
    dead_letter: pg.escapeIdentifier(names.deadLetterTable),
    outbox_partition_index: indexName(names.outboxTable, 'partition_seq_idx'),
    inbox_handled_at_index: indexName(names.inboxTable, 'handled_at_idx'),
  };
  return template.replace(/\{\{(\w+)\}\}/g, (_, name: string) => {
    const value = values[name];
    if (value === undefined) throw new Error(`carrier-outbox.sql: unknown placeholder {{${name}}}`);
    return value;
  });
}

/**
 * Create the outbox, outbox dead-letter and inbox tables (and their schema) when they do not exist: runs the
 * migration SQL in one transaction holding a transaction-level advisory lock
 * (`pg_advisory_xact_lock`), so several processes may call it at once and each returns once the
 * tables exist. Idempotent; changes nothing when the tables are there.
 *
 * @param pool a `pg.Pool` (or anything with `connect()` giving a pool client).
 * After creating what is missing, checks that the three tables have the columns the outbox
 * needs: `CREATE TABLE IF NOT EXISTS` keeps an existing table of that name as it is.
 *
 * @throws CarrierError `INVALID_ARGUMENT` for a name that is not a valid identifier, a schema of
 *   PostgreSQL's own (`pg_*`, `information_schema`), or two tables of the same name;
 *   `TOPOLOGY_CONFLICT` when an existing table of one of the names lacks expected columns (the
 *   message names the table and the missing columns; nothing is changed);
 *   `CONNECTION` when PostgreSQL cannot be reached or refuses the migration (the cause is the
 *   pg error).
 */
export async function migrate(pool: MigrationPool, options: TableNames = {}): Promise<void> {
  const names = resolveNames(options);
  checkMigrationNames(names);
  const sql = render(await readFile(SQL_FILE, 'utf8'), names);
  let client: pg.PoolClient;
  try {
    client = await pool.connect();
  } catch (error) {
    throw new CarrierError('CONNECTION', `outbox migrate: cannot connect to PostgreSQL: ${message(error)}`, {
      cause: error,
    });
  }
  let failed: unknown;
  try {
    await client.query('BEGIN');
    await client.query('SELECT pg_advisory_xact_lock(hashtext($1))', [MIGRATION_LOCK]);
    // before (an index on a missing column would fail with a less clear error) and after
    await checkShape(client, names);
    await client.query(sql);
    await checkShape(client, names);
    await client.query('COMMIT');
  } catch (error) {
    failed = error;
    await client.query('ROLLBACK').catch(() => {});
    if (error instanceof CarrierError) {
      failed = undefined;
      throw error;
    }
    throw new CarrierError('CONNECTION', `outbox migrate: the migration failed: ${message(error)}`, {
      cause: error,
    });
  } finally {
    client.release(failed instanceof Error ? failed : undefined);
  }
}

function message(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
