import { readFile } from 'node:fs/promises';
import { CarrierError } from '@carrier/core';
import pg from 'pg';
import { type ResolvedNames, resolveNames, type TableNames } from './names.js';

/** The migration file shipped with the package (`@carrier/outbox/sql/carrier-outbox.sql`). */
const SQL_FILE = new URL('../sql/carrier-outbox.sql', import.meta.url);

/** Key of the transaction-level advisory lock that serialises concurrent migrations. */
const MIGRATION_LOCK = 'carrier-outbox:migrate';

/** What `migrate` needs of a pool: a client to run one transaction on (`pg.Pool` has it). */
export interface MigrationPool {
  connect(): Promise<pg.PoolClient>;
}

/** Index names derived from a table name (kept well under 63 bytes, never equal to a table name). */
function indexName(table: string, suffix: string): string {
  return pg.escapeIdentifier(`${table.slice(0, 40)}_${suffix}`);
}

/**
 * The migration SQL (`sql/carrier-outbox.sql`) with its placeholders replaced by the validated,
 * quoted names of `options` (defaults: schema `carrier`, tables `outbox`, `inbox` and
 * `outbox_dead_letter`): for
 * applying it with your own migration tool instead of {@link migrate}.
 *
 * @throws CarrierError `INVALID_ARGUMENT` for a name that is not a valid identifier.
 */
export async function migrationSql(options: TableNames = {}): Promise<string> {
  return render(await readFile(SQL_FILE, 'utf8'), resolveNames(options));
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
 * @throws CarrierError `INVALID_ARGUMENT` for a name that is not a valid identifier;
 *   `CONNECTION` when PostgreSQL cannot be reached or refuses the migration (the cause is the
 *   pg error).
 */
export async function migrate(pool: MigrationPool, options: TableNames = {}): Promise<void> {
  const sql = await migrationSql(options);
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
    await client.query(sql);
    await client.query('COMMIT');
  } catch (error) {
    failed = error;
    await client.query('ROLLBACK').catch(() => {});
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
